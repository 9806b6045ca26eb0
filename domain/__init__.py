"""Tapaamo's rules and use cases, with no framework in the way.

Nothing here imports bot/, dialogs/, storage/, scheduling/, botbuilder, sqlalchemy or aiohttp;
the world is reached through the Protocols in :mod:`domain.ports`.
"""
