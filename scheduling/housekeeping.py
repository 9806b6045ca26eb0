"""The daily housekeeping: forget what no longer needs keeping."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol

from domain.clock import Clock
from domain.ports import InboundLedger

log = logging.getLogger(__name__)


class FinishedJobs(Protocol):
    async def purge_finished(self, before: datetime) -> int: ...


class Housekeeping:
    """Purges processed activity ids and long-done jobs; give it to the Ticker as ``housekeeping``.

    Dead jobs are kept: they wait for a person to look at them.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        inbound: InboundLedger,
        jobs: FinishedJobs,
        inbound_keep: timedelta = timedelta(hours=48),
        done_jobs_keep: timedelta = timedelta(days=30),
    ) -> None:
        self._clock = clock
        self._inbound = inbound
        self._jobs = jobs
        self._inbound_keep = inbound_keep
        self._done_jobs_keep = done_jobs_keep

    async def __call__(self) -> dict[str, int]:
        now = self._clock.now()
        purged = {
            "inbound_activities": await self._inbound.purge(now - self._inbound_keep),
            "done_jobs": await self._jobs.purge_finished(now - self._done_jobs_keep),
        }
        log.info("housekeeping purged %s", purged, extra={"purged": purged})
        return purged
