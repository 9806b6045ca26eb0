"""Public web routes: the networks' pages, calendar files, coordinator reports and downloads.

    GET /                            active networks: cadence, language, next session
    GET /n/{slug}                    one network: what it does, how to join, next sessions, calendar
    GET /privacy, /terms             the privacy notice and the terms of use
    GET /ics/session/{id}.ics        one session, for "Add to calendar"
    GET /ics/network/{slug}.ics      a network's calendar feed to subscribe to
    GET /report/{token}              the coordinator report (signed link, kind "report")
    GET /report/{token}/chart.png    its participation chart as a PNG (the report card shows it)
    GET /export/{token}              CSV or XLSX (signed link, kind "export")
    GET /static/...                  the pages' stylesheet

Pages speak fi, sv or en: ``?lang=``, else Accept-Language, else the network's language (fi on
pages of no network).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from dialogs.i18n import Catalogs, Translator
from dialogs.turn import LANGS, Lang
from domain.clock import Clock
from domain.networks import Network, NetworkStatus
from domain.participation import Ledger
from domain.polls import Feedback, QuestionResult
from domain.ports import AuditLog, NetworkStore, SessionStore
from domain.reports import held_figures, public_counts, question_results
from domain.sessions import Series, Session
from web import pages
from web.exports import tables, to_csv, to_xlsx
from web.ical import calendar
from web.signing import BadLink, sign, verify

ICS = "text/calendar"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTML = "text/html"
UPCOMING = 10  # sessions listed on a network's page
FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=400)

# Every page: nothing from elsewhere, no framing, no scripts at all.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# Pages behind a signed link: the token is in the address, so it must not leak or be kept.
PRIVATE_HEADERS = {
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


@dataclass(frozen=True, slots=True)
class WebDeps:
    networks: NetworkStore
    sessions: SessionStore
    clock: Clock
    public_url: str
    ledger: Ledger
    audit: AuditLog
    signing_key: bytes
    feedback: Feedback | None = None  # the report's feedback section (left out without it)
    catalogs: Catalogs | None = None  # read from dialogs/locales when not given
    strong_share: float = 0.5
    recent_sessions: int = 10
    # The bot's privacy notice card of a language (dialogs.privacy.privacy_card with the
    # settings' retention): /privacy shows the same words as the chat command. Without it,
    # a short built-in notice.
    privacy_notice: Callable[[Translator], dict[str, Any]] | None = None


def claims_of(deps: WebDeps, token: str, kind: str) -> dict[str, Any] | None:
    """The payload of a signed link of ``kind``; None if unsigned, tampered with, expired or other."""
    try:
        claims = verify(deps.signing_key, token, deps.clock.now())
    except BadLink:
        return None
    if claims.get("kind") != kind or not isinstance(claims.get("network"), int):
        return None
    return claims


async def session_changes(audit: AuditLog, network_id: int) -> dict[int, int]:
    """How many times each session of a network was moved: the SEQUENCE of its calendar event."""
    moves: Counter[int] = Counter()
    for entry in await audit.entries(f"network:{network_id}"):
        details = entry.get("details")
        if entry.get("action") == "session.move" and isinstance(details, dict):
            try:
                moves[int(details["session"])] += 1
            except (KeyError, TypeError, ValueError):
                continue
    return dict(moves)


def add_routes(app: web.Application, deps: Callable[[web.Request], WebDeps]) -> None:
    """Add the public routes; ``deps`` finds the stores of the running app (they open on start)."""
    read_catalogs: list[Catalogs] = []  # read once, on first use, when WebDeps brings none

    def catalogs(d: WebDeps) -> Catalogs:
        if d.catalogs is not None:
            return d.catalogs
        if not read_catalogs:
            read_catalogs.append(Catalogs())
        return read_catalogs[0]

    def site(
        request: web.Request, d: WebDeps, default: Lang, path: str, asked: str | None = None
    ) -> pages.Site:
        """``asked``: the language a signed link was made in, taken as if it were ?lang=."""
        lang, explicit = pages.negotiate(
            request.query.get("lang") or asked, request.headers.get("Accept-Language", ""), default
        )
        return pages.Site(catalogs(d)[lang], d.public_url, path, explicit)

    def html(page_site: pages.Site, text: str, status: int = 200, private: bool = False) -> web.Response:
        headers = {**SECURITY_HEADERS, "Content-Language": page_site.lang, "Vary": "Accept-Language"}
        if private:
            headers.update(PRIVATE_HEADERS)
        else:
            headers["Cache-Control"] = "public, max-age=60"
        return web.Response(text=text, status=status, content_type=HTML, charset="utf-8", headers=headers)

    async def network_by_slug(d: WebDeps, slug: str) -> Network | None:
        found = [n for n in await d.networks.all() if n.slug == slug and n.status != NetworkStatus.ENDED]
        return found[0] if found else None

    # --- public pages ------------------------------------------------------------------------

    async def index(request: web.Request) -> web.Response:
        d = deps(request)
        page_site = site(request, d, "fi", "/")
        networks = await d.networks.all([NetworkStatus.ACTIVE.value])
        upcoming = await d.sessions.next_sessions(d.clock.now())
        return html(page_site, pages.index_page(page_site, networks, upcoming))

    async def network_page(request: web.Request) -> web.Response:
        d = deps(request)
        slug = request.match_info["slug"]
        network = await network_by_slug(d, slug)
        if network is None:
            page_site = site(request, d, "fi", f"/n/{slug}")
            return html(page_site, pages.not_found_page(page_site), status=404)
        page_site = site(request, d, network.lang, f"/n/{network.slug}")
        now = d.clock.now()
        found = await d.sessions.for_network(network.id, start=now, end=now + FEED_AHEAD)
        upcoming: list[Session] = [s for s in found if s.ends_at > now][:UPCOMING]
        counts = await public_counts(d.ledger, network, now) if network.public_counts else None
        return html(page_site, pages.network_page(page_site, network, upcoming, now, counts))

    async def privacy(request: web.Request) -> web.Response:
        d = deps(request)
        page_site = site(request, d, "fi", "/privacy")
        card = d.privacy_notice(page_site.tr) if d.privacy_notice is not None else None
        return html(page_site, pages.privacy_page(page_site, card))

    async def terms(request: web.Request) -> web.Response:
        d = deps(request)
        page_site = site(request, d, "fi", "/terms")
        return html(page_site, pages.terms_page(page_site))

    # --- calendars ---------------------------------------------------------------------------

    async def session_ics(request: web.Request) -> web.Response:
        try:
            session_id = int(request.match_info["session_id"])
        except ValueError as error:
            raise web.HTTPNotFound() from error
        d = deps(request)
        session = await d.sessions.get(session_id)
        network = await d.networks.get(session.network_id) if session else None
        if session is None or network is None or network.status == NetworkStatus.ENDED:
            raise web.HTTPNotFound()  # an ended network's pages are gone: so are its sessions
        body = calendar(
            network,
            [session],
            d.public_url,
            d.clock.now(),
            sequences=await session_changes(d.audit, network.id),
            page_url=f"{d.public_url.rstrip('/')}/n/{network.slug}",
            cancelled_label=catalogs(d)[network.lang]._("Cancelled"),
        )
        return web.Response(
            body=body,
            content_type=ICS,
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{network.slug}-{session.id}.ics"'},
        )

    async def network_ics(request: web.Request) -> web.Response:
        d = deps(request)
        network = await network_by_slug(d, request.match_info["slug"])
        if network is None:
            raise web.HTTPNotFound()
        now = d.clock.now()
        every = await d.sessions.for_network(network.id)
        shown = [s for s in every if s.ends_at >= now - FEED_PAST and s.starts_at < now + FEED_AHEAD]
        # A series in the window is one recurring event: it needs all its sessions for its EXDATEs.
        series: dict[int, Series] = {}
        for series_id in sorted({s.series_id for s in shown if s.series_id is not None}):
            found = await d.sessions.get_series(series_id)
            if found is not None:
                series[series_id] = found
        sessions = [s for s in every if s.series_id in series] + [
            s for s in shown if s.series_id not in series
        ]
        body = calendar(
            network,
            sessions,
            d.public_url,
            now,
            sequences=await session_changes(d.audit, network.id),
            page_url=f"{d.public_url.rstrip('/')}/n/{network.slug}",
            cancelled_label=catalogs(d)[network.lang]._("Cancelled"),
            series=series,
        )
        return web.Response(
            body=body,
            content_type=ICS,
            charset="utf-8",
            headers={"Content-Disposition": f'inline; filename="{network.slug}.ics"'},
        )

    # --- the coordinator report ----------------------------------------------------------------

    def forbidden(request: web.Request, d: WebDeps) -> web.Response:
        page_site = site(request, d, "fi", request.path)
        return html(page_site, pages.forbidden_page(page_site), status=403, private=True)

    def period(claims: dict[str, Any]) -> tuple[datetime, datetime]:
        return datetime.fromtimestamp(int(claims["from"]), UTC), datetime.fromtimestamp(
            int(claims["to"]), UTC
        )

    async def report(request: web.Request) -> web.Response:
        d = deps(request)
        token = request.match_info["token"]
        claims = claims_of(d, token, "report")
        if claims is None:
            return forbidden(request, d)
        network = await d.networks.get(int(claims["network"]))
        # In the language the coordinator asked in (the link's), unless ?lang= picks another.
        asked = claims.get("lang")
        page_site = site(request, d, network.lang if network else "fi", f"/report/{token}", asked)
        if network is None:
            return html(page_site, pages.not_found_page(page_site), status=404, private=True)
        now = d.clock.now()
        start, end = period(claims)
        figures = await d.ledger.network_figures(
            network, start, end, strong_share=d.strong_share, recent_sessions=d.recent_sessions
        )
        figures = held_figures(figures, min(end, now))
        feedback: list[QuestionResult] = []
        if d.feedback is not None:
            votes = await d.feedback.store.network_votes(network.id, start, end)
            feedback = question_results(list(votes))
        expires = datetime.fromtimestamp(int(claims["exp"]), UTC)

        def export_url(fmt: str) -> str:
            payload = {
                "kind": "export",
                "network": network.id,
                "from": int(claims["from"]),
                "to": int(claims["to"]),
                "fmt": fmt,
                "by": str(claims.get("by", "")),  # no coordinator named: totals only, no names
                "lang": page_site.lang,  # the file is headed in the page's language
            }
            return f"{page_site.base}/export/{sign(d.signing_key, payload, expires)}"

        data = pages.ReportInput(
            network=network,
            figures=figures,
            feedback=feedback,
            start=pages.report_start(network, figures, start),
            end=min(end, now),
            expires=expires,
            csv_url=export_url("csv"),
            xlsx_url=export_url("xlsx"),
            chart_url=f"{page_site.base}/report/{token}/chart.png",
            months=pages.sessions_per_month(network, figures, start, min(end, now)),
        )
        text = await asyncio.to_thread(pages.report_page, page_site, data)  # matplotlib: CPU
        return html(page_site, text, private=True)

    async def report_chart(request: web.Request) -> web.Response:
        d = deps(request)
        claims = claims_of(d, request.match_info["token"], "report")
        if claims is None:
            raise web.HTTPForbidden(text="This link is not valid.")
        network = await d.networks.get(int(claims["network"]))
        if network is None:
            raise web.HTTPNotFound()
        start, end = period(claims)
        figures = await d.ledger.network_figures(
            network, start, end, strong_share=d.strong_share, recent_sessions=d.recent_sessions
        )
        figures = held_figures(figures, min(end, d.clock.now()))
        lang, _ = pages.negotiate(request.query.get("lang") or claims.get("lang"), "", network.lang)
        png = await asyncio.to_thread(pages.participation_png, catalogs(d)[lang], network, figures)
        return web.Response(
            body=png,
            content_type="image/png",
            headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    async def export(request: web.Request) -> web.Response:
        d = deps(request)
        try:
            claims = verify(d.signing_key, request.match_info["token"], d.clock.now())
        except BadLink:
            return forbidden(request, d)  # a page saying how to get a new link, not plain text
        if claims.get("kind") != "export":
            return forbidden(request, d)
        network = await d.networks.get(int(claims["network"]))
        if network is None:
            raise web.HTTPNotFound()
        start = datetime.fromtimestamp(int(claims["from"]), UTC)
        end = datetime.fromtimestamp(int(claims["to"]), UTC)
        figures = await d.ledger.network_figures(network, start, end)
        personal = network.is_coordinator(str(claims.get("by", "")))
        rows = await d.ledger.store.for_network(network.id) if personal else []
        # Headed in the language the link was made for (the coordinator's), else the network's.
        lang = next((lang for lang in LANGS if lang == claims.get("lang")), network.lang)
        data = tables(network, figures, rows, personal, catalogs(d)[lang])
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

    app.router.add_get("/", index)
    app.router.add_get("/n/{slug}", network_page)
    app.router.add_get("/privacy", privacy)
    app.router.add_get("/terms", terms)
    app.router.add_get("/report/{token}", report)
    app.router.add_get("/report/{token}/chart.png", report_chart)
    app.router.add_get("/export/{token}", export)
    app.router.add_get("/ics/session/{session_id}.ics", session_ics)
    app.router.add_get("/ics/network/{slug}.ics", network_ics)
    app.router.add_static("/static", pages.STATIC, append_version=False)
