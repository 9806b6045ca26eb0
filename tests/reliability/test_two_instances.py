"""Two bot instances on one PostgreSQL database behind one address: work is done once.

Method: a fresh PostgreSQL database is created for the test (and dropped after it); two real bot
processes (``python -m bot serve``, dev mode, job tick 0.1 s, batches of two jobs so that both
tickers keep competing for the same due jobs) are started on it at the same moment, so that they
also race to migrate it. The test client is the load balancer: each attempt goes to the next
instance in turn, and a delivery that is told to retry (503) or gets no answer is redelivered, with
the same activity id, to the other instance. Everything is seeded through /api/messages: six
networks in six conversations with two drafted sessions each, and a voting session whose poll is
opened with ``poll #id``. Then all twelve drafts are confirmed at once (a broadcast of twelve
announcement jobs that both instances' workers see), and forty voters vote at once, each vote
delivered to one instance and redelivered with the same id to the other -- half of them while the
first delivery is still being handled, half after it.

Checked directly in the database and at the fake connector: every announcement and the poll card
was posted exactly once to its conversation, each announcement job ran exactly once (done after one
attempt), sent_messages has one record per post; the votes table has exactly one row per voter with
their option; every redelivered vote got the first delivery's answer.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from domain.participation import participant_key
from domain.polls import voter_key
from storage.db import Database
from tests.fakes.connector import FakeConnector
from tests.reliability.support import (
    Activities,
    BotProcess,
    Delivery,
    TeamsClient,
    posts_by_key,
    user,
    wait_until,
)

NETWORKS = 6
DRAFTS_EACH = 2
VOTERS = 40
CARD = "application/vnd.microsoft.card.adaptive"


@pytest.mark.slow
async def test_two_instances_run_jobs_once_and_count_votes_once(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    env = {"TAPAAMO_JOB_TICK_SECONDS": "0.1", "TAPAAMO_JOB_BATCH_SIZE": "2"}
    async with FakeConnector(seed=3) as connector:
        bots = [BotProcess(fresh_postgres_url, tmp_path, env=env, name=f"bot-{n}") for n in "ab"]
        database = Database.connect(fresh_postgres_url)
        try:
            await asyncio.gather(*(bot.start() for bot in bots))  # both migrate the empty database
            async with TeamsClient(lambda: [bot.url for bot in bots]) as client:
                await _run(bots, connector, client, database)
        finally:
            await asyncio.gather(*(bot.stop() for bot in bots))
            await database.dispose()


async def _run(
    bots: list[BotProcess], connector: FakeConnector, client: TeamsClient, database: Database
) -> None:
    acts = Activities(connector.url, prefix="two")

    async def sql(query: str, **params: Any) -> list[Any]:
        async with database.read() as session:
            return list((await session.execute(text(query), params)).all())

    # --- seed through /api/messages, alternating between the instances --------------------------
    await client.deliver(acts.message('network create "Votes" weekly', conversation="19:votes"))
    await client.deliver(acts.message('schedule Votes "tomorrow 12:00"', conversation="19:votes"))
    [(vote_draft,)] = await sql("SELECT id FROM drafts")
    await client.deliver(acts.invoke("session.confirm", {"draft": vote_draft}, conversation="19:votes"))
    [(vote_session,)] = await sql("SELECT id FROM sessions")
    await client.deliver(acts.message(f"poll #{vote_session}", conversation="19:votes"))
    [(poll_id, secret)] = await sql("SELECT id, secret FROM polls")

    async def seed(c: int) -> None:
        conversation = f"19:pg-{c}"
        await client.deliver(acts.message(f'network create "Pg {c}" weekly', conversation=conversation))
        for hour in range(10, 10 + 2 * DRAFTS_EACH, 2):
            await client.deliver(
                acts.message(f'schedule "Pg {c}" "tomorrow {hour}:00"', conversation=conversation)
            )

    await asyncio.gather(*(seed(c) for c in range(NETWORKS)))
    drafts = await sql(
        "SELECT d.id, n.home_conversation_id FROM drafts d JOIN networks n ON n.id = d.network_id "
        "WHERE d.status = 'pending' ORDER BY d.id"
    )
    assert len(drafts) == NETWORKS * DRAFTS_EACH

    # --- a broadcast both workers see, and votes redelivered to the other instance -------------
    confirms = [
        client.deliver(acts.invoke("session.confirm", {"draft": d}, conversation=conversation))
        for d, conversation in drafts
    ]

    async def to(url: str, ballot: dict[str, Any]) -> Delivery:
        answer = await client.once(ballot, url)
        while answer.status == 503:  # told to retry: the other delivery is not finished yet
            await asyncio.sleep(answer.retry_after or 0.05)
            answer = await client.once(ballot, url)
        return answer

    async def vote_twice(n: int) -> tuple[Delivery, Delivery]:
        ballot = acts.invoke(
            "poll.vote", {"poll": poll_id, "q": "work", "o": n % 6}, sender=user(n), conversation="19:votes"
        )
        one, other = (bots[0].url, bots[1].url) if n % 2 else (bots[1].url, bots[0].url)
        if n % 4 >= 2:  # redelivered to the other instance after the first answer
            first = await to(one, ballot)
            return first, await to(other, ballot)
        # redelivered while the first delivery is under way (either may be the one handled)
        first, again = await asyncio.gather(to(one, ballot), to(other, ballot))
        return first, again

    results = await asyncio.gather(*confirms, *(vote_twice(n) for n in range(100, 100 + VOTERS)))
    votes = results[len(confirms) :]

    sessions = await sql(
        "SELECT s.id, n.home_conversation_id FROM sessions s JOIN networks n ON n.id = s.network_id"
    )
    assert len(sessions) == NETWORKS * DRAFTS_EACH + 1
    wanted = {(conversation, f"announce:{sid}") for sid, conversation in sessions} | {
        ("19:votes", f"poll:{poll_id}")
    }

    async def all_posted() -> bool:
        return set(posts_by_key(connector)) >= wanted

    await wait_until(all_posted, "every announcement to be posted", timeout=30)
    await asyncio.sleep(0.5)  # a second post of anything would have arrived by now

    # --- exactly once -------------------------------------------------------------------------
    posts = posts_by_key(connector)
    assert set(posts) == wanted
    assert {key: len(got) for key, got in posts.items() if len(got) != 1} == {}
    jobs = await sql(
        "SELECT dedupe_key, status, attempts FROM jobs WHERE kind IN ('session.announce', 'poll.opened')"
    )
    assert len(jobs) == len(wanted)
    assert {(status, attempts) for _, status, attempts in jobs} == {("done", 1)}, jobs
    records = Counter(
        key for (key,) in await sql("SELECT key FROM sent_messages WHERE activity_id IS NOT NULL")
    )
    assert {key for _, key in wanted} <= set(records)

    for (first, again), n in zip(votes, range(100, 100 + VOTERS), strict=True):
        assert first.status == 200, (n, first)
        assert first.body["type"] == CARD, (n, first)
        assert (again.status, again.body) == (200, first.body), (
            f"voter {n}: the redelivery got another answer"
        )
    stored = dict(await sql("SELECT voter_key, option FROM votes WHERE poll_id = :p", p=poll_id))
    expected = {
        voter_key(secret, participant_key(user(n)["aadObjectId"], user(n)["id"])): n % 6
        for n in range(100, 100 + VOTERS)
    }
    assert stored == expected
