"""Small things every feature's dialogs share."""

from __future__ import annotations

from dialogs.i18n import N_
from dialogs.router import Context
from dialogs.services import Services
from dialogs.turn import Turn
from domain.errors import UserError
from domain.sessions import Person


class MissingParts(UserError):
    message_id = N_("Something is missing. Use: {usage}")


def person(turn: Turn) -> Person:
    return Person(turn.user.id, turn.user.name, turn.user.aad_id)


def services(ctx: Context) -> Services:
    result: Services = ctx.services
    return result
