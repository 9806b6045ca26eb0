"""The sender against a fake Bot Connector over HTTP: faults, Teams' limits, dedupe, updates.

A real ConnectorClient (aiohttp, no authentication) talks to `FakeConnector`; sent messages are kept
in the in-memory SentMessages. The waits are the limiter's and the retries' own, in real time.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.connector import ConnectorClient, ConnectorError, TokenProvider
from bot.ratelimit import RateLimiter
from bot.sender import OutboundMessage, RetryPolicy, Sender, SendStatus
from domain.clock import FakeClock
from tests.fakes.connector import FakeConnector
from tests.fakes.memory import MemorySentMessages

FAST_RETRIES = RetryPolicy(base_delay=0.02, max_delay=0.2)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def client(session: aiohttp.ClientSession, timeout: float = 5.0) -> ConnectorClient:
    return ConnectorClient(session, TokenProvider("", tenant_id="", authority_host="http://unused"), timeout)


def make_sender(
    connector: ConnectorClient,
    *,
    tenant_rate: float = 1000.0,
    retry: RetryPolicy = FAST_RETRIES,
    concurrency: int = 16,
) -> tuple[Sender, MemorySentMessages]:
    sent = MemorySentMessages()
    sender = Sender(
        connector,
        sent,
        FakeClock(),
        RateLimiter(tenant_rate=tenant_rate),
        retry=retry,
        rng=random.Random(5),
        concurrency=concurrency,
    )
    return sender, sent


def message(fake: FakeConnector, conversation_id: str, key: str, **fields: str) -> OutboundMessage:
    return OutboundMessage(
        key=key,
        conversation_id=conversation_id,
        service_url=fake.url,
        tenant_id="tenant",
        activity={"type": "message", "text": key},
        **fields,
    )


async def test_a_broadcast_through_faults_arrives_once_per_key_within_the_limits(
    session: aiohttp.ClientSession,
) -> None:
    conversations = [f"19:c{i}@thread.tacv2" for i in range(30)]
    async with FakeConnector(
        seed=3, fail_rate_429=0.1, retry_after="0.3", fail_rate_503=0.15, enforce_limits=True
    ) as fake:
        sender, sent = make_sender(client(session))
        batch = [message(fake, c, f"m:{c}:{n}") for c in conversations for n in range(10)]
        outcomes = await sender.send_many(batch, concurrency=8)

        assert [o.key for o in outcomes] == [m.key for m in batch]
        assert all(o.status is SendStatus.SENT for o in outcomes), [o for o in outcomes if not o.ok]
        statuses = Counter(r.status for r in fake.requests)
        assert statuses[429] > 0
        assert statuses[503] > 0  # the faults did happen
        assert fake.limit_rejections == 0  # and never did Teams' own limits have to say no
        for c in conversations:
            arrived = fake.for_conversation(c)
            assert [r.activity["text"] for r in arrived] == [
                f"m:{c}:{n}" for n in range(10)
            ]  # once, in order
            assert fake.max_in_window(c, 1.0) <= 7
            assert fake.max_in_window(c, 2.0) <= 8
        for outcome, received in zip(outcomes, fake.received, strict=False):
            assert await sent.activity_id(outcome.key) == outcome.activity_id
            assert received.activity_id is not None
        assert {o.activity_id for o in outcomes} == {r.activity_id for r in fake.received}


async def test_the_tenant_rate_holds_on_the_receiving_side(session: aiohttp.ClientSession) -> None:
    async with FakeConnector() as fake:
        sender, _ = make_sender(client(session), tenant_rate=50)
        started = time.monotonic()
        outcomes = await sender.send_many([message(fake, f"c{i}", f"k{i}") for i in range(120)])
        elapsed = time.monotonic() - started

    assert all(o.ok for o in outcomes)
    assert 2.0 <= elapsed < 3.0  # 50 at once, 50 a second later, 20 a second after that
    assert fake.max_in_window(None, 0.9) <= 50


async def test_a_failure_for_good_is_recorded_and_not_retried(session: aiohttp.ClientSession) -> None:
    async with FakeConnector() as fake:
        fake.force_status("gone", 403)
        sender, sent = make_sender(client(session))
        outcomes = await sender.send_many(
            [message(fake, "gone", "k:gone"), message(fake, "here", "k:here")], concurrency=1
        )

        failed, delivered = outcomes
        assert failed.status is SendStatus.FAILED
        assert (failed.attempts, failed.http_status, failed.retryable) == (1, 403, False)
        assert [r.status for r in fake.requests if r.conversation_id == "gone"] == [403]
        assert "403" in (await sent.failure("k:gone") or "")
        assert await sent.activity_id("k:gone") is None
        assert delivered.status is SendStatus.SENT


async def test_retryable_failures_stop_after_the_last_attempt_and_say_so(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeConnector() as fake:
        fake.force_status("down", 503)
        sender, sent = make_sender(client(session), retry=RetryPolicy(max_attempts=4, base_delay=0.01))
        outcome = await sender.send(message(fake, "down", "k:down"))

        assert outcome.status is SendStatus.FAILED
        assert (outcome.attempts, outcome.http_status, outcome.retryable) == (4, 503, True)
        assert len([r for r in fake.requests if r.conversation_id == "down"]) == 4
        assert "503" in (await sent.failure("k:down") or "")


async def test_no_answer_at_all_is_retried_then_retryable(session: aiohttp.ClientSession) -> None:
    fake = await FakeConnector().start()
    url = fake.url
    await fake.close()  # nobody listens there any more
    sender, sent = make_sender(client(session), retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    outcome = await sender.send(
        OutboundMessage(key="k", conversation_id="c", service_url=url, activity={"type": "message"})
    )

    assert (outcome.status, outcome.attempts, outcome.http_status, outcome.retryable) == (
        SendStatus.FAILED,
        3,
        0,
        True,
    )
    assert await sent.failure("k")


async def test_retry_after_is_honoured(session: aiohttp.ClientSession) -> None:
    async with FakeConnector() as fake:
        fake.force_status("c", 429, times=1, retry_after="0.4")
        sender, _ = make_sender(client(session))
        outcome = await sender.send(message(fake, "c", "k"))

        assert (outcome.status, outcome.attempts) == (SendStatus.SENT, 2)
        first, second = (r for r in fake.requests if r.conversation_id == "c")
        assert (first.status, second.status) == (429, 201)
        assert second.at - first.at >= 0.4


async def test_a_conversation_told_to_wait_holds_up_nobody_else(session: aiohttp.ClientSession) -> None:
    async with FakeConnector() as fake:
        fake.force_status("slow", 429, times=1, retry_after="1")
        sender, _ = make_sender(client(session))
        batch = [message(fake, "slow", "k:slow")] + [message(fake, f"c{i}", f"k{i}") for i in range(30)]
        started = time.monotonic()
        outcomes = await sender.send_many(batch, concurrency=1)  # one worker, and it is not kept waiting

        assert all(o.ok for o in outcomes)
        (slow,) = fake.for_conversation("slow")
        others = [r.at for r in fake.received if r.conversation_id != "slow"]
        assert max(others) - started < 0.5
        assert slow.at - started >= 1.0
        assert slow.at > max(others)


async def test_an_update_goes_in_place_of_the_recorded_activity(session: aiohttp.ClientSession) -> None:
    async with FakeConnector() as fake:
        sender, _ = make_sender(client(session))
        posted = await sender.send(message(fake, "c", "card:1"))
        activity_id = await sender.activity_id("card:1")
        assert activity_id is not None
        assert activity_id == posted.activity_id

        updated = await sender.send(
            OutboundMessage(
                key="card:1",
                conversation_id="c",
                service_url=fake.url,
                activity={"type": "message", "text": "version 2"},
                update_activity_id=activity_id,
            )
        )

        assert (updated.status, updated.activity_id) == (SendStatus.UPDATED, activity_id)
        post, put = fake.for_conversation("c")
        assert (post.kind, put.kind, put.method) == ("send", "update", "PUT")
        assert put.activity_id == activity_id
        assert put.activity["text"] == "version 2"
        assert await sender.activity_id("card:1") == activity_id


async def test_a_key_sent_already_is_not_sent_again(session: aiohttp.ClientSession) -> None:
    async with FakeConnector() as fake:
        sender, sent = make_sender(client(session))
        first = await sender.send(message(fake, "c", "announce:session:42"))
        again = await sender.send(message(fake, "c", "announce:session:42"))
        # at once, twice over, and in one batch
        together = await asyncio.gather(*(sender.send(message(fake, "d", "k:d")) for _ in range(3)))
        batch = await sender.send_many([message(fake, "e", "k:e"), message(fake, "e", "k:e")])
        # sent before a crash, the job now redelivered
        await sent.record(key="k:f", conversation_id="f", activity_id="a-1", at=FakeClock().now())
        redelivered = await sender.send(message(fake, "f", "k:f"))

        assert first.status is SendStatus.SENT
        assert (again.status, again.activity_id) == (SendStatus.DUPLICATE, first.activity_id)
        assert sorted(o.status for o in together) == ["duplicate", "duplicate", "sent"]
        assert [o.status for o in batch] == ["sent", "duplicate"]
        assert (redelivered.status, redelivered.activity_id) == (SendStatus.DUPLICATE, "a-1")
        assert Counter(r.conversation_id for r in fake.received) == {"c": 1, "d": 1, "e": 1}


async def test_a_reply_goes_to_its_thread(session: aiohttp.ClientSession) -> None:
    async with FakeConnector() as fake:
        sender, _ = make_sender(client(session))
        outcome = await sender.send(message(fake, "19:ch@thread.tacv2", "reply:1", reply_to_id="root-1"))

        assert outcome.status is SendStatus.SENT
        (reply,) = fake.received
        assert (reply.kind, reply.reply_to_id, reply.conversation_id) == (
            "reply",
            "root-1",
            "19:ch@thread.tacv2",
        )


async def test_the_fake_itself_enforces_teams_limits(session: aiohttp.ClientSession) -> None:
    """Without our limiter, the eighth message in a second is refused: the checks above have teeth."""
    async with FakeConnector(enforce_limits=True) as fake:
        connector = client(session)
        results = await asyncio.gather(
            *(connector.send(fake.url, "c", {"type": "message"}) for _ in range(8)), return_exceptions=True
        )

        refused = [r for r in results if isinstance(r, ConnectorError)]
        assert len(refused) == 1
        assert refused[0].status == 429
        assert refused[0].retry_after is not None
        assert 0 < refused[0].retry_after <= 1.0
        assert fake.limit_rejections == 1
        assert fake.max_in_window("c", 1.0) == 7


async def test_the_fake_creates_conversations_and_deletes_activities(session: aiohttp.ClientSession) -> None:
    async with FakeConnector() as fake:
        connector = client(session)
        created = await connector.create_conversation(fake.url, {"members": [{"id": "29:user"}]})
        sent = await connector.send(fake.url, created["id"], {"type": "message", "text": "hello"})
        assert sent.id is not None
        await connector.delete(fake.url, created["id"], sent.id)

        assert [r.kind for r in fake.for_conversation(created["id"])] == ["create", "send", "delete"]
        assert fake.received[0].activity == {"members": [{"id": "29:user"}]}
        assert fake.received[-1].activity_id == sent.id
