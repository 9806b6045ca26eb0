"""The composition root: every long-lived object is built here and passed in explicitly."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from bot import sdk_fixes
from bot.auth import BotAuthenticator, OpenIdKeys
from bot.connector import ConnectorClient, TokenProvider
from bot.graph import build_graph
from bot.notifier import SenderNotifier
from bot.ratelimit import RateLimiter
from bot.sender import Sender
from bot.settings import Settings
from bot.turns import REPLY_JOB, MessagesEndpoint, TapaamoBot
from dialogs.app import build_router
from dialogs.i18n import Catalogs
from dialogs.polls import PollJobs
from dialogs.privacy import privacy_card
from dialogs.services import Services
from dialogs.session_jobs import SessionJobs
from dialogs.stewardship import StewardshipJobs
from domain.clock import Clock, SystemClock
from domain.jobs import RetryPolicy
from domain.participation import Ledger
from domain.planning import Planning
from domain.polls import Feedback
from domain.privacy import Privacy, Retention, purge_job
from domain.stewardship import Watch, WatchSettings
from scheduling.housekeeping import Housekeeping
from scheduling.ticker import Ticker
from scheduling.worker import JobRunner
from storage.db import Database
from storage.migrate import upgrade
from storage.network_repos import SqlNetworkStore, SqlSessionStore
from storage.participation_repos import SqlParticipationStore
from storage.poll_repos import SqlPollStore
from storage.privacy_repos import SqlPrivacyStore
from storage.repositories import (
    SqlAuditLog,
    SqlConversationRefs,
    SqlInboundLedger,
    SqlJobStore,
    SqlSentMessages,
)
from storage.stewardship_repos import SqlNudgeStore
from web.links import SignedLinks
from web.privacy_routes import PrivacyLinks, PrivacyWebDeps, add_privacy_routes
from web.routes import WebDeps, add_routes

log = logging.getLogger(__name__)


class ConfigurationError(Exception):
    """The settings do not allow the bot to start; the message says what is missing."""


def check_settings(settings: Settings) -> None:
    problem = settings.certificate_problem()
    if problem:
        raise ConfigurationError(problem)
    if settings.is_dev:
        if settings.host not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigurationError("dev mode (TAPAAMO_ENV=dev) binds to 127.0.0.1 only")
        return
    missing = settings.missing_for_production()
    if missing:
        raise ConfigurationError(
            f"TAPAAMO_ENV={settings.env} needs {', '.join(missing)} "
            "(or set TAPAAMO_ENV=dev to try it locally)"
        )


@dataclass
class Parts:
    """What the running app holds, for /healthz, shutdown and tests."""

    settings: Settings
    clock: Clock
    database: Database
    session: aiohttp.ClientSession
    runner: JobRunner
    ticker: Ticker
    endpoint: MessagesEndpoint
    web: WebDeps
    housekeeping: Callable[[], Awaitable[None]]  # what the daily tick runs (tests call it by hand)
    privacy_web: PrivacyWebDeps


PARTS = web.AppKey("parts", Parts)


def create_app(
    settings: Settings, *, clock: Clock | None = None, start_ticker: bool = True
) -> web.Application:
    """The aiohttp application: /api/messages and /healthz; resources open on start-up."""
    check_settings(settings)
    sdk_fixes.apply()
    # Links signed with a random key stop working at restart; production sets TAPAAMO_SIGNING_KEY.
    signing_key = settings.signing_key.get_secret_value().encode() or secrets.token_bytes(32)
    app = web.Application(client_max_size=settings.max_body_bytes + 1)
    clock = clock or SystemClock()
    catalogs = Catalogs()

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade, settings.database_url)
        database = Database.connect(settings.database_url)
        connector_limit = aiohttp.TCPConnector(limit=max(100, settings.send_workers * 4))
        session = aiohttp.ClientSession(connector=connector_limit)
        refs = SqlConversationRefs(database)
        audit = SqlAuditLog(database)
        jobs = SqlJobStore(database, clock)
        inbound = SqlInboundLedger(database)
        sessions = SqlSessionStore(database)
        networks = SqlNetworkStore(database)
        tokens = TokenProvider(
            settings.app_id,
            tenant_id=settings.tenant_id,
            authority_host=settings.login_authority,
            secret=settings.app_password.get_secret_value(),
            certificate=settings.app_certificate(),
        )
        connector = ConnectorClient(session, tokens)
        graph = build_graph(settings, session)
        sender = Sender(
            connector,
            SqlSentMessages(database),
            clock,
            RateLimiter(tenant_rate=settings.send_rate_per_tenant),
            concurrency=settings.send_workers,
        )
        planning = Planning(
            networks,
            sessions,
            jobs,
            audit,
            clock,
            settings.timezone,
            ended_delay=timedelta(minutes=settings.poll_open_delay_minutes),
            home_reminder_lead=timedelta(minutes=settings.reminder_minutes),
        )
        ledger = Ledger(SqlParticipationStore(database), sessions, networks, jobs, audit, clock)
        feedback = Feedback(SqlPollStore(database), sessions, jobs, clock, settings.poll_open_hours)
        links = SignedLinks(signing_key, settings.public_url, clock, settings.link_hours)
        privacy = Privacy(
            SqlPrivacyStore(database), refs, networks, audit, clock, Retention.from_settings(settings)
        )
        privacy_links = PrivacyLinks(signing_key, settings.public_url, clock, settings.privacy_link_minutes)
        services = Services(
            refs=refs,
            audit=audit,
            jobs=jobs,
            planning=planning,
            sessions=sessions,
            notifier=SenderNotifier(sender, refs),
            ledger=ledger,
            feedback=feedback,
            poll_live_counts=settings.poll_live_counts,
            links=links,
            strong_share=settings.strong_share,
            recent_sessions=settings.recent_sessions,
            public_url=settings.public_url,
            timezone=settings.timezone,
        )
        watch = Watch(
            networks,
            SqlParticipationStore(database),
            SqlNudgeStore(database),
            jobs,
            clock,
            WatchSettings(
                repeat=timedelta(days=settings.nudge_repeat_days),
                working_start=settings.working_hours_start,
                working_end=settings.working_hours_end,
                evaluation_month=settings.evaluation_month,
                daily_hour=settings.cadence_hour,
            ),
        )
        router = build_router(
            catalogs,
            clock,
            services,
            watch,
            settings.admins,
            privacy=privacy,
            privacy_links=privacy_links,
            privacy_contact=settings.privacy_contact,
        )
        authenticator = None
        if settings.app_id:
            keys = OpenIdKeys(session, settings.openid_metadata_url)
            authenticator = BotAuthenticator(keys, app_id=settings.app_id, issuer=settings.token_issuer)
        bot = TapaamoBot(router, refs, jobs, sender, forget_conversation=privacy.forget_conversation)
        endpoint = MessagesEndpoint(
            bot=bot,
            authenticator=authenticator,
            refs=refs,
            inbound=inbound,
            clock=clock,
            service_hosts=settings.service_hosts(),
            allow_http_service=settings.env in ("dev", "test"),
            max_body_bytes=settings.max_body_bytes,
        )
        runner = JobRunner(
            jobs,
            clock,
            handlers={
                **SessionJobs(services, catalogs, attendance=graph, meetings=graph).handlers(),
                **PollJobs(services, catalogs).handlers(),
                **StewardshipJobs(services, catalogs, watch, settings.admins).handlers(),
                **privacy.handlers(),
                REPLY_JOB: bot.send_deferred,
            },
            retry=RetryPolicy(max_attempts=settings.job_max_attempts),
            batch_size=settings.job_batch_size,
            lease=timedelta(seconds=settings.job_lease_seconds),
            concurrency=settings.job_concurrency,
        )

        purge = Housekeeping(
            clock,
            inbound=inbound,
            jobs=jobs,
            inbound_keep=timedelta(hours=settings.inbound_keep_hours),
            done_jobs_keep=timedelta(days=settings.retention_done_jobs_days),
        )

        async def housekeeping() -> None:
            await purge()
            if database.raw_sqlite:
                # Keep SQLite's query statistics fresh: without them the overview scans every row.
                await database.sqlite_write(lambda connection: connection.execute("PRAGMA optimize"))
            today = clock.now().astimezone(ZoneInfo(settings.timezone)).date()
            await jobs.enqueue(purge_job(today, clock.now()))
            made = await planning.extend_all_series()
            await watch.schedule_daily(settings.timezone)
            log.info("housekeeping: %d series sessions made", made)

        ticker = Ticker(
            runner,
            tick_seconds=settings.job_tick_seconds,
            housekeeping=housekeeping,
            housekeeping_hour=settings.housekeeping_hour,
            timezone="Europe/Helsinki",
            clock=clock,
        )
        web_deps = WebDeps(
            networks,
            sessions,
            clock,
            settings.public_url,
            ledger,
            audit,
            signing_key,
            feedback=feedback,
            catalogs=catalogs,
            strong_share=settings.strong_share,
            recent_sessions=settings.recent_sessions,
            privacy_notice=lambda tr: privacy_card(tr, privacy.retention, settings.privacy_contact),
        )
        app[PARTS] = Parts(
            settings,
            clock,
            database,
            session,
            runner,
            ticker,
            endpoint,
            web_deps,
            housekeeping,
            PrivacyWebDeps(privacy, clock, signing_key, settings.public_url),
        )
        if start_ticker:
            ticker.start()
        log.info("Tapaamo ready (%s mode, database %s)", settings.env, database.dialect)
        try:
            yield
        finally:
            await endpoint.drain()
            if start_ticker:
                await ticker.shutdown()
            if graph is not None:
                graph.close()
            await session.close()
            await database.dispose()

    app.cleanup_ctx.append(lifecycle)

    async def messages(request: web.Request) -> web.StreamResponse:
        return await request.app[PARTS].endpoint.handle(request)

    async def healthz(request: web.Request) -> web.Response:
        parts = request.app[PARTS]
        database_ok = await parts.database.ping()
        counts = await parts.runner.counts() if database_ok else {}
        scheduler_ok = parts.ticker.alive or not start_ticker
        body = {
            "status": "ok" if database_ok and scheduler_ok else "failing",
            "database": "ok" if database_ok else "unreachable",
            "scheduler": "ok" if scheduler_ok else "stopped",
            "jobs": counts,
            "dead_jobs": counts.get("dead", 0),
        }
        return web.json_response(body, status=200 if body["status"] == "ok" else 503)

    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    add_routes(app, lambda request: request.app[PARTS].web)
    add_privacy_routes(app, lambda request: request.app[PARTS].privacy_web)
    return app
