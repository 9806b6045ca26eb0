"""All dialogs, registered on one router (the order is the order of the help card)."""

from __future__ import annotations

from collections.abc import Sequence

from dialogs import help as help_feature
from dialogs import networks, participation, polls, sessions, stewardship
from dialogs.i18n import Catalogs
from dialogs.router import Router
from dialogs.services import Services
from domain.clock import Clock
from domain.stewardship import Watch


def build_router(
    catalogs: Catalogs,
    clock: Clock,
    services: Services,
    watch: Watch | None = None,
    admins: Sequence[str] = (),
) -> Router:
    router = Router(catalogs, clock, services)
    help_feature.register(router)
    networks.register(router)
    sessions.register(router)
    participation.register(router)
    polls.register(router)
    stewardship.register(router, watch, admins)
    return router
