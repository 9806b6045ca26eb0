"""The behaviour every implementation of the storage ports shares: in memory, SQLite, PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.clock import FakeClock
from domain.conversations import ConversationRef
from domain.jobs import JobStatus, NewJob
from tests.integration.conftest import Stores

HELSINKI = ZoneInfo("Europe/Helsinki")


def a_ref(conversation_id: str = "a:1", **changes: object) -> ConversationRef:
    values: dict[str, object] = {
        "conversation_id": conversation_id,
        "service_url": "https://smba.trafficmanager.net/emea/",
        "channel_id": "msteams",
        "kind": "personal",
        "tenant_id": "tenant-1",
        "bot_id": "28:bot",
        "user_id": "29:user",
        "user_aad_id": "aad-1",
        "locale": "fi-FI",
        "reference": {"conversation": {"id": conversation_id}, "serviceUrl": "https://x/"},
        "updated_at": datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    }
    values.update(changes)
    return ConversationRef(**values)  # type: ignore[arg-type]


def a_job(key: str, due_at: datetime, kind: str = "remind", **payload: object) -> NewJob:
    return NewJob(kind=kind, payload=dict(payload) or {"session_id": 1}, due_at=due_at, dedupe_key=key)


class TestConversationRefs:
    async def test_upsert_then_get_round_trips(self, stores: Stores) -> None:
        ref = a_ref(updated_at=datetime(2026, 1, 5, 11, 0, tzinfo=HELSINKI))
        await stores.conversations.upsert(ref)

        got = await stores.conversations.get("a:1")

        assert got == ref
        assert got is not None
        assert got.updated_at.utcoffset() == timedelta(0)

    async def test_upsert_is_idempotent_and_replaces(self, stores: Stores) -> None:
        await stores.conversations.upsert(a_ref())
        await stores.conversations.upsert(a_ref())
        newer = a_ref(locale="sv-FI", service_url="https://smba.trafficmanager.net/amer/", user_id=None)
        await stores.conversations.upsert(newer)

        assert await stores.conversations.count() == 1
        assert await stores.conversations.get("a:1") == newer

    async def test_remove(self, stores: Stores) -> None:
        await stores.conversations.upsert(a_ref("a:1"))
        await stores.conversations.upsert(a_ref("19:chan@thread.tacv2", kind="channel"))

        assert await stores.conversations.remove("a:1") is True
        assert await stores.conversations.remove("a:1") is False
        assert await stores.conversations.get("a:1") is None
        assert await stores.conversations.count() == 1

    async def test_naive_datetimes_are_refused(self, stores: Stores) -> None:
        with pytest.raises(ValueError, match="naive"):
            await stores.conversations.upsert(a_ref(updated_at=datetime(2026, 1, 5, 9, 0)))


class TestAuditLog:
    async def test_entries_of_a_subject_oldest_first(self, stores: Stores, clock: FakeClock) -> None:
        later, earlier = clock.now() + timedelta(minutes=5), clock.now()
        await stores.audit.record(
            actor_id="aad-1", action="network.edit", subject="network:1", details={"name": "B"}, at=later
        )
        await stores.audit.record(actor_id="aad-2", action="network.create", subject="network:1", at=earlier)
        await stores.audit.record(actor_id="aad-1", action="network.create", subject="network:2", at=earlier)

        entries = await stores.audit.entries("network:1")

        assert [(e["action"], e["actor_id"], e["at"], e["details"]) for e in entries] == [
            ("network.create", "aad-2", earlier, None),
            ("network.edit", "aad-1", later, {"name": "B"}),
        ]
        assert await stores.audit.entries("network:3") == []

    async def test_purge(self, stores: Stores, clock: FakeClock) -> None:
        await stores.audit.record(actor_id="a", action="x", subject="s", at=clock.now() - timedelta(days=400))
        await stores.audit.record(actor_id="a", action="y", subject="s", at=clock.now())

        assert await stores.audit.purge(clock.now() - timedelta(days=365)) == 1
        assert [e["action"] for e in await stores.audit.entries("s")] == ["y"]


class TestInboundLedger:
    async def test_first_delivery_claims_redelivery_does_not(self, stores: Stores, clock: FakeClock) -> None:
        assert await stores.inbound.claim("act-1", clock.now()) is True
        assert await stores.inbound.claim("act-1", clock.now()) is False
        assert await stores.inbound.claim("act-2", clock.now()) is True

    async def test_finish_keeps_the_response(self, stores: Stores, clock: FakeClock) -> None:
        await stores.inbound.claim("act-1", clock.now())
        assert await stores.inbound.response("act-1") is None  # still being handled

        await stores.inbound.finish("act-1", {"status": 200, "body": {"type": "message"}})

        assert await stores.inbound.response("act-1") == {"status": 200, "body": {"type": "message"}}
        assert await stores.inbound.claim("act-1", clock.now()) is False

    async def test_finish_without_response(self, stores: Stores, clock: FakeClock) -> None:
        await stores.inbound.claim("act-1", clock.now())
        await stores.inbound.finish("act-1", None)

        assert await stores.inbound.response("act-1") is None
        assert await stores.inbound.claim("act-1", clock.now()) is False

    async def test_release_lets_a_redelivery_try_again(self, stores: Stores, clock: FakeClock) -> None:
        await stores.inbound.claim("act-1", clock.now())
        await stores.inbound.release("act-1")

        assert await stores.inbound.claim("act-1", clock.now()) is True

    async def test_a_claim_left_by_a_dead_process_can_be_taken_over(
        self, stores: Stores, clock: FakeClock
    ) -> None:
        await stores.inbound.claim("act-1", clock.now())
        clock.advance(seconds=30)
        assert await stores.inbound.claim("act-1", clock.now()) is False  # the first turn may still run
        clock.advance(minutes=3)
        assert await stores.inbound.claim("act-1", clock.now()) is True  # it died: try again
        await stores.inbound.finish("act-1", None)
        clock.advance(minutes=10)
        assert await stores.inbound.claim("act-1", clock.now()) is False  # done is done

    async def test_begin_claims_and_records_the_conversation_at_once(
        self, stores: Stores, clock: FakeClock
    ) -> None:
        ref = a_ref("a:9", updated_at=clock.now())
        assert await stores.inbound.begin("a:9|act-1", ref) is True
        assert await stores.conversations.get("a:9") == ref
        newer = a_ref("a:9", locale="sv-SE", updated_at=clock.now())
        assert await stores.inbound.begin("a:9|act-1", newer) is False  # a redelivery writes nothing
        assert (await stores.conversations.get("a:9")).locale == "fi-FI"  # type: ignore[union-attr]
        assert await stores.inbound.begin(None, newer) is True  # no id: no claim, the reference still
        assert (await stores.conversations.get("a:9")).locale == "sv-SE"  # type: ignore[union-attr]
        clock.advance(minutes=3)
        assert await stores.inbound.begin("a:9|act-1", a_ref("a:9", updated_at=clock.now())) is True  # stale

    async def test_finish_many_finishes_each_with_its_response(
        self, stores: Stores, clock: FakeClock
    ) -> None:
        for key in ("k1", "k2", "k3"):
            await stores.inbound.begin(key, a_ref(updated_at=clock.now()))
        await stores.inbound.finish_many([("k1", {"statusCode": 200}), ("k2", None)])
        assert await stores.inbound.response("k1") == {"statusCode": 200}
        assert await stores.inbound.response("k2") is None
        clock.advance(minutes=10)
        assert await stores.inbound.claim("k1", clock.now()) is False  # finished: never again
        assert await stores.inbound.claim("k2", clock.now()) is False
        assert await stores.inbound.claim("k3", clock.now()) is True  # left unfinished: taken over

    async def test_purge_forgets_old_activities(self, stores: Stores, clock: FakeClock) -> None:
        await stores.inbound.claim("old", clock.now() - timedelta(hours=49))
        await stores.inbound.claim("new", clock.now())

        assert await stores.inbound.purge(clock.now() - timedelta(hours=48)) == 1
        assert await stores.inbound.claim("old", clock.now()) is True
        assert await stores.inbound.claim("new", clock.now()) is False


class TestJobStore:
    async def test_enqueue_with_the_same_dedupe_key_keeps_one_job(
        self, stores: Stores, clock: FakeClock
    ) -> None:
        first = await stores.jobs.enqueue(a_job("remind:1", clock.now(), session_id=1))
        again = await stores.jobs.enqueue(a_job("remind:1", clock.now() + timedelta(hours=1), session_id=2))
        other = await stores.jobs.enqueue(a_job("remind:2", clock.now()))

        assert again == first != other
        job = await stores.jobs.get(first)
        assert job is not None
        assert (job.payload, job.due_at, job.status, job.attempts) == (
            {"session_id": 1},
            clock.now(),
            JobStatus.PENDING,
            0,
        )
        assert job.created_at == clock.now()
        assert (await stores.jobs.counts())["pending"] == 2

    async def test_counts_every_status(self, stores: Stores) -> None:
        assert await stores.jobs.counts() == {"pending": 0, "running": 0, "done": 0, "failed": 0, "dead": 0}

    async def test_lookups_of_unknown_jobs(self, stores: Stores) -> None:
        assert await stores.jobs.get(12345) is None
        assert await stores.jobs.by_dedupe_key("nope") is None

    async def test_claim_takes_due_jobs_only(self, stores: Stores, clock: FakeClock) -> None:
        now = clock.now()
        due = await stores.jobs.enqueue(a_job("due", now))
        await stores.jobs.enqueue(a_job("later", now + timedelta(seconds=1)))

        claimed = await stores.jobs.claim_due(now, 10, now + timedelta(minutes=2))

        assert [job.id for job in claimed] == [due]
        job = claimed[0]
        assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
        assert job.lease_until == now + timedelta(minutes=2)
        assert await stores.jobs.claim_due(now, 10, now + timedelta(minutes=2)) == []
        assert (await stores.jobs.counts())["running"] == 1

    async def test_claim_respects_limit_and_due_order(self, stores: Stores, clock: FakeClock) -> None:
        now = clock.now()
        for minutes in (3, 1, 4, 2, 5):
            await stores.jobs.enqueue(a_job(f"job:{minutes}", now - timedelta(minutes=minutes)))

        first = await stores.jobs.claim_due(now, 2, now + timedelta(minutes=2))
        rest = await stores.jobs.claim_due(now, 10, now + timedelta(minutes=2))

        assert [job.dedupe_key for job in first] == ["job:5", "job:4"]
        assert [job.dedupe_key for job in rest] == ["job:3", "job:2", "job:1"]

    async def test_complete(self, stores: Stores, clock: FakeClock) -> None:
        job_id = await stores.jobs.enqueue(a_job("k", clock.now()))
        await stores.jobs.claim_due(clock.now(), 1, clock.now() + timedelta(minutes=2))

        await stores.jobs.complete(job_id, clock.advance(seconds=3))

        job = await stores.jobs.get(job_id)
        assert job is not None
        assert (job.status, job.finished_at, job.lease_until) == (JobStatus.DONE, clock.now(), None)
        clock.advance(hours=1)
        assert await stores.jobs.claim_due(clock.now(), 10, clock.now() + timedelta(minutes=2)) == []

    async def test_fail_with_retry_is_claimed_again_when_due(self, stores: Stores, clock: FakeClock) -> None:
        job_id = await stores.jobs.enqueue(a_job("k", clock.now()))
        await stores.jobs.claim_due(clock.now(), 1, clock.now() + timedelta(minutes=2))
        retry_at = clock.now() + timedelta(seconds=30)

        await stores.jobs.fail(job_id, "ConnectorError: 503", retry_at)

        job = await stores.jobs.by_dedupe_key("k")
        assert job is not None
        assert (job.status, job.due_at, job.last_error, job.lease_until) == (
            JobStatus.FAILED,
            retry_at,
            "ConnectorError: 503",
            None,
        )
        clock.advance(seconds=29)
        assert await stores.jobs.claim_due(clock.now(), 10, clock.now() + timedelta(minutes=2)) == []
        clock.advance(seconds=1)
        [again] = await stores.jobs.claim_due(clock.now(), 10, clock.now() + timedelta(minutes=2))
        assert (again.id, again.attempts, again.status) == (job_id, 2, JobStatus.RUNNING)

    async def test_fail_without_retry_makes_it_dead(self, stores: Stores, clock: FakeClock) -> None:
        job_id = await stores.jobs.enqueue(a_job("k", clock.now()))
        await stores.jobs.claim_due(clock.now(), 1, clock.now() + timedelta(minutes=2))

        await stores.jobs.fail(job_id, "x" * 10_000, None)

        job = await stores.jobs.get(job_id)
        assert job is not None
        assert (job.status, job.finished_at) == (JobStatus.DEAD, clock.now())
        assert job.last_error is not None
        assert 100 < len(job.last_error) <= 4000
        assert (await stores.jobs.counts())["dead"] == 1
        clock.advance(days=30)
        assert await stores.jobs.claim_due(clock.now(), 10, clock.now() + timedelta(minutes=2)) == []

    async def test_only_a_running_job_can_be_completed_or_failed(
        self, stores: Stores, clock: FakeClock
    ) -> None:
        job_id = await stores.jobs.enqueue(a_job("k", clock.now()))
        await stores.jobs.complete(job_id, clock.now())  # never claimed
        assert (await stores.jobs.counts())["pending"] == 1

        await stores.jobs.claim_due(clock.now(), 1, clock.now() + timedelta(minutes=2))
        await stores.jobs.complete(job_id, clock.now())
        # A worker whose lease ran out reports late; the job stays done.
        await stores.jobs.fail(job_id, "late", clock.now() + timedelta(minutes=1))
        await stores.jobs.fail(job_id, "late", None)

        job = await stores.jobs.get(job_id)
        assert job is not None
        assert (job.status, job.last_error) == (JobStatus.DONE, None)

    async def test_expired_lease_is_claimed_again(self, stores: Stores, clock: FakeClock) -> None:
        job_id = await stores.jobs.enqueue(a_job("k", clock.now()))
        lease_until = clock.now() + timedelta(minutes=2)
        await stores.jobs.claim_due(clock.now(), 1, lease_until)  # ...and the worker dies

        clock.set(lease_until)
        assert await stores.jobs.claim_due(clock.now(), 10, clock.now() + timedelta(minutes=2)) == []
        clock.advance(seconds=1)
        [again] = await stores.jobs.claim_due(clock.now(), 10, clock.now() + timedelta(minutes=2))

        assert (again.id, again.attempts) == (job_id, 2)
        assert again.lease_until == clock.now() + timedelta(minutes=2)

    async def test_expired_leases_come_first(self, stores: Stores, clock: FakeClock) -> None:
        await stores.jobs.enqueue(a_job("stale", clock.now()))
        await stores.jobs.claim_due(clock.now(), 1, clock.now() + timedelta(seconds=10))
        clock.advance(minutes=1)
        await stores.jobs.enqueue(a_job("fresh", clock.now() - timedelta(days=1)))

        first = await stores.jobs.claim_due(clock.now(), 1, clock.now() + timedelta(minutes=2))

        assert [job.dedupe_key for job in first] == ["stale"]

    async def test_cancel_by_prefix(self, stores: Stores, clock: FakeClock) -> None:
        now = clock.now()
        for key in ("session:1:remind", "session:1:poll", "session:10:remind", "session:2:remind"):
            await stores.jobs.enqueue(a_job(key, now + timedelta(hours=1)))
        failed = await stores.jobs.enqueue(a_job("session:1:failed", now))
        running = await stores.jobs.enqueue(a_job("session:1:running", now - timedelta(seconds=1)))
        claimed = await stores.jobs.claim_due(now, 2, now + timedelta(minutes=2))
        assert {job.id for job in claimed} == {failed, running}
        await stores.jobs.fail(failed, "boom", now + timedelta(minutes=1))

        assert await stores.jobs.cancel("session:1:") == 3

        keys = ("session:1:remind", "session:1:poll", "session:1:failed", "session:1:running")
        assert [k for k in keys if await stores.jobs.by_dedupe_key(k) is not None] == ["session:1:running"]
        assert await stores.jobs.by_dedupe_key("session:10:remind") is not None
        assert await stores.jobs.by_dedupe_key("session:2:remind") is not None

    async def test_cancel_treats_wildcards_and_case_literally(self, stores: Stores, clock: FakeClock) -> None:
        for key in ("net_1:a", "netX1:a", "net%1:a", "net1:a", "NET_1:a", "net\\1:a"):
            await stores.jobs.enqueue(a_job(key, clock.now()))

        assert await stores.jobs.cancel("net_1:") == 1
        assert await stores.jobs.cancel("net%") == 1
        assert await stores.jobs.cancel("net\\") == 1
        assert await stores.jobs.by_dedupe_key("netX1:a") is not None
        assert await stores.jobs.by_dedupe_key("NET_1:a") is not None
        with pytest.raises(ValueError, match="empty prefix"):
            await stores.jobs.cancel("")

    async def test_a_cancelled_key_can_be_enqueued_again(self, stores: Stores, clock: FakeClock) -> None:
        first = await stores.jobs.enqueue(a_job("poll:7:open", clock.now()))
        await stores.jobs.cancel("poll:7:")

        second = await stores.jobs.enqueue(a_job("poll:7:open", clock.now()))

        assert second != first
        assert (await stores.jobs.counts())["pending"] == 1

    async def test_purge_finished(self, stores: Stores, clock: FakeClock) -> None:
        old = await stores.jobs.enqueue(a_job("old", clock.now()))
        await stores.jobs.enqueue(a_job("dead", clock.now()))
        for job in await stores.jobs.claim_due(clock.now(), 10, clock.now() + timedelta(minutes=2)):
            if job.id == old:
                await stores.jobs.complete(job.id, clock.now())
            else:
                await stores.jobs.fail(job.id, "boom", None)
        clock.advance(days=8)

        assert await stores.jobs.purge_finished(clock.now() - timedelta(days=7)) == 1
        assert await stores.jobs.get(old) is None
        assert (await stores.jobs.counts())["dead"] == 1


class TestSentMessages:
    async def test_first_activity_id_wins(self, stores: Stores, clock: FakeClock) -> None:
        await stores.sent.record(key="poll:1:card", conversation_id="c1", activity_id="act-1", at=clock.now())
        await stores.sent.record(key="poll:1:card", conversation_id="c1", activity_id="act-2", at=clock.now())

        assert await stores.sent.activity_id("poll:1:card") == "act-1"
        assert await stores.sent.activity_id("poll:2:card") is None

    async def test_failure_is_kept_and_a_later_success_replaces_it(
        self, stores: Stores, clock: FakeClock
    ) -> None:
        error = "ConnectorError: 403"
        await stores.sent.record_failure(key="k", conversation_id="c1", error=error, at=clock.now())
        assert await stores.sent.activity_id("k") is None
        assert await stores.sent.failure("k") == error

        await stores.sent.record(key="k", conversation_id="c1", activity_id="act-1", at=clock.now())

        assert await stores.sent.activity_id("k") == "act-1"
        assert await stores.sent.failure("k") is None

    async def test_a_failure_never_overwrites_a_success(self, stores: Stores, clock: FakeClock) -> None:
        await stores.sent.record(key="k", conversation_id="c1", activity_id="act-1", at=clock.now())
        await stores.sent.record_failure(key="k", conversation_id="c1", error="late", at=clock.now())

        assert await stores.sent.activity_id("k") == "act-1"
        assert await stores.sent.failure("k") is None
