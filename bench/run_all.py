"""Every benchmark, one after the other, and one table of their figures (what ``make bench`` runs).

    .venv/bin/python bench/run_all.py [--only week,votes] [--skip cadence] [--timeout 900]

Each bench runs as its own process (``python bench/<name>.py``); its output is shown as it comes
and its summary lines are collected:
- ``RESULT name=... value=... unit=... goal=... met=...`` lines (bench/common.py's ``result``), printed
  by week, report, cadence, votes and memory;
- the existing benches' own lines: turns' "throughput ratio tapaamo/echo at c=50: X (goal >= 2.0: met)"
  and its per-run lines, claims' "p50 ... p99 ... max ... per batch" under each backend, and
  broadcast's "ratio", "lost" and "goal met" lines.
The table (benchmark | figure | goal | met?) is printed and written to var/bench.md. The exit status
is 1 if a bench failed to run or a goal was missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHES = ("turns", "claims", "broadcast", "week", "report", "cadence", "votes", "memory")
RESULT = re.compile(r"^RESULT name=(\S+) value=(\S+) unit=(\S+) goal=(.*?) met=(yes|no|n/a)\s*$")


@dataclass
class Row:
    name: str
    value: str
    unit: str
    goal: str
    met: str  # yes, no, n/a

    @property
    def figure(self) -> str:
        return f"{self.value} {self.unit}" if self.unit not in ("-", "") else self.value


def parse_result_lines(lines: list[str]) -> list[Row]:
    rows = []
    for line in lines:
        match = RESULT.match(line.strip())
        if match:
            name, value, unit, goal, met = match.groups()
            rows.append(Row(name, value, unit, goal.strip() or "-", met))
    return rows


def parse_turns(lines: list[str]) -> list[Row]:
    rows = []
    for line in lines:
        match = re.match(
            r"^throughput ratio tapaamo/echo at c=50: ([\d.]+) \(goal >= ([\d.]+): (met|NOT met)\)", line
        )
        if match:
            ratio, goal, verdict = match.groups()
            rows.append(
                Row("turns.ratio_vs_echo", ratio, "x", f">= {goal}", "yes" if verdict == "met" else "no")
            )
        match = re.match(
            r"^(tapaamo|echo)\s+c=(\d+)\s+turns=\d+\s+p50=\s*([\d.]+) ms\s+"
            r"p99=\s*([\d.]+) ms.*?([\d.]+) turns/s",
            line,
        )
        if match and match.group(2) == "50":
            bot, _, _, p99, rate = match.groups()
            rows.append(Row(f"turns.{bot}_c50", rate, "turns/s", "-", "n/a"))
            if bot == "tapaamo":
                rows.append(Row("turns.tapaamo_c50_p99", p99, "ms", "-", "n/a"))
    return rows


def parse_claims(lines: list[str]) -> list[Row]:
    rows = []
    backend = "?"
    for line in lines:
        heading = re.match(r"^(\w+): ([\d,]+) pending jobs", line)
        if heading:
            backend = heading.group(1).lower()
            continue
        match = re.search(r"p50 ([\d.]+) ms\s+p99 ([\d.]+) ms\s+max ([\d.]+) ms per batch", line)
        if match:
            p50, p99, _ = match.groups()
            rows.append(Row(f"claims.p50.{backend}", p50, "ms", "-", "n/a"))
            rows.append(Row(f"claims.p99.{backend}", p99, "ms", "-", "n/a"))
    return rows


def parse_broadcast(lines: list[str]) -> list[Row]:
    text = "\n".join(lines)
    rows = []
    ratio = re.search(r"ratio\s+([\d.]+)\s+\(goal <= ([\d.]+)\)", text)
    elapsed = re.search(r"elapsed\s+([\d.]+) s", text)
    lost = re.search(r"lost\s+(\d+)", text)
    verdict = "yes" if re.search(r"^\s*goal met\s*$", text, re.M) else "no"
    if elapsed:
        rows.append(Row("broadcast.elapsed", elapsed.group(1), "s", "-", "n/a"))
    if ratio:
        rows.append(Row("broadcast.ratio", ratio.group(1), "x", f"<= {ratio.group(2)}, none lost", verdict))
    if lost:
        rows.append(
            Row("broadcast.lost", lost.group(1), "messages", "0", "yes" if lost.group(1) == "0" else "no")
        )
    return rows


PARSERS = {"turns": parse_turns, "claims": parse_claims, "broadcast": parse_broadcast}


@dataclass
class Run:
    bench: str
    code: int | None
    seconds: float
    rows: list[Row]
    load: float  # the 1-minute load average when it ended: other work on the machine skews timings


def run(bench: str, timeout: float) -> Run:
    command = [sys.executable, str(ROOT / "bench" / f"{bench}.py")]
    print(f"\n=== {bench}: {' '.join(command[1:])}", flush=True)
    began = time.monotonic()
    lines: list[str] = []
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    # Killed on a timer, so that a bench hanging without printing is stopped too.
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        process.kill()

    watchdog = threading.Timer(timeout, kill)
    watchdog.start()
    try:
        for line in process.stdout:
            print(f"  {line}", end="", flush=True)
            lines.append(line.rstrip("\n"))
        code: int | None = process.wait()
    finally:
        watchdog.cancel()
    if timed_out.is_set():
        print(f"  ! {bench} killed after {timeout:.0f} s")
        code = None
    seconds = time.monotonic() - began
    rows = parse_result_lines(lines) + PARSERS.get(bench, lambda _: [])(lines)
    print(f"=== {bench}: exit {code}, {seconds:.0f} s, {len(rows)} figures", flush=True)
    return Run(bench, code, seconds, rows, os.getloadavg()[0])


def table(runs: list[Run]) -> str:
    out = ["| benchmark | figure | goal | met? |", "|---|---|---|---|"]
    for outcome in runs:
        if outcome.code != 0 and not any(row.met == "no" for row in outcome.rows):
            status = "timed out" if outcome.code is None else f"exit {outcome.code}"
            out.append(f"| {outcome.bench} | {status} after {outcome.seconds:.0f} s | runs to the end | no |")
        if not outcome.rows and outcome.code == 0:
            out.append(f"| {outcome.bench} | (no figures found in its output) | - | - |")
        for row in outcome.rows:
            met = {"yes": "yes", "no": "**no**", "n/a": "-"}[row.met]
            out.append(f"| {row.name} | {row.figure} | {row.goal} | {met} |")
    return "\n".join(out)


def context() -> str:
    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    dirty = " (with uncommitted changes)" if git("status", "--porcelain") else ""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{datetime.now():%Y-%m-%d %H:%M}, commit {git('rev-parse', '--short', 'HEAD')}{dirty}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load} at the end"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated benches to run")
    parser.add_argument("--skip", default="", help="comma-separated benches to leave out")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per bench")
    parser.add_argument("--out", default=str(ROOT / "var" / "bench.md"))
    args = parser.parse_args()
    chosen = [b for b in (args.only.split(",") if args.only else BENCHES) if b]
    unknown = [b for b in chosen if b not in BENCHES]
    if unknown:
        parser.error(f"unknown bench(es): {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    skipped = set(filter(None, args.skip.split(",")))
    began = time.monotonic()
    runs = [run(bench, args.timeout) for bench in chosen if bench not in skipped]
    markdown = table(runs)
    total = time.monotonic() - began
    report = (
        f"# Tapaamo benchmarks\n\n{context()}; {total / 60:.1f} min in all.\n\n{markdown}\n\n"
        + "Time per bench (1-minute load average at its end): "
        + ", ".join(f"{r.bench} {r.seconds:.0f} s ({r.load:.1f})" for r in runs)
        + ".\n"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    print("\n" + markdown)
    print(f"\n(written to {out}; {total / 60:.1f} min)")
    failed = any(r.code != 0 for r in runs) or any(row.met == "no" for r in runs for row in r.rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
