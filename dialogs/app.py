"""All dialogs, registered on one router (the order is the order of the help card)."""

from __future__ import annotations

from collections.abc import Sequence

from dialogs import help as help_feature
from dialogs import networks, participation, polls, sessions, stewardship
from dialogs import privacy as privacy_feature
from dialogs.i18n import Catalogs
from dialogs.privacy import MyDataLinks
from dialogs.router import Router
from dialogs.services import Services
from domain.clock import Clock
from domain.privacy import Privacy
from domain.stewardship import Watch


def build_router(
    catalogs: Catalogs,
    clock: Clock,
    services: Services,
    watch: Watch | None = None,
    admins: Sequence[str] = (),
    privacy: Privacy | None = None,
    privacy_links: MyDataLinks | None = None,
    privacy_contact: str = "",
) -> Router:
    router = Router(catalogs, clock, services)
    help_feature.register(router)
    networks.register(router)
    sessions.register(router)
    participation.register(router)
    polls.register(router)
    stewardship.register(router, watch, admins)
    privacy_feature.register(
        router,
        privacy,
        privacy_links,
        contact=privacy_contact,
        timezone=getattr(services, "timezone", "Europe/Helsinki"),
    )
    return router
