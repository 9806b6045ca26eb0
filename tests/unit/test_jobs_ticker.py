"""The ticker: APScheduler runs the worker at once on start, then every tick; housekeeping daily."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.clock import FakeClock
from domain.jobs import Job, NewJob
from scheduling.ticker import Ticker
from scheduling.worker import JobRunner
from tests.fakes.memory import MemoryJobStore


class UnreachableJobStore(MemoryJobStore):
    """A job store whose database is down."""

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> Sequence[Job]:
        raise ConnectionRefusedError("database is down")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> MemoryJobStore:
    return MemoryJobStore(clock)


@pytest.fixture
async def started() -> AsyncIterator[list[Ticker]]:
    """Tickers a test starts; each is shut down at the end."""
    tickers: list[Ticker] = []
    yield tickers
    for ticker in tickers:
        await ticker.shutdown()


async def until(condition: Any, rounds: int = 10_000) -> None:
    """Let the loop run until ``condition()`` holds; no wall-clock waiting."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_the_first_tick_runs_at_start(
    store: MemoryJobStore, clock: FakeClock, started: list[Ticker]
) -> None:
    ran = asyncio.Event()

    async def remind(payload: dict[str, Any]) -> None:
        ran.set()

    await store.enqueue(NewJob("remind", {}, clock.now() - timedelta(hours=3), "overdue"))
    ticker = Ticker(JobRunner(store, clock, {"remind": remind}), tick_seconds=3600, clock=clock)
    assert ticker.alive is False

    ticker.start()
    started.append(ticker)
    await asyncio.wait_for(ran.wait(), timeout=5)
    await until(lambda: ticker.ticks == 1)

    assert ticker.alive is True
    assert ticker.last_tick == clock.now()
    assert (await store.counts())["done"] == 1


async def test_alive_goes_false_when_ticks_stop(
    store: MemoryJobStore, clock: FakeClock, started: list[Ticker]
) -> None:
    ticker = Ticker(JobRunner(store, clock, lease=timedelta(seconds=60)), tick_seconds=2, clock=clock)
    ticker.start()
    started.append(ticker)
    await until(lambda: ticker.ticks == 1)

    clock.advance(ticker.stale_after)
    assert ticker.alive is True
    clock.advance(seconds=1)
    assert ticker.alive is False

    await ticker.shutdown()
    assert ticker.running is False
    assert ticker.alive is False


async def test_a_failing_tick_is_logged_and_not_counted(clock: FakeClock, started: list[Ticker]) -> None:
    ticker = Ticker(JobRunner(UnreachableJobStore(clock), clock), tick_seconds=3600, clock=clock)

    assert await ticker.tick() == 0

    assert ticker.ticks == 0
    assert ticker.alive is False


async def test_housekeeping_is_daily_at_its_hour_in_helsinki(
    store: MemoryJobStore, clock: FakeClock, started: list[Ticker]
) -> None:
    async def housekeeping() -> None:
        pass

    ticker = Ticker(JobRunner(store, clock), 3600, housekeeping, housekeeping_hour=3, clock=clock)
    ticker.start()
    started.append(ticker)

    when = ticker.next_housekeeping
    assert when is not None
    local = when.astimezone(ZoneInfo("Europe/Helsinki"))
    assert (local.hour, local.minute) == (3, 0)
    assert timedelta(0) < when - datetime.now(ZoneInfo("Europe/Helsinki")) <= timedelta(days=1)


async def test_no_housekeeping_job_without_housekeeping(
    store: MemoryJobStore, clock: FakeClock, started: list[Ticker]
) -> None:
    ticker = Ticker(JobRunner(store, clock), 3600, clock=clock)
    ticker.start()
    started.append(ticker)

    assert ticker.next_housekeeping is None


async def test_shutdown_lets_a_tick_under_way_finish(
    store: MemoryJobStore, clock: FakeClock, started: list[Ticker]
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(payload: dict[str, Any]) -> None:
        entered.set()
        await release.wait()

    await store.enqueue(NewJob("slow", {}, clock.now(), "slow"))
    ticker = Ticker(JobRunner(store, clock, {"slow": slow}), tick_seconds=3600, clock=clock)
    ticker.start()
    await asyncio.wait_for(entered.wait(), timeout=5)

    stopping = asyncio.create_task(ticker.shutdown(grace=5))
    await asyncio.sleep(0)
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, timeout=5)

    assert (await store.counts())["done"] == 1
    assert ticker.running is False


def test_bad_settings_are_refused(store: MemoryJobStore, clock: FakeClock) -> None:
    runner = JobRunner(store, clock)
    with pytest.raises(ValueError, match="tick_seconds"):
        Ticker(runner, tick_seconds=0)
    with pytest.raises(ValueError, match="housekeeping_hour"):
        Ticker(runner, tick_seconds=1, housekeeping_hour=24)


async def test_shutdown_cancels_a_tick_that_outlasts_the_grace(
    store: MemoryJobStore, clock: FakeClock
) -> None:
    entered = asyncio.Event()

    async def stuck(payload: dict[str, Any]) -> None:
        entered.set()
        await asyncio.Event().wait()

    await store.enqueue(NewJob("stuck", {}, clock.now(), "stuck"))
    ticker = Ticker(JobRunner(store, clock, {"stuck": stuck}), tick_seconds=3600, clock=clock)
    ticker.start()
    await asyncio.wait_for(entered.wait(), timeout=5)

    await asyncio.wait_for(ticker.shutdown(grace=0.01), timeout=5)

    # Left running: its lease runs out and a worker claims it again.
    assert (await store.counts())["running"] == 1
