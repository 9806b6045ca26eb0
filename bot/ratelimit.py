"""Teams' sending limits, kept on our side so that Teams seldom has to answer 429.

Per bot and conversation Teams allows 7 messages in 1 s, 8 in 2 s, 60 in 30 s and 1,800 in an hour, all
at once; per app and tenant about 50 requests a second. `RateLimiter` counts each as a sliding
window (the strictest reading), hands out send slots that keep every one of them, and lets a 429's
``Retry-After`` pause one conversation.

Scheduling is per conversation: a conversation that has to wait (its windows are full, it was paused)
waits on its own lock and never holds up another one. Only conversations that may send now take a
place in their tenant's window, in the order they asked, so a paused conversation does not reserve
tenant capacity it cannot use.

The limiter lives in one process; a bot run in several processes would have to share it (or divide
the tenant rate between them).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

Now = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Clock jitter below this is ignored, so that a sleep that wakes a hair early does not loop for ever.
_EPSILON = 1e-6


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``limit`` sends in any ``seconds`` long interval."""

    seconds: float
    limit: int

    def __post_init__(self) -> None:
        if self.seconds <= 0 or self.limit < 1:
            raise ValueError(f"a window needs seconds > 0 and limit >= 1, not {self}")


TEAMS_CONVERSATION_WINDOWS: tuple[Window, ...] = (
    Window(1.0, 7),
    Window(2.0, 8),
    Window(30.0, 60),
    Window(3600.0, 1800),
)


def rate_window(rate: float) -> Window:
    """The sliding window that allows ``rate`` sends a second: 50.0 → 50 in 1 s, 2.5 → 3 in 1.2 s."""
    if rate <= 0:
        raise ValueError(f"rate must be positive, not {rate}")
    limit = max(1, math.ceil(rate))
    return Window(limit / rate, limit)


class _Timeline:
    """The times of past (and reserved) sends, enough of them to answer for every window."""

    __slots__ = ("_times", "_windows")

    def __init__(self, windows: Iterable[Window], margin: float) -> None:
        self._windows = tuple((w.seconds + margin, w.limit) for w in windows)
        self._times: deque[float] = deque(maxlen=max(limit for _, limit in self._windows))

    def earliest(self, now: float) -> float:
        """The first moment, not before ``now``, at which one more send keeps every window."""
        times = self._times
        if not times:
            return now
        at = max(now, times[-1])
        count = len(times)
        for seconds, limit in self._windows:
            if count >= limit:
                # the window ending at `at` must not hold the limit-th latest send any more
                at = max(at, times[-limit] + seconds)
        return at

    def add(self, at: float) -> None:
        self._times.append(at)

    def remove(self, at: float) -> bool:
        try:
            self._times.remove(at)
        except ValueError:
            return False
        return True

    def last(self) -> float | None:
        return self._times[-1] if self._times else None


@dataclass(slots=True)
class _Conversation:
    timeline: _Timeline
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    paused_until: float = -math.inf
    users: int = 0


