"""The web pages pass axe-core's WCAG 2.1 A and AA rules in headless Chromium, in fi, sv and en.

The bot runs in-process on a real port (the test harness, FakeClock, dev mode); networks, sessions,
check-ins and feedback are made through /api/messages as a coordinator and participants would.
``tests/e2e/axe_pages.mjs`` then loads every page in Debian's Chromium (playwright-core), runs
axe-core (tags wcag2a, wcag2aa, wcag21a, wcag21aa), tabs through it to check the skip link and
the focus rings, and checks that nothing scrolls sideways at 320 px.

Skipped without Node.js, Chromium or node_modules, unless TAPAAMO_REQUIRE_E2E=1. Set
TAPAAMO_SCREENSHOTS=DIR to keep screenshots of the network page and the report
(DIR/page-network.png, DIR/page-report.png).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from domain.clock import FakeClock
from tests.integration.test_web_pages import (
    check_in_and_vote,
    confirm,
    report_path,
    seed_network,
    with_feedback,
)
from tests.support.harness import running_bot

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("axe_pages.mjs")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def missing() -> str | None:
    if shutil.which("node") is None:
        return "Node.js (node) is not installed"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (apt-get install -y chromium)"
    for package in ("playwright-core", "@axe-core/playwright", "axe-core"):
        if not (REPO / "node_modules" / package).is_dir():
            return f"node_modules/{package} is missing (npm ci)"
    return None


def violations_text(pages: list[dict[str, Any]]) -> str:
    lines = []
    for page in pages:
        for violation in page["violations"]:
            lines.append(
                f"{page['path']}: {violation['id']} ({violation['impact']}): {violation['help']} "
                f"at {', '.join(violation['targets'])}"
            )
        lines += [f"{page['path']}: {problem}" for problem in page["problems"]]
    return "\n".join(lines)


async def test_every_page_passes_axe_in_chromium(tmp_path: Path) -> None:
    reason = missing()
    if reason:
        if os.environ.get("TAPAAMO_REQUIRE_E2E") == "1":
            pytest.fail(f"TAPAAMO_REQUIRE_E2E=1 but the accessibility test cannot run: {reason}")
        pytest.skip(f"the accessibility test needs Node.js and Chromium: {reason}")

    async with running_bot(tmp_path, FakeClock()) as bot:
        await seed_network(bot)
        await confirm(bot, 'schedule Digisumpit "today 12:00"')
        await check_in_and_vote(bot, voters=6)
        with_feedback(bot)
        report = await report_path(bot)
        paths = [
            "/",
            "/n/digisumpit?lang=fi",
            "/n/digisumpit?lang=sv",
            "/n/digisumpit?lang=en",
            "/n/paussi?lang=sv",
            "/privacy?lang=en",
            "/terms?lang=fi",
            "/n/no-such-network",
            f"{report}?lang=en",
            "/report/not-a-link",
        ]
        shots = Path(os.environ.get("TAPAAMO_SCREENSHOTS") or tmp_path)
        base = str(bot.client.make_url("/"))
        process = await asyncio.create_subprocess_exec(
            "node",
            str(SCRIPT),
            base,
            *paths,
            "--screenshot",
            f"/n/digisumpit?lang=fi={shots / 'page-network.png'}",
            "--screenshot",
            f"{report}?lang=en={shots / 'page-report.png'}",
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "CHROMIUM": CHROMIUM},
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), timeout=90)
        except TimeoutError:
            process.kill()
            await process.wait()
            pytest.fail("the accessibility check did not finish in 90 s")
    assert process.returncode == 0, err.decode()[-3000:]
    pages = json.loads(out)["pages"]
    (tmp_path / "axe.json").write_bytes(out)
    assert [page["path"] for page in pages] == paths
    statuses = {page["path"]: page["status"] for page in pages}
    assert statuses["/n/no-such-network"] == 404
    assert statuses["/report/not-a-link"] == 403
    errors = ("/n/no-such-network", "/report/not-a-link")
    assert all(status == 200 for path, status in statuses.items() if path not in errors)
    assert [page["lang"] for page in pages][1:4] == ["fi", "sv", "en"]
    assert not violations_text(pages), "\n" + violations_text(pages)
    assert (shots / "page-network.png").stat().st_size > 10_000
