"""The README's screenshot: the Teams client emulator's group chat with an announcement and a poll.

"Kuntatalous" (in Finnish) schedules a session; the Playground's web UI is opened on the group
chat in headless Chromium (``scripts/screenshot.mjs``) before the session is confirmed, because the
UI shows only the messages that arrive while it is open. Then the announcement is posted by the
jobs, three people say "Tulen" (the shared card counts them), Teams says the meeting started and
ended, and the job after the end posts the feedback poll. The script (1280×1200, the log panel
hidden, clock in Helsinki time like the cards) waits until the page shows both cards, scrolls the
announcement to the top if the chat is taller than the window, saves the PNG and prints the text
of the cards it rendered; the test checks both were wholly in view. The PNG stays under the test's
tmp_path, so a test run leaves the clone as it was.

To refresh the README's picture, run it with ``TAPAAMO_UPDATE_SCREENSHOT=1``: a passing run then
copies the PNG to ``docs/screenshot.png`` (a failed run leaves the old one).

Skipped without Node.js, the Playground or Chromium, unless TAPAAMO_REQUIRE_E2E=1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest

from domain.polls import DONT_KNOW, OPTION_LABELS
from tests.e2e.playground import CARD, REPO, PlaygroundClient, Roster, Stack, card_text, cards
from tests.e2e.test_participation_e2e import handled, now_iso
from tests.e2e.test_sessions_e2e import (
    EN,
    FI,
    announcement,
    create_network,
    only_card,
    soon,
    verbs,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]
log = logging.getLogger(__name__)

NETWORK = "Kuntatalous"
TITLE = "Talousarvio 2026"
MEETING_ID = "MCMxOTplMmUta3VudGF0YWxvdXNAdGhyZWFkLnYyIzA="
JOIN_URL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_e2e-kuntatalous%40thread.v2/0"
SCRIPT = REPO / "scripts" / "screenshot.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DOCS_PNG = REPO / "docs" / "screenshot.png"
WIDTH, HEIGHT = 1280, 1200
COMING = FI.n_("{n} person", "{n} people", 3)  # the announcement's count after three "Tulen"
QUESTION = FI._("How was the session?")  # the poll's heading


def missing_browser() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (apt-get install -y chromium, or set CHROMIUM)"
    if not (REPO / "node_modules" / "playwright-core").is_dir():
        return "node_modules/playwright-core is missing (npm ci)"
    return None


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (asserting it is a PNG)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR", f"{path} has no IHDR first"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


async def read_until(stream: asyncio.StreamReader, prefix: str, timeout: float) -> list[str]:
    """The lines of ``stream`` up to and including the first that starts with ``prefix``."""
    lines: list[str] = []
    async with asyncio.timeout(timeout):
        while not (lines and lines[-1].startswith(prefix)):
            line = await stream.readline()
            if not line:
                raise EOFError(f"the screenshot script ended before printing {prefix!r}: {lines}")
            lines.append(line.decode().rstrip("\n"))
    return lines


async def test_screenshot_shows_the_announcement_and_the_poll(
    playground: PlaygroundClient, roster: Roster, e2e_stack: Stack, tmp_path: Path
) -> None:
    reason = missing_browser()
    if reason:
        if os.environ.get("TAPAAMO_REQUIRE_E2E") == "1":
            pytest.fail(f"TAPAAMO_REQUIRE_E2E=1 but the screenshot test cannot run: {reason}")
        pytest.skip(f"the screenshot test needs Chromium: {reason}")

    chat = roster.group_chat_id
    await create_network(playground, chat, f'network create "{NETWORK}" weekly lang fi', NETWORK)
    # Well after the other tests' sessions in this chat, so that their check-ins stay unambiguous.
    await playground.send_text(
        chat, f'schedule {NETWORK} "{soon(40)}" 90 min "{TITLE}" link {JOIN_URL}', mention_bot=True
    )
    to_confirm = await playground.next_bot_message(chat)
    confirm = verbs(only_card(to_confirm))["session.confirm"]

    shot = tmp_path / "screenshot.png"
    browser = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        e2e_stack.playground_url,
        str(shot),
        "--chat",
        roster.group_chat_name,
        "--hide-log",
        *("--width", str(WIDTH), "--height", str(HEIGHT), "--timeout", "15"),
        *("--wait-for", COMING, "--wait-for", QUESTION, "--scroll-to", COMING, "--print-text"),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "CHROMIUM": CHROMIUM, "TZ": "Europe/Helsinki"},
    )
    assert browser.stdout is not None
    assert browser.stderr is not None
    try:
        try:
            await read_until(browser.stdout, "screenshot: waiting for", timeout=20)
        except (EOFError, TimeoutError) as error:
            browser.kill()
            err = await browser.stderr.read()
            pytest.fail(f"the Playground UI did not open the group chat: {error!r}\n{err.decode()[-2000:]}")

        # Confirmed now, with the chat open in the browser: the announcement follows.
        answer = await playground.invoke(chat, to_confirm["id"], "session.confirm", confirm["data"])
        assert answer["type"] == CARD, answer
        assert EN._("Scheduled \u2714") in card_text(answer["value"])
        posted, _ = await announcement(playground, chat, NETWORK)
        rsvp = verbs(only_card(posted))["session.rsvp"]
        for user in roster.others[:3]:
            await playground.invoke(chat, posted["id"], "session.rsvp", rsvp["data"], from_user=user)

        def counted(update: dict[str, Any]) -> bool:
            return update["id"] == posted["id"] and any(COMING in card_text(c) for c in cards(update))

        await playground.next_bot_update(chat, wanted=counted)

        # Teams says the meeting started and ended; the job after the end posts the poll.
        for name, times in (
            ("meetingStart", {"StartTime": now_iso()}),
            ("meetingEnd", {"EndTime": now_iso()}),
        ):
            value = {"Id": MEETING_ID, "JoinUrl": JOIN_URL, "Title": NETWORK, **times}
            event = await playground.send_meeting_event(chat, name, value, MEETING_ID)
            await handled(playground, chat, event)
        await playground.next_bot_message(
            chat,
            wanted=lambda m: any(
                "poll.vote" in verbs(c) and card_text(c).startswith(NETWORK + "\n") for c in cards(m)
            ),
        )

        async with asyncio.timeout(30):
            out, err = await browser.communicate()
    finally:
        if browser.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                browser.kill()
            await browser.wait()
    assert browser.returncode == 0, err.decode()[-3000:]

    # The cards the page rendered, and whether each was wholly in view when the PNG was taken.
    [printed] = [line for line in out.decode().splitlines() if line.startswith("{")]
    shown = json.loads(printed)["cards"]
    log.info("cards on the page:\n%s", json.dumps(shown, ensure_ascii=False, indent=1))
    in_view = [card["text"] for card in shown if card["visible"]]
    announced = [text for text in in_view if COMING in text]
    assert len(announced) == 1, f"the announcement with its count is not wholly in view: {shown}"
    for shown_text in (NETWORK, TITLE, FI._("I'll come")):
        assert shown_text in announced[0], announced[0]
    polls = [text for text in in_view if QUESTION in text]
    assert len(polls) == 1, f"the poll is not wholly in view: {shown}"
    for shown_text in (NETWORK, f"5 {FI._(OPTION_LABELS[5])}", FI._(OPTION_LABELS[DONT_KNOW])):
        assert shown_text in polls[0], polls[0]

    assert png_size(shot) == (WIDTH, HEIGHT)
    assert 30_000 < shot.stat().st_size < 5_000_000
    if os.environ.get("TAPAAMO_UPDATE_SCREENSHOT") == "1":
        DOCS_PNG.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS_PNG)
        assert DOCS_PNG.read_bytes() == shot.read_bytes()
        log.info("updated %s", DOCS_PNG)
