"""Errors a user can cause. The edge turns each into a localised reply."""

from __future__ import annotations


class UserError(Exception):
    """An error caused by what the user asked; ``message_id`` is a catalog msgid."""

    message_id: str = "Something in that request was not right."

    def __init__(self, **params: object) -> None:
        super().__init__(self.message_id)
        self.params = params


class UnknownCommand(UserError):
    message_id = "I don't know the command \u201c{command}\u201d."


class BadPayload(UserError):
    message_id = "That button's data was not valid. Please use the latest card."
