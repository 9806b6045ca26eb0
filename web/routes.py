"""Public web routes: calendar files of sessions and networks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from domain.clock import Clock
from domain.networks import NetworkStatus
from domain.ports import NetworkStore, SessionStore
from web.ical import calendar

ICS = "text/calendar"


@dataclass(frozen=True, slots=True)
class WebDeps:
    networks: NetworkStore
    sessions: SessionStore
    clock: Clock
    public_url: str


def add_routes(app: web.Application, deps: Callable[[web.Request], WebDeps]) -> None:
    """Add the public routes; ``deps`` finds the stores of the running app (they open on start)."""

    async def session_ics(request: web.Request) -> web.Response:
        try:
            session_id = int(request.match_info["session_id"])
        except ValueError as error:
            raise web.HTTPNotFound() from error
        d = deps(request)
        session = await d.sessions.get(session_id)
        network = await d.networks.get(session.network_id) if session else None
        if session is None or network is None:
            raise web.HTTPNotFound()
        body = calendar(network, [session], d.public_url, d.clock.now())
        return web.Response(
            body=body,
            content_type=ICS,
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{network.slug}-{session.id}.ics"'},
        )

    async def network_ics(request: web.Request) -> web.Response:
        d = deps(request)
        slug = request.match_info["slug"]
        found = [n for n in await d.networks.all() if n.slug == slug and n.status != NetworkStatus.ENDED]
        if not found:
            raise web.HTTPNotFound()
        network = found[0]
        now = d.clock.now()
        upcoming = await d.sessions.for_network(
            network.id, start=now - timedelta(days=30), end=now + timedelta(days=400)
        )
        return web.Response(
            body=calendar(network, upcoming, d.public_url, now), content_type=ICS, charset="utf-8"
        )

    app.router.add_get("/ics/session/{session_id}.ics", session_ics)
    app.router.add_get("/ics/network/{slug}.ics", network_ics)
