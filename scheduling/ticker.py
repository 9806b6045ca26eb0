"""The ticker: APScheduler 3 drives the job worker and the daily housekeeping.

The scheduler holds no state worth keeping (memory job store, nothing pickled): the jobs table is
the truth, and the ticker only asks the worker, every few seconds, to run what is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from domain.clock import Clock, SystemClock
from scheduling.worker import JobRunner

log = logging.getLogger(__name__)

TICK_JOB_ID = "jobs-tick"
HOUSEKEEPING_JOB_ID = "housekeeping"


class Ticker:
    """Runs ``runner`` every ``tick_seconds`` and ``housekeeping`` daily at ``housekeeping_hour``.

    The first tick runs as soon as the scheduler starts, so that jobs that fell due while the
    process was down run right away.
    """

    def __init__(
        self,
        runner: JobRunner,
        tick_seconds: float,
        housekeeping: Callable[[], Awaitable[Any]] | None = None,
        housekeeping_hour: int = 3,
        timezone: str = "Europe/Helsinki",
        *,
        clock: Clock | None = None,
        max_batches_per_tick: int = 10,
    ) -> None:
        if tick_seconds <= 0:
            raise ValueError("tick_seconds must be positive")
        if not 0 <= housekeeping_hour <= 23:
            raise ValueError("housekeeping_hour must be 0..23")
        self._runner = runner
        self._tick_seconds = tick_seconds
        self._housekeeping = housekeeping
        self._housekeeping_hour = housekeeping_hour
        self._zone = ZoneInfo(timezone)
        self._clock = clock or SystemClock()
        self._max_batches = max_batches_per_tick
        self._scheduler: AsyncIOScheduler | None = None
        self._current: asyncio.Task[Any] | None = None
        self.last_tick: datetime | None = None
        self.ticks = 0

    def start(self) -> None:
        """Start ticking. Call from inside the running event loop."""
        if self._scheduler is not None:
            raise RuntimeError("ticker already started")
        scheduler = AsyncIOScheduler(
            timezone=self._zone,
            jobstores={"default": MemoryJobStore()},
            job_defaults={"max_instances": 1, "coalesce": True},
        )
        scheduler.add_job(
            self._tick,
            IntervalTrigger(seconds=self._tick_seconds, timezone=self._zone),
            id=TICK_JOB_ID,
            next_run_time=datetime.now(self._zone),
            misfire_grace_time=None,  # late is better than skipped; coalesce keeps it to one run
        )
        if self._housekeeping is not None:
            scheduler.add_job(
                self._run_housekeeping,
                CronTrigger(hour=self._housekeeping_hour, minute=0, timezone=self._zone),
                id=HOUSEKEEPING_JOB_ID,
                misfire_grace_time=3600,
            )
        scheduler.start()
        self._scheduler = scheduler
        log.info("ticker started: every %.1f s", self._tick_seconds)

    async def shutdown(self, grace: float = 10.0) -> None:
        """Stop ticking; a tick under way gets ``grace`` seconds to finish, then is cancelled."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        if scheduler.running:
            scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a loop callback; let it run
        current = self._current
        if current is not None and not current.done():
            try:
                await asyncio.wait_for(asyncio.shield(current), grace)
            except TimeoutError:
                current.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await current
            except Exception:
                log.debug("the last tick failed during shutdown", exc_info=True)
        log.info("ticker stopped")

    @property
    def running(self) -> bool:
        return self._scheduler is not None and self._scheduler.running

    @property
    def alive(self) -> bool:
        """Running, and the last tick finished recently (for /healthz)."""
        if not self.running or self.last_tick is None:
            return False
        return self._clock.now() - self.last_tick <= self.stale_after

    @property
    def stale_after(self) -> timedelta:
        """How long without a finished tick before the ticker counts as stuck."""
        return max(timedelta(seconds=3 * self._tick_seconds), self._runner.lease, timedelta(seconds=30))

    @property
    def next_housekeeping(self) -> datetime | None:
        """When the housekeeping runs next (None when not running or none was given)."""
        if self._scheduler is None:
            return None
        job = self._scheduler.get_job(HOUSEKEEPING_JOB_ID)
        return None if job is None else job.next_run_time

    async def tick(self) -> int:
        """Run what is due now; the scheduler calls this every tick. Returns jobs claimed."""
        try:
            claimed = await self._runner.run_until_idle(self._max_batches)
        except Exception:
            # A database outage must not kill the ticker; the next tick tries again.
            log.exception("job tick failed")
            return 0
        self.last_tick = self._clock.now()
        self.ticks += 1
        return claimed

    async def _tick(self) -> None:
        # A task of our own, shielded: APScheduler cancels its tasks when it shuts down, and a
        # batch under way should rather get the grace period to finish.
        self._current = asyncio.create_task(self.tick(), name="jobs-tick")
        await asyncio.shield(self._current)

    async def _run_housekeeping(self) -> None:
        assert self._housekeeping is not None
        log.info("housekeeping started")
        try:
            await self._housekeeping()
        except Exception:
            log.exception("housekeeping failed")
        else:
            log.info("housekeeping done")
