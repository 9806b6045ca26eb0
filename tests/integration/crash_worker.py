"""A job worker run as a subprocess by test_jobs_crash.py, which kills it with SIGKILL mid-batch.

Each job's effect is a line "<n> <dedupe key>" appended to a file. With ``--stall-at N`` the
worker writes job N's line, then "STALLED", then hangs inside the batch until it is killed. It
exits by itself once no job is pending, failed or running.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import timedelta
from typing import Any

from domain.clock import SystemClock
from scheduling.worker import JobRunner
from storage.db import Database
from storage.repositories import SqlJobStore


async def main(url: str, effects: str, stall_at: int, batch_size: int, lease_seconds: float) -> None:
    db = Database.connect(url)
    fd = os.open(effects, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    async def effect(payload: dict[str, Any]) -> None:
        os.write(fd, f"{payload['n']} {payload['key']}\n".encode())
        if payload["n"] == stall_at:
            os.write(fd, b"STALLED\n")
            await asyncio.Event().wait()  # until SIGKILL

    runner = JobRunner(
        SqlJobStore(db, SystemClock()),
        SystemClock(),
        {"effect": effect},
        batch_size=batch_size,
        lease=timedelta(seconds=lease_seconds),
    )
    try:
        while True:
            if await runner.run_due():
                continue
            counts = await runner.counts()
            if counts["pending"] + counts["failed"] + counts["running"] == 0:
                return
            # Jobs of the killed worker are still leased: look again shortly.
            await asyncio.sleep(0.05)
    finally:
        os.close(fd)
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("effects")
    parser.add_argument("--stall-at", type=int, default=-1)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--lease-seconds", type=float, default=1.0)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.effects, args.stall_at, args.batch_size, args.lease_seconds))
