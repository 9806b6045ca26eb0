"""What the benchmarks written after turns/claims/broadcast share: result lines, scratch databases,
bot processes and their memory.

Every benchmark ends with one or more lines

    RESULT name=<id> value=<number> unit=<unit> goal=<text> met=<yes|no>

that bench/run_all.py collects into one table (``goal`` may contain spaces: it runs up to `` met=``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # bot, storage, tests.fakes, when run as `python bench/x.py`

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def result(name: str, value: float, unit: str, goal: str, met: bool | None) -> None:
    """The line run_all.py parses; ``met`` None when the figure has no goal."""
    shown = f"{value:.4g}" if isinstance(value, float) else str(value)
    verdict = "n/a" if met is None else ("yes" if met else "no")
    print(f"RESULT name={name} value={shown} unit={unit} goal={goal or '-'} met={verdict}", flush=True)


def postgres_server() -> str:
    return (
        os.environ.get("TAPAAMO_BENCH_POSTGRES_URL")
        or os.environ.get("TAPAAMO_TEST_POSTGRES_URL")
        or DEFAULT_POSTGRES_URL
    )


async def _admin(url: str, statement: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def scratch_postgres(prefix: str = "tapaamo_bench") -> AsyncIterator[str]:
    """A fresh PostgreSQL database on the bench server, dropped afterwards; yields its URL."""
    from sqlalchemy.engine import make_url

    server = postgres_server()
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of ``pid`` in MiB, from /proc (Linux)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Process:
    """A child process of the bench (a bot, a connector), stopped with SIGINT then SIGKILL."""

    name: str
    popen: subprocess.Popen[bytes]
    url: str
    log: Path
    started: float  # time.perf_counter() just before Popen

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text()[-chars:]
        except OSError:
            return ""


def start_process(
    name: str, args: list[str], port: int, workdir: Path, env: dict[str, str] | None = None
) -> Process:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        began = time.perf_counter()
        popen = subprocess.Popen(
            [sys.executable, *args],
            cwd=workdir,  # no .env of the repository is read
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Process(name, popen, f"http://127.0.0.1:{port}", log, began)


def start_connector(workdir: Path) -> Process:
    """bench/turns.py's counting Bot Connector (answers every activity with an id; GET /count)."""
    port = free_port()
    return start_process(
        "connector", [str(ROOT / "bench" / "turns.py"), "--serve-connector", str(port)], port, workdir
    )


def start_bot(
    name: str, workdir: Path, database_url: str, extra: dict[str, str] | None = None, port: int | None = None
) -> Process:
    """``python -m bot serve`` in dev mode (no App ID) on a free port."""
    port = port or free_port()
    env = {
        "TAPAAMO_ENV": "dev",
        "TAPAAMO_APP_ID": "",
        "TAPAAMO_PORT": str(port),
        "TAPAAMO_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TAPAAMO_DATABASE_URL": database_url,
        "TAPAAMO_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **(extra or {}),
    }
    return start_process(name, ["-m", "bot", "serve"], port, workdir, env)


async def wait_http(
    session: Any, process: Process, path: str, method: str = "GET", within: float = 60
) -> None:
    """Until ``path`` answers below 500 (the process is up), or raise with its log."""
    import aiohttp

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
        try:
            async with session.request(method, process.url + path) as response:
                await response.read()
                if response.status < 500:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{process.name} did not answer {path} in {within:.0f} s:\n{process.tail()}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


# -- profiles ------------------------------------------------------------------------------------


@dataclass
class Spy:
    name: str
    process: subprocess.Popen[bytes]
    output: Path


def spy(name: str, pid: int, workdir: Path, rate: int = 200) -> Spy | None:
    """Sample ``pid`` with py-spy (every thread) until :func:`summarise` stops it; None if absent."""
    py_spy = Path(sys.executable).with_name("py-spy")
    if not py_spy.exists():
        print("  (py-spy is not installed in the venv: no profile)")
        return None
    output = workdir / f"{name}.folded"
    command = [str(py_spy), "record", "--pid", str(pid), "--rate", str(rate), "--threads"]
    command += ["--format", "raw", "--output", str(output), "--nonblocking"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # py-spy attaches
    return Spy(name, process, output)


def summarise(probe: Spy | None, top: int = 25) -> None:
    """Stop the profiler; print where the time went: threads, our functions (inclusive), leaves."""
    if probe is None:
        return
    probe.process.send_signal(signal.SIGINT)
    probe.process.wait(30)
    threads: dict[str, int] = {}
    ours: dict[str, int] = {}
    leaves: dict[str, int] = {}
    total = 0
    for line in probe.output.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack.split(";")
        total += count
        thread = frames[0].split(": ")[-1]
        threads[thread] = threads.get(thread, 0) + count
        leaves[frames[-1]] = leaves.get(frames[-1], 0) + count
        for frame in set(frames[1:]):
            if any(
                f"({package}/" in frame for package in ("bot", "dialogs", "domain", "storage", "scheduling")
            ):
                ours[frame] = ours.get(frame, 0) + count
    if not total:
        print(f"  py-spy recorded nothing for {probe.name}")
        return
    print(f"  py-spy, {probe.name}: {total} samples of busy threads")
    for title, table, rows in (
        ("threads", threads, 6),
        ("our code, inclusive", ours, top),
        ("leaves", leaves, top),
    ):
        print(f"  {title}:")
        for name, count in sorted(table.items(), key=lambda item: -item[1])[:rows]:
            print(f"    {count / total:6.1%}  {name}")
