"""kill -9 during a vote burst and during a broadcast, restart, twenty times: nothing is lost.

Method: the real bot runs as a separate process (``bot.cli.main(["serve"])``, what ``python -m bot
serve`` runs: TAPAAMO_ENV=dev, a SQLite file, job tick 0.05 s, job lease 1 s) and talks to a
FakeConnector in the test process, which is the serviceUrl of every activity. Two things differ
from a plain ``python -m bot serve``, both in serve_bot.py: each bot process is forked from a
process that imported the bot once (a restart then takes ~0.1 s instead of 1-2 s of imports), and
the inbound ledger takes over a dead process's unfinished claim after 1 s instead of 2 min.
Everything is seeded through /api/messages: a voting network with a session whose poll is opened
with ``poll #id``, and one network per cycle with three drafted sessions. Each of the twenty
cycles confirms one network's three drafts (a broadcast of three announcement jobs) and fires a
burst of votes by twenty new voters, then sends SIGKILL to the bot at a random moment -- in even
cycles a few milliseconds after the broadcast's first post reached the connector, in odd ones at a
random point of the vote burst -- and starts it again on the same file. The test client is Teams:
an activity that got no answer (connection refused or reset, a 5xx) is delivered again with the
same id until it is answered 2xx (a Retry-After is honoured).

Afterwards, read straight from the database and the connector's records:
  * every voter is counted exactly once, with the option they chose (voter keys recomputed with the
    poll's secret), and every vote was answered with the poll card;
  * every confirmed draft has its session, and every session's announcement reached its network's
    conversation, as did the poll card; sent_messages names one of the posts of each key;
  * no conversation got two posts under one sender key -- except a message that the connector had
    accepted when the bot died, before the bot could record it: that send is the unavoidable
    at-least-once window (no Bot Connector call is idempotent). At each kill the test compares what
    the connector accepted with what sent_messages holds; at most one send per job running may be
    cut per kill (TAPAAMO_JOB_CONCURRENCY jobs run side by side, each sending one message at a
    time), and every repeat of a key must be one that a kill cut;
  * no job ended dead or is left undone.
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from domain.participation import participant_key
from domain.polls import voter_key
from tests.fakes.connector import FakeConnector
from tests.reliability.support import (
    Activities,
    BotProcess,
    Delivery,
    TeamsClient,
    kill9_bot,
    posts_by_key,
    sqlite_rows,
    user,
    wait_until,
)

CYCLES = 20
VOTERS_PER_CYCLE = 20
DRAFTS_PER_CYCLE = 3
SEED = int(os.environ.get("RELIABILITY_SEED", "20260105"))
STALE_CLAIM_SECONDS = 1.0
CARD = "application/vnd.microsoft.card.adaptive"
JOB_CONCURRENCY = int(Settings.model_fields["job_concurrency"].default)


def options_of(n: int) -> int:
    return n % 6


@pytest.mark.slow
async def test_kill9_during_votes_and_broadcasts_loses_nothing_and_posts_once(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    db_file = tmp_path / "bot.db"
    async with FakeConnector(seed=SEED) as connector:
        bot = kill9_bot(db_file, tmp_path, STALE_CLAIM_SECONDS)
        acts = Activities(connector.url)
        await bot.start()
        try:
            async with TeamsClient(lambda: [bot.url]) as client:
                await _run(rng, bot, connector, acts, client, db_file)
        finally:
            await bot.stop()


async def _run(
    rng: random.Random,
    bot: BotProcess,
    connector: FakeConnector,
    acts: Activities,
    client: TeamsClient,
    db_file: Path,
) -> None:
    def sql(query: str, *params: Any) -> list[tuple[Any, ...]]:
        return sqlite_rows(db_file, query, params)

    # --- seed, through /api/messages -----------------------------------------------------------
    await client.deliver(acts.message('network create "Votes" weekly', conversation="19:votes"))
    await client.deliver(acts.message('schedule Votes "tomorrow 12:00"', conversation="19:votes"))
    [(vote_draft,)] = sql("SELECT id FROM drafts")
    await client.deliver(acts.invoke("session.confirm", {"draft": vote_draft}, conversation="19:votes"))
    [(vote_session,)] = sql("SELECT id FROM sessions WHERE draft_id = ?", vote_draft)
    await client.deliver(acts.message(f"poll #{vote_session}", conversation="19:votes"))
    [(poll_id, secret)] = sql("SELECT id, secret FROM polls")

    async def seed_network(c: int) -> None:
        conversation = f"19:net-{c}"
        await client.deliver(acts.message(f'network create "Net {c}" weekly', conversation=conversation))
        for hour in range(10, 10 + 2 * DRAFTS_PER_CYCLE, 2):
            await client.deliver(
                acts.message(f'schedule "Net {c}" "tomorrow {hour}:00"', conversation=conversation)
            )

    await asyncio.gather(*(seed_network(c) for c in range(CYCLES)))
    drafts: dict[int, list[int]] = {}
    for draft_id, conversation in sql(
        "SELECT d.id, n.home_conversation_id FROM drafts d JOIN networks n ON n.id = d.network_id "
        "WHERE d.status = 'pending'"
    ):
        drafts.setdefault(int(conversation.removeprefix("19:net-")), []).append(draft_id)
    assert sorted(drafts) == list(range(CYCLES))
    assert all(len(ids) == DRAFTS_PER_CYCLE for ids in drafts.values())

    loop = asyncio.get_running_loop()
    started = loop.time()
    # --- twenty kills ----------------------------------------------------------------------------
    deliveries: list[asyncio.Task[Delivery]] = []
    voted: dict[int, int] = {}
    in_doubt: dict[str, int] = {}  # sender key -> its posts a kill found accepted but not recorded
    gate = asyncio.Semaphore(10)

    async def vote(n: int) -> Delivery:
        data = {"poll": poll_id, "q": "work", "o": options_of(n)}
        activity = acts.invoke("poll.vote", data, sender=user(n), conversation="19:votes")
        async with gate:
            return await client.deliver(activity)

    async def confirm(c: int) -> list[Delivery]:
        conversation = f"19:net-{c}"
        return [
            await client.deliver(acts.invoke("session.confirm", {"draft": d}, conversation=conversation))
            for d in drafts[c]
        ]

    confirms: list[asyncio.Task[list[Delivery]]] = []
    for cycle in range(CYCLES):
        posted_before = len(connector.received)
        confirms.append(asyncio.create_task(confirm(cycle)))
        for i in range(VOTERS_PER_CYCLE):
            n = 1000 + cycle * 100 + i
            voted[n] = options_of(n)
            deliveries.append(asyncio.create_task(vote(n)))
        if cycle % 2 == 0:
            # during the broadcast: a few milliseconds after its first post reached the connector

            async def broadcasting(before: int = posted_before, c: int = cycle) -> bool:
                return any(
                    r.kind == "send" and r.conversation_id == f"19:net-{c}"
                    for r in connector.received[before:]
                )

            await wait_until(broadcasting, f"cycle {cycle}'s broadcast", timeout=30, every=0.002)
            await asyncio.sleep(rng.uniform(0.0, 0.06))
        else:
            await asyncio.sleep(rng.uniform(0.02, 0.4))  # somewhere in the vote burst
        await bot.kill()
        await asyncio.sleep(0.05)  # let the fake finish reading what reached it before the kill
        recorded = {key for (key,) in sql("SELECT key FROM sent_messages WHERE activity_id IS NOT NULL")}
        cut = []
        for (_, key), got in posts_by_key(connector).items():
            if key not in recorded and len(got) > in_doubt.get(key, 0):
                cut.append(key)  # accepted by the connector, unknown to the bot: sent again later
                in_doubt[key] = len(got)
        assert len(cut) <= JOB_CONCURRENCY, f"more sends cut by one kill than jobs run at once: {cut}"
        await bot.start(healthy=False)

    cycles_done = loop.time()
    # --- everything settles ------------------------------------------------------------------------
    answers = await asyncio.gather(*deliveries)
    await asyncio.gather(*confirms)
    confirmed = [d for ids in drafts.values() for d in ids]
    marks = ",".join("?" * len(confirmed))

    async def settled() -> bool:
        [(undone,)] = sql(
            "SELECT count(*) FROM jobs WHERE status IN ('running', 'failed') OR "
            "(status = 'pending' AND kind IN ('session.announce', 'poll.opened'))"
        )
        return undone == 0

    await wait_until(settled, "every announcement job to be done", timeout=60)

    # votes: each voter exactly once, with their option, each answered with the card
    stored = dict(sql("SELECT voter_key, option FROM votes WHERE poll_id = ?", poll_id))
    expected = {
        voter_key(secret, participant_key(user(n)["aadObjectId"], user(n)["id"])): o for n, o in voted.items()
    }
    lost = [
        n
        for n, o in voted.items()
        if stored.get(voter_key(secret, participant_key(user(n)["aadObjectId"], user(n)["id"]))) != o
    ]
    assert not lost, f"{len(lost)} votes lost: {lost[:10]}"
    assert stored == expected
    unanswered = [a for a in answers if not (a.body and a.body.get("type") == CARD)]
    assert not unanswered, f"{len(unanswered)} votes answered without their card: {unanswered[:3]}"

    # broadcasts: every session announced in its network's conversation, the poll card posted
    sessions = sql(
        f"SELECT s.id, n.home_conversation_id FROM sessions s JOIN networks n ON n.id = s.network_id "
        f"WHERE s.draft_id IN ({marks})",
        *confirmed,
    )
    assert len(sessions) == len(confirmed), "a confirmed draft has no session"
    posts = posts_by_key(connector)
    wanted = {(conversation, f"announce:{sid}") for sid, conversation in sessions}
    wanted.add(("19:votes", f"announce:{vote_session}"))
    wanted.add(("19:votes", f"poll:{poll_id}"))
    assert wanted - set(posts) == set(), "an announcement never arrived"
    assert set(posts) == wanted, "a post went to the wrong conversation"
    records = {
        key: (conversation, activity_id)
        for key, conversation, activity_id in sql(
            "SELECT key, conversation_id, activity_id FROM sent_messages"
        )
    }
    for (conversation, key), got in posts.items():
        # the bot's record of the send names one of the posts the connector accepted under the key
        assert records[key] in {(conversation, r.activity_id) for r in got}, key

    # nothing twice, but the messages a kill cut between the connector's acceptance and the record
    twice = {key: len(got) for (_, key), got in posts.items() if len(got) > 1}
    assert set(twice) <= set(in_doubt), f"posted twice outside the crash window: {twice}"
    assert all(times <= 1 + in_doubt[key] for key, times in twice.items()), (twice, in_doubt)
    [(dead,)] = sql("SELECT count(*) FROM jobs WHERE status = 'dead'")
    assert dead == 0
    print(  # noqa: T201 - the report of what the kills hit, shown with -s
        f"\n{CYCLES} kills, {len(voted)} votes, {len(wanted)} posts; {client.failed_attempts} failed "
        f"attempts redelivered; {len(in_doubt)} sends cut by a kill, {len(twice)} of them repeated; "
        f"cycles {cycles_done - started:.1f} s, settling {loop.time() - cycles_done:.1f} s"
    )