class RateLimiter:
    """Send slots that keep Teams' per-conversation windows and a per-tenant rate.

    ``now`` is a monotonic clock in seconds and ``sleep`` its matching async sleep; tests pass a fake
    pair. The tenant rate is a sliding window too (`rate_window`). ``margin`` (seconds) widens every
    window a little: a slot is when a call may start, and the time it takes to reach Teams varies
    (with none, the receiving side of the tests counted 8 in a second now and then). 30 ms kept
    the fake connector's count within the limits under load, at the cost of 3 % of the tenant rate.
    """

    def __init__(
        self,
        *,
        tenant_rate: float = 50.0,
        conversation_windows: Iterable[Window] = TEAMS_CONVERSATION_WINDOWS,
        margin: float = 0.03,
        now: Now = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if margin < 0:
            raise ValueError("margin must not be negative")
        self._windows = tuple(conversation_windows)
        if not self._windows:
            raise ValueError("at least one conversation window is needed")
        self._margin = margin
        self._tenant_window = rate_window(tenant_rate)
        self._now = now
        self._sleep = sleep
        self._conversations: dict[str, _Conversation] = {}
        self._tenants: dict[str, _Timeline] = {}
        self._longest = max(w.seconds for w in self._windows) + margin
        self._prune_above = 1024

    async def acquire(
        self, conversation_id: str, tenant_id: str | None = None, *, tenant_rate: bool = True
    ) -> float:
        """Wait until one more message may go to ``conversation_id``, and count it as sent.

        Returns the slot (on the ``now`` clock). Callers for one conversation are served in the order
        they called. A slot is counted even if the send then fails or the caller is cancelled while
        waiting for it: that only ever makes the schedule safer. With ``tenant_rate`` False (a turn's
        reply) only the conversation's windows are kept.
        """
        conversation = self._conversation(conversation_id)
        tenant = self._tenant(tenant_id) if tenant_rate else None
        conversation.users += 1
        try:
            async with conversation.lock:
                while True:
                    now = self._now()
                    ready = max(conversation.timeline.earliest(now), conversation.paused_until)
                    if ready > now + _EPSILON:
                        await self._sleep(ready - now)
                        continue
                    # The conversation may send now: take the next place in the tenant's window.
                    slot = ready if tenant is None else max(tenant.earliest(now), ready)
                    if tenant is not None:
                        tenant.add(slot)
                    conversation.timeline.add(slot)
                    while (now := self._now()) < slot - _EPSILON:
                        await self._sleep(slot - now)
                    if conversation.paused_until > now + _EPSILON:
                        continue  # a 429 for this conversation came back while we waited
                    return slot
        finally:
            conversation.users -= 1
            if len(self._conversations) > self._prune_above:
                self._prune()

    def pause(self, conversation_id: str, seconds: float) -> None:
        """Hold every send to ``conversation_id`` for ``seconds`` from now (a 429's Retry-After)."""
        conversation = self._conversation(conversation_id)
        conversation.paused_until = max(conversation.paused_until, self._now() + max(0.0, seconds))

    def refund(self, conversation_id: str, tenant_id: str | None, slot: float) -> None:
        """Give back the ``slot`` of a call that Teams refused (429): it was not carried out.

        Without this a 429 would cost its tenant a second slot for the retry, and a broadcast with
        some throttling would take longer than the tenant's rate allows. The refused conversation
        does not send sooner for it: `pause` holds it for the Retry-After. (That Teams does not
        count a refused call is an assumption; if it does, the worst is one more 429, and so one
        more pause.)
        """
        conversation = self._conversations.get(conversation_id)
        if conversation is not None:
            conversation.timeline.remove(slot)
        self._tenant(tenant_id).remove(slot)

    def ready_in(self, conversation_id: str) -> float:
        """Seconds until ``conversation_id`` may send again (0 if it may now); the tenant not counted."""
        conversation = self._conversations.get(conversation_id)
        if conversation is None:
            return 0.0
        now = self._now()
        ready = max(conversation.timeline.earliest(now), conversation.paused_until)
        return max(0.0, ready - now)

    def _conversation(self, conversation_id: str) -> _Conversation:
        conversation = self._conversations.get(conversation_id)
        if conversation is None:
            conversation = _Conversation(_Timeline(self._windows, self._margin))
            self._conversations[conversation_id] = conversation
        return conversation

    def _tenant(self, tenant_id: str | None) -> _Timeline:
        key = tenant_id or ""
        timeline = self._tenants.get(key)
        if timeline is None:
            timeline = self._tenants[key] = _Timeline((self._tenant_window,), self._margin)
        return timeline

    def _prune(self) -> None:
        """Forget conversations whose every window has emptied, so that memory follows activity."""
        now = self._now()
        for conversation_id, conversation in list(self._conversations.items()):
            last = conversation.timeline.last()
            if (
                conversation.users == 0
                and conversation.paused_until <= now
                and (last is None or last <= now - self._longest)
            ):
                del self._conversations[conversation_id]
        self._prune_above = max(1024, 2 * len(self._conversations))
