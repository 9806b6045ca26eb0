"""All dialogs, registered on one router (the order is the order of the help card)."""

from __future__ import annotations

from dialogs import help as help_feature
from dialogs import networks, participation, polls, sessions
from dialogs.i18n import Catalogs
from dialogs.router import Router
from dialogs.services import Services
from domain.clock import Clock


def build_router(catalogs: Catalogs, clock: Clock, services: Services) -> Router:
    router = Router(catalogs, clock, services)
    help_feature.register(router)
    networks.register(router)
    sessions.register(router)
    participation.register(router)
    polls.register(router)
    return router
