"""A worker killed with SIGKILL in the middle of a batch: after a restart every job is done.

Delivery is at least once. The job whose effect was written just before the kill runs again
after its lease expires, and the duplicate is recognisable by its dedupe key; no job is lost and
no other job runs twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from domain.jobs import JobStatus, NewJob
from storage.db import Database
from storage.repositories import SqlJobStore

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("crash_worker.py")
JOBS = 60
STALL_AT = 25
BATCH = 10


async def wait_until(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 15.0) -> None:
    """Poll a real subprocess's effects. Another process can't be awaited on directly, so this
    looks every 50 ms, for at most ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def start_worker(url: str, effects: Path, *extra: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), url, str(effects), "--batch-size", str(BATCH), *extra, cwd=ROOT, env=env
    )


def effect_lines(effects: Path) -> list[str]:
    return effects.read_text().splitlines() if effects.exists() else []


async def test_a_worker_killed_mid_batch_loses_no_job(database: Database, tmp_path: Path) -> None:
    store = SqlJobStore(database)
    now = datetime.now(UTC)
    for n in range(JOBS):
        # Distinct due times: the worker's batches, and so the stalled one, are the same every run.
        due = now - timedelta(minutes=10) + timedelta(seconds=n)
        await store.enqueue(NewJob("effect", {"n": n, "key": f"effect:{n}"}, due, f"effect:{n}"))
    effects = tmp_path / "effects.txt"

    worker = await start_worker(database.url, effects, "--stall-at", str(STALL_AT))
    try:
        await wait_until(lambda: _has(effects, "STALLED"), "the worker to stall mid-batch")
    finally:
        worker.kill()  # SIGKILL: no cleanup, no rollback of what the batch did so far
        await worker.wait()
    assert worker.returncode == -signal.SIGKILL

    # Jobs before the stalled one are done; it and the rest of its batch are left running.
    counts = await store.counts()
    running = BATCH - STALL_AT % BATCH
    assert (counts["done"], counts["running"], counts["pending"]) == (
        STALL_AT,
        running,
        JOBS - STALL_AT - running,
    )
    stalled = await store.by_dedupe_key(f"effect:{STALL_AT}")
    assert stalled is not None
    assert stalled.status is JobStatus.RUNNING

    restarted = await start_worker(database.url, effects)
    try:
        await asyncio.wait_for(restarted.wait(), timeout=20)
    finally:
        if restarted.returncode is None:
            restarted.kill()
            await restarted.wait()
    assert restarted.returncode == 0

    runs = Counter(line.split()[1] for line in effect_lines(effects) if line != "STALLED")
    assert set(runs) == {f"effect:{n}" for n in range(JOBS)}, "a job was lost"
    assert {key for key, times in runs.items() if times > 1} == {f"effect:{STALL_AT}"}
    assert runs[f"effect:{STALL_AT}"] == 2
    assert (await store.counts())["done"] == JOBS
    again = await store.by_dedupe_key(f"effect:{STALL_AT}")
    assert again is not None
    assert (again.status, again.attempts) == (JobStatus.DONE, 2)


async def _has(effects: Path, marker: str) -> bool:
    return marker in effect_lines(effects)
