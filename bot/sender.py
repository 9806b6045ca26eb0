"""The one way out for proactive messages: rate-limited, retried, deduplicated and recorded.

Every message has a key of ours ("announce:session:42"). A sent message's activity id is kept in
SentMessages under that key, so that a later update can target it and a redelivered job does not post
it twice. A message that cannot be sent is recorded as a failure and handed back with whether trying
the whole job again later could help; the durable job layer decides.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from bot.connector import ConnectorError, SentActivity
from bot.ratelimit import RateLimiter
from domain.clock import Clock
from domain.ports import SentMessages

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class Connector(Protocol):
    """What the sender needs of `bot.connector.ConnectorClient`."""

    async def send(
        self,
        service_url: str,
        conversation_id: str,
        activity: dict[str, Any],
        reply_to_id: str | None = None,
    ) -> SentActivity: ...

    async def update(
        self, service_url: str, conversation_id: str, activity_id: str, activity: dict[str, Any]
    ) -> SentActivity: ...


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One activity to post (or, with ``update_activity_id``, to put in place of an earlier one)."""

    key: str
    conversation_id: str
    service_url: str
    activity: dict[str, Any] = field(hash=False)
    tenant_id: str | None = None
    reply_to_id: str | None = None
    update_activity_id: str | None = None

    @property
    def is_update(self) -> bool:
        return self.update_activity_id is not None


class SendStatus(StrEnum):
    SENT = "sent"
    UPDATED = "updated"
    DUPLICATE = "duplicate"  # already sent under this key: not sent again
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SendOutcome:
    key: str
    conversation_id: str
    status: SendStatus
    activity_id: str | None = None
    attempts: int = 0
    http_status: int | None = None  # of the last failed attempt (0: no answer)
    error: str | None = None
    retryable: bool = False  # for a failure: whether trying the job again later could help

    @property
    def ok(self) -> bool:
        return self.status is not SendStatus.FAILED


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one send tries before it is a failure.

    429 waits its ``Retry-After`` (a conversation-wide pause) or, without one, a backoff; 408, 412,
    500, 502, 503, 504 and no answer at all wait an exponential backoff with jitter; other statuses
    fail at once. A ``Retry-After`` longer than ``max_retry_after`` fails the send as retryable, so
    that the job layer tries later instead of a worker waiting.
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 120.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay after failed attempt number ``attempt`` (1-based): doubling, capped, jittered by half."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return rng.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True, slots=True)
class _Retry:
    delay: float  # seconds before the next attempt; the limiter may add a conversation pause


@dataclass(slots=True)
class _Lane:
    """The messages of one conversation in a `send_many` batch, sent in order, one at a time."""

    items: deque[tuple[int, OutboundMessage]] = field(default_factory=deque)
    attempt: int = 0  # of the head message: 0 before its first attempt


