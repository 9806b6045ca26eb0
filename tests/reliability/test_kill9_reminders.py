"""kill -9 during the personal reminders' fan-out: every reminder arrives, twice only in the window.

Method: the real bot as a subprocess (serve_bot.py, as in test_kill9.py: dev mode, a SQLite file,
job tick 0.05 s, job lease 1 s, fork server), the FakeConnector in the test process. Seeded through
/api/messages: ``NETWORKS`` networks, each with one session three days ahead, and ``FOLLOWERS``
people who follow every network from their own personal chat with Tapaamo (Teams lets a bot
write 1:1 only there). The bot runs on the real clock, so the test makes one network's personal
reminder job due now by setting its ``due_at`` in the database (it would fall due a day before
the session); then, a random few hundred milliseconds after the first reminder reached the
connector, it kills the bot with SIGKILL and starts it again -- once per network, so each kill
lands somewhere in a fan-out of ``FOLLOWERS`` sends. The reminder job, re-claimed once its lease
has run out, goes on where the sender's records say it stopped.

Checked from the connector's records and the database:
  * every follower got the reminder of every network in their personal chat;
  * a person got one twice only if the kill cut that send: the connector had accepted it and the
    bot had not recorded it in sent_messages when it died (no Bot Connector call is idempotent;
    the README's documented window). At most one send is cut per kill (the job sends one at a time);
  * every reminder job is done, none dead.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.fakes.connector import FakeConnector
from tests.reliability.support import (
    Activities,
    BotProcess,
    TeamsClient,
    kill9_bot,
    sqlite_rows,
    user,
    wait_until,
)

NETWORKS = 5
FOLLOWERS = 50
SEED = int(os.environ.get("RELIABILITY_SEED", "20260105"))
REMINDER = re.compile(r"^Reminder: (Remind \d+) meets")


def follower(n: int) -> dict[str, str]:
    return user(100 + n)


def chat_of(n: int) -> str:
    return f"a:follower-{n}"


@pytest.mark.slow
async def test_kill9_during_the_personal_reminder_fan_out_loses_none(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    db_file = tmp_path / "bot.db"
    async with FakeConnector(seed=SEED) as connector:
        bot = kill9_bot(db_file, tmp_path)
        acts = Activities(connector.url, prefix="rem")
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

    day = (datetime.now(ZoneInfo("Europe/Helsinki")) + timedelta(days=3)).date()
    when = f"{day.day}.{day.month}.{day.year} 12:00"
    for k in range(NETWORKS):
        home = f"19:remind-{k}"
        await client.deliver(acts.message(f'network create "Remind {k}" weekly', conversation=home))
        await client.deliver(acts.message(f'schedule "Remind {k}" "{when}"', conversation=home))
    for draft_id, home in sql(
        "SELECT d.id, n.home_conversation_id FROM drafts d JOIN networks n ON n.id = d.network_id"
    ):
        await client.deliver(acts.invoke("session.confirm", {"draft": draft_id}, conversation=home))

    async def follow_all(n: int) -> None:
        for k in range(NETWORKS):
            await client.deliver(
                acts.message(
                    f'follow "Remind {k}"',
                    sender=follower(n),
                    conversation=chat_of(n),
                    conversation_type="personal",
                )
            )

    await asyncio.gather(*(follow_all(n) for n in range(FOLLOWERS)))
    sessions = {
        str(name): int(session_id)
        for session_id, name in sql(
            "SELECT s.id, n.name FROM sessions s JOIN networks n ON n.id = s.network_id"
        )
    }
    assert sorted(sessions) == [f"Remind {k}" for k in range(NETWORKS)]
    [(pending,)] = sql(
        "SELECT count(*) FROM jobs WHERE kind = 'session.remind_personal' AND status = 'pending'"
    )
    assert pending == NETWORKS

    def reminders() -> Counter[tuple[str, str]]:
        """(network, personal chat) -> reminders the connector accepted."""
        got: Counter[tuple[str, str]] = Counter()
        for r in connector.received:
            text = str(r.activity.get("text") or "")
            match = REMINDER.match(text)
            if r.kind == "send" and r.conversation_id.startswith("a:follower-") and match:
                got[(match.group(1), r.conversation_id)] += 1
        return got

    def recorded() -> set[tuple[str, str]]:
        """(network, personal chat) of the reminders sent_messages holds."""
        by_session = {sid: name for name, sid in sessions.items()}
        found = set()
        for (key,) in sql("SELECT key FROM sent_messages WHERE key LIKE 'remind-personal:%'"):
            _, session_id, _, *user_id = str(key).split(":")
            n = int(":".join(user_id).removeprefix("29:user-")) - 100
            found.add((by_session[int(session_id)], chat_of(n)))
        return found

    in_doubt: Counter[tuple[str, str]] = Counter()
    midway = 0  # kills that landed inside a fan-out, not before or after it
    for k in range(NETWORKS):
        name = f"Remind {k}"
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        connection = sqlite3.connect(db_file, timeout=10)
        try:
            with connection:
                changed = connection.execute(
                    "UPDATE jobs SET due_at = ? WHERE kind = 'session.remind_personal' AND payload LIKE ?",
                    (now, f'%"session_id": {sessions[name]}}}%'),
                ).rowcount
        finally:
            connection.close()
        assert changed == 1

        async def fanning_out(name: str = name) -> bool:
            return any(network == name for network, _ in reminders())

        await wait_until(fanning_out, f"{name}'s reminders", timeout=30, every=0.002)
        await asyncio.sleep(rng.uniform(0.0, 0.12))
        await bot.kill()
        await asyncio.sleep(0.05)  # let the fake finish reading what reached it before the kill
        held = recorded()
        sent_so_far = sum(1 for network, _ in reminders() if network == name)
        midway += 0 < sent_so_far < FOLLOWERS
        cut = [key for key, times in reminders().items() if key not in held and times > in_doubt[key]]
        assert len(cut) <= 1, f"several sends were cut by one kill: {cut}"
        for key in cut:
            in_doubt[key] += 1
        await bot.start(healthy=False)

    async def settled() -> bool:
        [(undone,)] = sql(
            "SELECT count(*) FROM jobs WHERE kind = 'session.remind_personal' AND status <> 'done'"
        )
        return undone == 0

    await wait_until(settled, "every reminder job to be done", timeout=60)
    got = reminders()
    wanted = {(f"Remind {k}", chat_of(n)) for k in range(NETWORKS) for n in range(FOLLOWERS)}
    assert wanted - set(got) == set(), "a reminder never arrived"
    assert set(got) == wanted
    twice = {key: times for key, times in got.items() if times > 1}
    assert set(twice) <= set(in_doubt), f"sent twice outside the crash window: {twice}"
    assert all(times <= 1 + in_doubt[key] for key, times in twice.items()), (twice, in_doubt)
    assert recorded() == wanted
    [(dead,)] = sql("SELECT count(*) FROM jobs WHERE status = 'dead'")
    assert dead == 0
    assert midway >= NETWORKS // 2, "the kills missed the fan-outs: the test would prove little"
    print(  # noqa: T201 - what the kills hit, shown with -s
        f"\n{NETWORKS} kills in fan-outs of {FOLLOWERS}, {midway} inside one; {len(in_doubt)} sends cut, "
        f"{len(twice)} of them repeated"
    )
