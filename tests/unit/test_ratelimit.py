"""The rate limiter on virtual time: thousands of slots, every window checked, no real waiting.

Each test runs its coroutine on `VirtualTimeLoop`, an asyncio loop whose clock jumps to the next
timer whenever nothing is ready to run. The limiter gets that clock as ``now`` and ``asyncio.sleep``
as its sleep, so its waits are exact and cost nothing.
"""

from __future__ import annotations

import asyncio
import random
import selectors
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

import pytest

from bot.ratelimit import TEAMS_CONVERSATION_WINDOWS, RateLimiter, Window, rate_window

T = TypeVar("T")
START = 1000.0
TOLERANCE = 1e-9
TEAMS = [(1.0, 7), (2.0, 8), (30.0, 60), (3600.0, 1800)]  # written out, not taken from the code


class _VirtualSelector(selectors.DefaultSelector):
    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        events: list[Any] = super().select(0)
        if events:
            return events
        if timeout is None:
            raise RuntimeError("virtual time: nothing is ready and no timer is set (a deadlock)")
        self._loop.virtual_now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.virtual_now = START
        super().__init__(_VirtualSelector(self))

    def time(self) -> float:
        return self.virtual_now


def run_virtual(main: Callable[[VirtualTimeLoop], Coroutine[Any, Any, T]]) -> T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main(loop))
    finally:
        loop.close()


def limiter_on(loop: VirtualTimeLoop, **options: Any) -> RateLimiter:
    return RateLimiter(now=loop.time, sleep=asyncio.sleep, **options)