class Sender:
    """Sends proactive messages and card updates through the rate limiter, with retries."""

    def __init__(
        self,
        connector: Connector,
        sent_messages: SentMessages,
        clock: Clock,
        limiter: RateLimiter,
        *,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
        concurrency: int = 16,
    ) -> None:
        self._connector = connector
        self._sent = sent_messages
        self._clock = clock
        self._limiter = limiter
        self._retry = retry or RetryPolicy()
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._concurrency = max(1, concurrency)
        # keys of plain sends under way here, so that two at once with one key post once
        self._in_flight: dict[str, asyncio.Event] = {}

    async def activity_id(self, key: str) -> str | None:
        """The activity id of the message sent under ``key``, to update it in place."""
        return await self._sent.activity_id(key)

    async def send(self, message: OutboundMessage) -> SendOutcome:
        """Send one message, retrying as `RetryPolicy` says; never raises for a connector failure."""
        early = await self._begin(message)
        if early is not None:
            return early
        try:
            attempt = 1
            while True:
                step = await self._attempt(message, attempt)
                if isinstance(step, SendOutcome):
                    return step
                if step.delay > 0:
                    await self._sleep(step.delay)
                attempt += 1
        finally:
            self._end(message)

    async def send_by(self, message: OutboundMessage, deadline: float) -> SendOutcome | None:
        """Send a turn's reply through the limiter, giving up at ``deadline`` (event-loop time).

        The reply shares the conversation's windows with every proactive message and honours a 429's
        Retry-After. It is neither deduplicated nor recorded (a turn is, by its activity id). None
        when it could not go before the deadline: the caller hands it to the durable jobs, where
        `send` tries again under the same key. A refusal that retrying cannot help is a FAILED
        outcome.
        """
        loop = asyncio.get_running_loop()
        attempt = 1
        while True:
            left = deadline - loop.time()
            if left <= 0 or self._limiter.ready_in(message.conversation_id) > left:
                return None
            try:
                # Per conversation only: the tenant's rate paces what Tapaamo sends of itself, and
                # a turn's reply is one answer to one message a person sent.
                slot = await asyncio.wait_for(
                    self._limiter.acquire(message.conversation_id, message.tenant_id, tenant_rate=False), left
                )
            except TimeoutError:
                return None
            try:
                result = await self._connector.send(
                    message.service_url, message.conversation_id, message.activity, message.reply_to_id
                )
            except ConnectorError as error:
                if not error.retryable:
                    log.warning(
                        "reply %s refused (status %s): %s",
                        message.key,
                        error.status,
                        error,
                        extra={"conversation": message.conversation_id, "key": message.key},
                    )
                    return self._outcome(
                        message,
                        SendStatus.FAILED,
                        attempts=attempt,
                        http_status=error.status,
                        error=str(error),
                    )
                delay = self._retry.backoff(attempt, self._rng)
                if error.status == 429:
                    self._limiter.refund(message.conversation_id, message.tenant_id, slot)
                    pause = error.retry_after if error.retry_after is not None else delay
                    self._limiter.pause(message.conversation_id, pause)
                    delay = 0.0
                if attempt >= self._retry.max_attempts or loop.time() + delay >= deadline:
                    return None
                if delay > 0:
                    await self._sleep(delay)
                attempt += 1
                continue
            return self._outcome(message, SendStatus.SENT, activity_id=result.id, attempts=attempt)

    async def send_many(
        self, messages: Iterable[OutboundMessage], concurrency: int | None = None
    ) -> list[SendOutcome]:
        """Send a batch through at most ``concurrency`` workers; outcomes in the order of ``messages``.

        The messages of one conversation go in their order, one at a time. A conversation that has to
        wait (its windows are full, a Retry-After, a backoff) steps out of the queue until it may go
        again, so that meanwhile the workers serve other conversations and the tenant's rate is the
        only bottleneck of a broadcast.
        """
        items = list(messages)
        outcomes: list[SendOutcome | None] = [None] * len(items)
        lanes: dict[str, _Lane] = {}
        for index, message in enumerate(items):
            lanes.setdefault(message.conversation_id, _Lane()).items.append((index, message))
        if not lanes:
            return []
        workers = max(1, min(concurrency or self._concurrency, len(lanes)))
        ready: asyncio.Queue[_Lane | None] = asyncio.Queue()
        for lane in lanes.values():
            ready.put_nowait(lane)
        remaining = len(lanes)

        def finish(lane: _Lane, outcome: SendOutcome) -> None:
            nonlocal remaining
            index, _ = lane.items.popleft()
            outcomes[index] = outcome
            lane.attempt = 0
            if lane.items:
                ready.put_nowait(lane)
                return
            remaining -= 1
            if remaining == 0:
                for _ in range(workers):
                    ready.put_nowait(None)

        async def requeue(lane: _Lane, delay: float) -> None:
            await self._sleep(delay)
            ready.put_nowait(lane)

        async def requeue_when_done(lane: _Lane, other: asyncio.Event) -> None:
            await other.wait()
            ready.put_nowait(lane)

        async def work(group: asyncio.TaskGroup) -> None:
            while (lane := await ready.get()) is not None:
                message = lane.items[0][1]
                if lane.attempt == 0:
                    other = None if message.is_update else self._in_flight.get(message.key)
                    if other is not None:
                        # the key is being sent elsewhere: waiting for it here could hold every worker
                        group.create_task(requeue_when_done(lane, other))
                        continue
                    early = await self._begin(message)
                    if early is not None:
                        finish(lane, early)
                        continue
                    lane.attempt = 1
                wait = self._limiter.ready_in(message.conversation_id)
                if wait > 0:
                    group.create_task(requeue(lane, wait))
                    continue
                step = await self._attempt(message, lane.attempt)
                if isinstance(step, _Retry):
                    lane.attempt += 1
                    wait = max(step.delay, self._limiter.ready_in(message.conversation_id))
                    group.create_task(requeue(lane, wait))
                    continue
                self._end(message)
                finish(lane, step)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(work(group))
        finally:
            for lane in lanes.values():
                if lane.items and lane.attempt > 0:
                    self._end(lane.items[0][1])  # cancelled mid-way: let other sends of the key go
        return [outcome for outcome in outcomes if outcome is not None]

    async def _begin(self, message: OutboundMessage) -> SendOutcome | None:
        """Claim a plain send's key; a DUPLICATE outcome if it was sent already (or a failure)."""
        if message.is_update:
            return None
        key = message.key
        while (other := self._in_flight.get(key)) is not None:
            await other.wait()
        self._in_flight[key] = asyncio.Event()
        try:
            existing = await self._sent.activity_id(key)
        except Exception as error:
            self._end(message)
            log.exception(
                "cannot tell whether %s was sent already; not sending it",
                key,
                extra={"conversation": message.conversation_id, "key": key},
            )
            return self._outcome(message, SendStatus.FAILED, error=repr(error), retryable=True)
        if existing is None:
            return None
        self._end(message)
        log.info(
            "%s was sent already as %s; not sending it again",
            key,
            existing,
            extra={"conversation": message.conversation_id, "key": key},
        )
        return self._outcome(message, SendStatus.DUPLICATE, activity_id=existing)

    def _end(self, message: OutboundMessage) -> None:
        if not message.is_update and (event := self._in_flight.pop(message.key, None)) is not None:
            event.set()

    async def _attempt(self, message: OutboundMessage, attempt: int) -> SendOutcome | _Retry:
        """One try: a slot from the limiter, one call; the outcome, or how long to wait for the next."""
        slot = await self._limiter.acquire(message.conversation_id, message.tenant_id)
        try:
            if message.update_activity_id is not None:
                result = await self._connector.update(
                    message.service_url, message.conversation_id, message.update_activity_id, message.activity
                )
            else:
                result = await self._connector.send(
                    message.service_url, message.conversation_id, message.activity, message.reply_to_id
                )
        except ConnectorError as error:
            if error.status == 429:
                self._limiter.refund(message.conversation_id, message.tenant_id, slot)
            return await self._after_error(message, attempt, error)
        except Exception as error:
            # not a refusal of the connector but a fault of ours (a body that is no JSON, ...):
            # trying again would do the same
            log.exception(
                "sending %s failed unexpectedly",
                message.key,
                extra={"conversation": message.conversation_id, "key": message.key},
            )
            return await self._fail(message, attempt, None, repr(error), retryable=False)
        return await self._succeed(message, attempt, result)

    async def _after_error(
        self, message: OutboundMessage, attempt: int, error: ConnectorError
    ) -> SendOutcome | _Retry:
        if not error.retryable:
            return await self._fail(message, attempt, error.status, str(error), retryable=False)
        if attempt >= self._retry.max_attempts:
            return await self._fail(message, attempt, error.status, str(error), retryable=True)
        delay = self._retry.backoff(attempt, self._rng)
        if error.status == 429:
            pause = error.retry_after if error.retry_after is not None else delay
            if pause > self._retry.max_retry_after:
                return await self._fail(message, attempt, 429, f"Retry-After {pause:g} s", retryable=True)
            # the whole conversation waits, not only this message; the limiter holds it back
            self._limiter.pause(message.conversation_id, pause)
            delay = 0.0
        log.info(
            "%s: connector answered %s (attempt %d); trying again",
            message.key,
            error.status,
            attempt,
            extra={
                "conversation": message.conversation_id,
                "key": message.key,
                "attempt": attempt,
                "http_status": error.status,
                "retry_after": error.retry_after,
            },
        )
        return _Retry(delay)

    async def _succeed(self, message: OutboundMessage, attempt: int, result: SentActivity) -> SendOutcome:
        activity_id = message.update_activity_id or result.id
        try:
            await self._sent.record(
                key=message.key,
                conversation_id=message.conversation_id,
                activity_id=activity_id,
                at=self._clock.now(),
            )
        except Exception:
            # the message is out: sending it again would be worse than not finding it later
            log.exception(
                "%s was sent as %s but could not be recorded",
                message.key,
                activity_id,
                extra={"conversation": message.conversation_id, "key": message.key},
            )
        status = SendStatus.UPDATED if message.is_update else SendStatus.SENT
        log.debug(
            "%s %s as %s",
            message.key,
            status.value,
            activity_id,
            extra={"conversation": message.conversation_id, "key": message.key, "attempt": attempt},
        )
        return self._outcome(message, status, activity_id=activity_id, attempts=attempt)

    async def _fail(
        self, message: OutboundMessage, attempt: int, status: int | None, error: str, *, retryable: bool
    ) -> SendOutcome:
        log.warning(
            "%s to %s failed for good after %d attempt(s) (status %s, %s): %s",
            message.key,
            message.conversation_id,
            attempt,
            status,
            "retryable later" if retryable else "not retryable",
            error,
            extra={
                "conversation": message.conversation_id,
                "key": message.key,
                "attempt": attempt,
                "http_status": status,
            },
        )
        try:
            await self._sent.record_failure(
                key=message.key, conversation_id=message.conversation_id, error=error, at=self._clock.now()
            )
        except Exception:
            log.exception(
                "the failure of %s could not be recorded",
                message.key,
                extra={"conversation": message.conversation_id, "key": message.key},
            )
        return self._outcome(
            message, SendStatus.FAILED, attempts=attempt, http_status=status, error=error, retryable=retryable
        )

    @staticmethod
    def _outcome(message: OutboundMessage, status: SendStatus, **details: Any) -> SendOutcome:
        return SendOutcome(key=message.key, conversation_id=message.conversation_id, status=status, **details)
