"""Watching each network's cadence and its lifecycle, as the evaluation (seed 000) asks.

Every day the lifecycle steps run for active and paused networks: fixed-term networks are told
30 days ahead and end on their date (a weekend or holiday included); continuous ones get a
yearly evaluation card. On business days every active network is also evaluated
(domain.cadence); a network that is due, overdue, lapsed or fading gets its coordinators
nudged, at most once per repeat interval (counted in local dates, so weekly nudges keep their
weekday), only in working hours, and also its admins after three unanswered nudges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from domain.cadence import CadenceReport, CadenceStatus, HeldSession, business_day, evaluate, suggest_next
from domain.clock import Clock
from domain.jobs import NewJob
from domain.networks import Network, NetworkKind, NetworkStatus

if TYPE_CHECKING:
    from domain.ports import JobStore, NetworkStore, NudgeStore, ParticipationStore

DAILY = "cadence.daily"
NUDGE = "cadence.nudge"
ENDING_SOON = "lifecycle.ending_soon"
END = "lifecycle.end"
EVALUATE = "lifecycle.evaluate"
PURGE = "network.purge"

FADING = "fading"
ENDING_NOTICE = timedelta(days=30)
UNANSWERED_TO_ADMINS = 3


@dataclass(frozen=True, slots=True)
class NudgeState:
    network_id: int
    cause: str | None = None
    last_sent_at: datetime | None = None
    unanswered: int = 0
    snoozed_until: datetime | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WatchSettings:
    repeat: timedelta = timedelta(days=7)
    working_start: int = 8
    working_end: int = 17
    evaluation_month: int = 1
    daily_hour: int = 9


def cause_of(report: CadenceReport) -> str | None:
    """Why to nudge: the cadence status if not on track, else fading attendance, else nothing."""
    if report.status != CadenceStatus.ON_TRACK:
        return report.status.value
    return FADING if report.fading_attendance else None


def working_time(moment: datetime, tz: str, settings: WatchSettings) -> datetime:
    """``moment``, or the next start of working hours on a business day if it is outside them."""
    zone = ZoneInfo(tz)
    local = moment.astimezone(zone)
    if business_day(local.date()) and settings.working_start <= local.hour < settings.working_end:
        return moment
    day = local.date()
    if business_day(day) and local.hour < settings.working_start:
        return datetime.combine(day, time(settings.working_start), zone)
    day += timedelta(days=1)
    while not business_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, time(settings.working_start), zone)


def local_date(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


def nudge_due(
    report: CadenceReport,
    state: NudgeState,
    now: datetime,
    settings: WatchSettings,
    tz: str = "Europe/Helsinki",
) -> bool:
    """Whether to nudge today: a cause, not snoozed, and not nudged within the repeat interval.

    Both are judged by local dates, not by the clock: a nudge sent a few minutes after the
    daily evaluation must not push the next one a day further every time."""
    if cause_of(report) is None:
        return False
    today = local_date(now, tz)
    if state.snoozed_until is not None and today < local_date(state.snoozed_until, tz):
        return False
    return state.last_sent_at is None or today >= local_date(state.last_sent_at, tz) + timedelta(
        days=settings.repeat.days
    )


class Watch:
    """The daily evaluation and what follows from it, as jobs."""

    def __init__(
        self,
        networks: NetworkStore,
        participation: ParticipationStore,
        nudges: NudgeStore,
        jobs: JobStore,
        clock: Clock,
        settings: WatchSettings | None = None,
    ) -> None:
        self.networks = networks
        self.participation = participation
        self.nudges = nudges
        self.jobs = jobs
        self.clock = clock
        self.settings = settings or WatchSettings()

    async def schedule_daily(self, tz: str = "Europe/Helsinki") -> date | None:
        """Called by the daily housekeeping tick: enqueue today's evaluation, every day.

        The lifecycle steps run every day (a fixed-term network ends on a Saturday too); the
        job itself sends nudges only on business days."""
        now = self.clock.now()
        today = now.astimezone(ZoneInfo(tz)).date()
        due = max(now, datetime.combine(today, time(self.settings.daily_hour), ZoneInfo(tz)))
        await self.jobs.enqueue(
            NewJob(DAILY, {"date": today.isoformat()}, due, f"cadence:{today.isoformat()}")
        )
        return today

    async def inputs(self) -> dict[int, tuple[list[HeldSession], list[datetime]]]:
        now = self.clock.now()
        return await self.participation.cadence_inputs(now - timedelta(days=400), now)

    async def reports(self, networks: Sequence[Network] | None = None) -> list[tuple[Network, CadenceReport]]:
        now = self.clock.now()
        chosen = networks if networks is not None else await self.networks.all([NetworkStatus.ACTIVE.value])
        data = await self.inputs()
        out = []
        for network in chosen:
            held, scheduled = data.get(network.id, ([], []))
            out.append((network, evaluate(network, held, scheduled, now)))
        return out

    async def daily(self, *, at_once: bool = False) -> int:
        """The lifecycle steps of every active or paused network, every day; on business days
        (or ``at_once``) also the cadence of every active network, with nudges. Returns nudges enqueued.

        ``at_once``: an administrator asked, so nudges go now rather than in the next working hours."""
        now = self.clock.now()
        watched = await self.networks.all([NetworkStatus.ACTIVE.value, NetworkStatus.PAUSED.value])
        for network in watched:
            await self._lifecycle(network, now)
        active = [n for n in watched if n.status == NetworkStatus.ACTIVE]
        if not at_once:
            active = [n for n in active if business_day(local_date(now, n.timezone))]
        if not active:
            return 0
        states = await self.nudges.all()
        enqueued = 0
        for network, report in await self.reports(active):
            state = states.get(network.id, NudgeState(network.id))
            cause = cause_of(report)
            if cause is None:
                if state.cause is not None or state.unanswered:
                    await self.nudges.save(replace(state, cause=None, unanswered=0))  # the cause is gone
            elif nudge_due(report, state, now, self.settings, network.timezone):
                at = now if at_once else working_time(now, network.timezone, self.settings)
                stamp = local_date(at, network.timezone).isoformat()
                payload = {"network_id": network.id, "cause": cause, "date": stamp, "at_once": at_once}
                await self.jobs.enqueue(NewJob(NUDGE, payload, at, f"nudge:{network.id}:{stamp}"))
                enqueued += 1
        return enqueued

    async def nudge_later(self, network: Network, payload: dict[str, object]) -> datetime | None:
        """A nudge job that runs outside working hours (a delayed or retried job) is put off to the
        next working time; returns that time, or None when the nudge may go now."""
        now = self.clock.now()
        if payload.get("at_once"):
            return None
        at = working_time(now, network.timezone, self.settings)
        if at == now:
            return None
        stamp = local_date(at, network.timezone).isoformat()
        await self.jobs.enqueue(NewJob(NUDGE, {**payload, "date": stamp}, at, f"nudge:{network.id}:{stamp}"))
        return at

    async def _lifecycle(self, network: Network, now: datetime) -> None:
        today = now.astimezone(ZoneInfo(network.timezone)).date()
        payload = {"network_id": network.id}
        # Ending happens on the date, whatever day it is; what asks people to read or answer
        # (the notice, the evaluation card) goes in working hours on a business day.
        told = working_time(now, network.timezone, self.settings)
        if network.kind == NetworkKind.FIXED_TERM and network.ends_on is not None:
            if network.ends_on <= today:
                await self.jobs.enqueue(NewJob(END, payload, now, f"end:{network.id}"))
            elif network.ends_on - today <= ENDING_NOTICE:
                await self.jobs.enqueue(NewJob(ENDING_SOON, payload, told, f"ending-soon:{network.id}"))
        elif (
            network.kind == NetworkKind.CONTINUOUS
            and network.status == NetworkStatus.ACTIVE
            and today.month == self.settings.evaluation_month
            and now - network.created_at >= timedelta(days=180)  # a new network is not evaluated yet
        ):
            year = today.year
            await self.jobs.enqueue(
                NewJob(EVALUATE, {**payload, "year": year}, told, f"evaluate:{network.id}:{year}")
            )

    async def suggestion(self, network: Network) -> datetime:
        held, _ = (await self.inputs()).get(network.id, ([], []))
        return suggest_next(network, held, self.clock.now())

    async def sent(self, network_id: int, cause: str, day: date, tz: str = "Europe/Helsinki") -> NudgeState:
        """Record the nudge of ``day`` (its job's date). A retried job of the same day finds it
        recorded and counts nothing more, so a retry never escalates to the admins early."""
        state = await self.nudges.get(network_id)
        if state.last_sent_at is not None and local_date(state.last_sent_at, tz) >= day:
            return state
        updated = replace(state, cause=cause, last_sent_at=self.clock.now(), unanswered=state.unanswered + 1)
        await self.nudges.save(updated)
        return updated

    async def answered(self, network_id: int, snooze: timedelta | None = None) -> None:
        state = await self.nudges.get(network_id)
        now = self.clock.now()
        await self.nudges.save(
            replace(
                state,
                unanswered=0,
                answered_at=now,
                snoozed_until=now + snooze if snooze else state.snoozed_until,
            )
        )