def most_in_window(times: Iterable[float], seconds: float) -> int:
    """Most of ``times`` in any half-open interval ``seconds`` long."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= seconds - TOLERANCE:
            first += 1
        most = max(most, last - first + 1)
    return most


def assert_teams_windows(times: list[float]) -> None:
    for seconds, limit in TEAMS:
        assert most_in_window(times, seconds) <= limit, f"more than {limit} in {seconds} s"


def assert_tight(times: list[float], windows: list[tuple[float, int]], check: Iterable[int]) -> None:
    """No slot could have been earlier: each one that waited did so because some window was full."""
    for k in check:
        if times[k] <= times[k - 1] + TOLERANCE:
            continue
        blocked = any(
            sum(1 for t in times[:k] if t > times[k] - seconds - TOLERANCE) >= limit
            for seconds, limit in windows
        )
        assert blocked, f"slot {k} at {times[k] - START:.6f} s could have gone earlier"


def test_one_conversation_gets_the_densest_schedule_teams_allows() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        limiter = limiter_on(loop, margin=0.0, tenant_rate=10_000)
        return [await limiter.acquire("c") for _ in range(1805)]

    times = run_virtual(main)
    assert_teams_windows(times)
    offsets = [t - START for t in times]
    assert offsets[:7] == [0.0] * 7
    assert offsets[7] == pytest.approx(1.0)  # the 8th waits for the 1 s window
    assert offsets[8] == pytest.approx(2.0)  # the 9th for the 2 s window
    # 60 fit in 30 s (at 8 per 2 s they are out in under 15 s); the 61st waits for the 30 s window
    assert offsets[59] < 15.0
    assert offsets[60] == pytest.approx(30.0)
    # 1,800 fit in the hour (at 60 per 30 s: 15 minutes); the 1,801st waits for the hour window
    assert offsets[1799] < 900.0
    assert offsets[1800] == pytest.approx(3600.0)
    assert_tight(times, TEAMS, range(1, 200))
    assert_tight(times, TEAMS, range(1790, len(times)))


def test_a_margin_widens_every_window() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[list[float], list[float]]:
        limiter = limiter_on(loop, margin=0.05, tenant_rate=50)
        one_conversation = [await limiter.acquire("c") for _ in range(61)]
        many = await asyncio.gather(*(limiter.acquire(f"d{i}", "t") for i in range(101)))
        return one_conversation, list(many)

    one_conversation, many = run_virtual(main)
    offsets = [t - one_conversation[0] for t in one_conversation]
    assert offsets[7] == pytest.approx(1.05)
    assert offsets[60] == pytest.approx(30.05)
    assert max(many) - min(many) == pytest.approx(2 * 1.05)  # 50, 50 a window later, then 1


def test_many_conversations_fill_every_tenant_slot_and_keep_their_windows() -> None:
    conversations, per_conversation = 300, 10

    async def main(loop: VirtualTimeLoop) -> dict[str, list[float]]:
        limiter = limiter_on(loop, tenant_rate=50, margin=0.0)
        slots: dict[str, list[float]] = {f"c{i}": [] for i in range(conversations)}

        async def one(conversation_id: str) -> None:
            slots[conversation_id].append(await limiter.acquire(conversation_id, "tenant"))

        # every message of every conversation asks at once
        async with asyncio.TaskGroup() as group:
            for _ in range(per_conversation):
                for conversation_id in slots:
                    group.create_task(one(conversation_id))
        return slots

    slots = run_virtual(main)
    every = [t for times in slots.values() for t in times]
    assert len(every) == conversations * per_conversation
    assert most_in_window(every, 1.0) <= 50
    for times in slots.values():
        assert_teams_windows(times)
    # the tenant's rate is the bottleneck: 3,000 at 50 per second take 60 windows, slots 0 s to 59 s
    assert max(every) - START == pytest.approx(59.0)
    per_second = [sum(1 for t in every if int(t - START + TOLERANCE) == s) for s in range(60)]
    assert per_second == [50] * 60


def test_a_paused_conversation_holds_up_nobody_else() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[float, list[float]]:
        limiter = limiter_on(loop, tenant_rate=50)
        limiter.pause("slow", 100.0)
        slow = asyncio.create_task(limiter.acquire("slow", "t"))
        others = await asyncio.gather(*(limiter.acquire(f"c{i}", "t") for i in range(40)))
        return await slow, others

    slow, others = run_virtual(main)
    assert slow - START == pytest.approx(100.0)
    assert all(t == START for t in others)


def test_pause_holds_the_conversation_and_ready_in_tells_how_long() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[float, float, float, float]:
        limiter = limiter_on(loop)
        assert limiter.ready_in("c") == 0.0
        first = await limiter.acquire("c")
        limiter.pause("c", 5.0)
        waiting = limiter.ready_in("c")
        limiter.pause("c", 1.0)  # a shorter pause does not shorten the longer one
        second = await limiter.acquire("c")
        return first, waiting, second, limiter.ready_in("c")

    first, waiting, second, after = run_virtual(main)
    assert waiting == pytest.approx(5.0)
    assert second - first == pytest.approx(5.0)
    assert after == 0.0


def test_a_pause_that_arrives_while_waiting_for_the_tenant_is_honoured() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        limiter = limiter_on(loop, tenant_rate=1)
        await limiter.acquire("busy", "t")  # the tenant's one slot of this second
        waiting = asyncio.create_task(limiter.acquire("c", "t"))  # gets the slot at +1 s
        await asyncio.sleep(0.5)
        limiter.pause("c", 3.0)  # say a 429 for an earlier message of "c" came back
        return [await waiting]

    (slot,) = run_virtual(main)
    assert slot - START >= 3.5 - TOLERANCE


def test_callers_of_one_conversation_are_served_in_order() -> None:
    async def main(loop: VirtualTimeLoop) -> list[int]:
        limiter = limiter_on(loop)
        served: list[int] = []

        async def one(number: int) -> None:
            await limiter.acquire("c")
            served.append(number)

        async with asyncio.TaskGroup() as group:
            for number in range(30):
                group.create_task(one(number))
        return served

    assert run_virtual(main) == list(range(30))


def test_a_cancelled_caller_leaves_the_others_on_schedule() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        limiter = limiter_on(loop, margin=0.0)
        tasks = [asyncio.create_task(limiter.acquire("c")) for _ in range(12)]
        await asyncio.sleep(0.5)
        tasks[8].cancel()  # waiting for its slot at +2 s
        done = await asyncio.gather(*tasks, return_exceptions=True)
        return [t for t in done if isinstance(t, float)]

    times = run_virtual(main)
    assert len(times) == 11
    assert_teams_windows(times)


def test_a_fractional_tenant_rate_is_a_longer_window() -> None:
    assert rate_window(50.0) == Window(1.0, 50)
    assert rate_window(2.5) == Window(1.2, 3)
    assert rate_window(0.5) == Window(2.0, 1)

    async def main(loop: VirtualTimeLoop) -> list[float]:
        limiter = limiter_on(loop, tenant_rate=2.5, margin=0.0)
        return list(await asyncio.gather(*(limiter.acquire(f"c{i}", "t") for i in range(30))))

    times = run_virtual(main)
    assert most_in_window(times, 1.2) <= 3
    assert max(times) - START == pytest.approx(9 * 1.2)


def test_tenants_have_budgets_of_their_own() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        limiter = limiter_on(loop, tenant_rate=5)
        return list(await asyncio.gather(*(limiter.acquire(f"c{i}", f"tenant{i % 2}") for i in range(10))))

    assert all(t == START for t in run_virtual(main))


@pytest.mark.parametrize("seed", range(6))
def test_random_traffic_never_exceeds_a_window(seed: int) -> None:
    rng = random.Random(seed)
    conversations = [f"c{i}" for i in range(rng.randint(2, 40))]
    rate = rng.choice([3.0, 10.0, 50.0])

    async def main(loop: VirtualTimeLoop) -> dict[str, list[float]]:
        limiter = limiter_on(loop, tenant_rate=rate, margin=rng.choice([0.0, 0.05]))
        slots: dict[str, list[float]] = {c: [] for c in conversations}

        async def one(conversation_id: str, delay: float) -> None:
            await asyncio.sleep(delay)
            if rng.random() < 0.03:
                limiter.pause(conversation_id, rng.uniform(0.1, 3.0))
            slots[conversation_id].append(await limiter.acquire(conversation_id, "t"))

        async with asyncio.TaskGroup() as group:
            for _ in range(2500):
                # bursts to a few busy conversations, a trickle to the rest
                conversation_id = rng.choice(conversations[:3] if rng.random() < 0.5 else conversations)
                group.create_task(one(conversation_id, rng.uniform(0.0, 120.0)))
        return slots

    slots = run_virtual(main)
    assert sum(len(times) for times in slots.values()) == 2500
    for times in slots.values():
        assert_teams_windows(times)
    window = rate_window(rate)
    assert most_in_window([t for times in slots.values() for t in times], window.seconds) <= window.limit


def test_idle_conversations_are_forgotten() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[int, int]:
        limiter = limiter_on(loop, tenant_rate=100_000)
        await asyncio.gather(*(limiter.acquire(f"old{i}") for i in range(3000)))
        before = len(limiter._conversations)
        await asyncio.sleep(3700)
        await asyncio.gather(*(limiter.acquire(f"new{i}") for i in range(1200)))
        return before, len(limiter._conversations)

    before, after = run_virtual(main)
    assert before == 3000
    assert after <= 1200  # the old ones went when the table had doubled


def test_windows_are_checked() -> None:
    assert tuple(Window(s, n) for s, n in TEAMS) == TEAMS_CONVERSATION_WINDOWS
    with pytest.raises(ValueError, match="window"):
        Window(0.0, 3)
    with pytest.raises(ValueError, match="rate"):
        rate_window(0.0)
