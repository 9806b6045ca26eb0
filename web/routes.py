"""Public web routes: calendar files of sessions and networks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from domain.clock import Clock
from domain.networks import NetworkStatus
from domain.participation import Ledger
from domain.ports import AuditLog, NetworkStore, SessionStore
from web.exports import tables, to_csv, to_xlsx
from web.ical import calendar
from web.signing import BadLink, verify

ICS = "text/calendar"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True, slots=True)
class WebDeps:
    networks: NetworkStore
    sessions: SessionStore
    clock: Clock
    public_url: str
    ledger: Ledger
    audit: AuditLog
    signing_key: bytes


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

    async def export(request: web.Request) -> web.Response:
        d = deps(request)
        try:
            claims = verify(d.signing_key, request.match_info["token"], d.clock.now())
        except BadLink as error:
            raise web.HTTPForbidden(text=f"This link is not valid: {error}.") from error
        if claims.get("kind") != "export":
            raise web.HTTPForbidden(text="This link is not valid here.")
        network = await d.networks.get(int(claims["network"]))
        if network is None:
            raise web.HTTPNotFound()
        start = datetime.fromtimestamp(int(claims["from"]), UTC)
        end = datetime.fromtimestamp(int(claims["to"]), UTC)
        figures = await d.ledger.network_figures(network, start, end)
        personal = network.is_coordinator(str(claims.get("by", "")))
        rows = await d.ledger.store.for_network(network.id) if personal else []
        data = tables(network, figures, rows, personal)
        fmt = claims.get("fmt", "csv")
        await d.audit.record(
            actor_id=str(claims.get("by", "")),
            action="network.export.download",
            subject=f"network:{network.id}",
            details={"format": fmt, "personal": personal},
            at=d.clock.now(),
        )
        filename = f"{network.slug}-participation.{fmt}"
        disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
        if fmt == "xlsx":
            return web.Response(body=to_xlsx(data), content_type=XLSX, headers=disposition)
        return web.Response(body=to_csv(data), content_type="text/csv", charset="utf-8", headers=disposition)

    app.router.add_get("/export/{token}", export)
    app.router.add_get("/ics/session/{session_id}.ics", session_ics)
    app.router.add_get("/ics/network/{slug}.ics", network_ics)
