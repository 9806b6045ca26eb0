"""Structured logging: every field a caller passes is printed, and a turn's lines carry its activity id."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import logs
from bot.app import create_app
from bot.settings import Settings
from domain.clock import FakeClock
from tests.fakes.connector import FakeConnector
from tests.support.activities import personal_help

log = logging.getLogger("tests.logs")
FIELDS = {"job_id": 7, "job_kind": "reminder.send", "attempt": 2, "http_status": 429, "retry_after": 30.0}


@pytest.fixture
def context_filter(caplog: pytest.LogCaptureFixture) -> logs.ContextFilter:
    """caplog's handler filtered as the app's own handler is (bot.logs.configure)."""
    caplog.set_level(logging.DEBUG)
    context = logs.ContextFilter()
    caplog.handler.addFilter(context)
    return context


def test_every_extra_field_is_printed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    log.warning("send failed, retrying", extra={**FIELDS, "conversation": "a:1"})
    [record] = caplog.records

    line = logs.ContextFormatter("%(levelname)s %(message)s").format(record)
    entry = json.loads(logs.JsonFormatter().format(record))

    assert line == (
        "WARNING send failed, retrying [job_id=7 job_kind=reminder.send attempt=2 conversation=a:1 "
        "http_status=429 retry_after=30.0]"
    )
    assert {name: entry[name] for name in FIELDS} == FIELDS
    assert entry["message"] == "send failed, retrying"


def test_fields_come_before_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("job failed", extra={"job_id": 3})
    line = logs.ContextFormatter("%(message)s").format(caplog.records[0])

    first, *rest = line.splitlines()
    assert first == "job failed [job_id=3]"
    assert rest[-1] == "RuntimeError: boom"


def test_a_line_without_fields_is_plain(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    log.info("ticker started")
    assert logs.ContextFormatter("%(message)s").format(caplog.records[0]) == "ticker started"


async def test_concurrent_turns_each_carry_their_own_activity_id(
    caplog: pytest.LogCaptureFixture, context_filter: logs.ContextFilter
) -> None:
    both_set = asyncio.Barrier(2)

    async def turn(activity_id: str) -> None:
        logs.set_activity(activity_id)
        await both_set.wait()  # the other turn has set its id too
        logging.getLogger("dialogs.somewhere").info("handled")

    await asyncio.gather(turn("act-1"), turn("act-2"))
    logging.getLogger("scheduling.worker").info("outside any turn")

    assert sorted(getattr(r, "activity_id", None) or "-" for r in caplog.records) == ["-", "act-1", "act-2"]


async def test_a_context_block_adds_fields_and_ends(
    caplog: pytest.LogCaptureFixture, context_filter: logs.ContextFilter
) -> None:
    with logs.context(job_id=5, job_kind="poll.close"):
        log.info("inside")
        log.info("own id wins", extra={"job_id": 6})
    log.info("after")

    inside, own, after = caplog.records
    assert (inside.job_id, inside.job_kind) == (5, "poll.close")  # type: ignore[attr-defined]
    assert own.job_id == 6  # type: ignore[attr-defined]
    assert getattr(after, "job_id", None) is None


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    async with FakeConnector() as fake:
        yield fake


async def test_every_line_of_a_turn_carries_its_activity_id(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    context_filter: logs.ContextFilter,
    connector: FakeConnector,
) -> None:
    settings = Settings(
        _env_file=None, env="dev", app_id="", database_url=f"sqlite+aiosqlite:///{tmp_path / 'tapaamo.db'}"
    )
    app = create_app(settings, clock=FakeClock(), start_ticker=False)
    connector.force_status("a:chat-1", 403)  # the reply is refused: the sender and the turn log it
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        caplog.clear()
        response = await client.post(
            "/api/messages",
            json=personal_help(connector.url, "turn-42"),
        )
        assert response.status == 200
        turn_records = [r for r in caplog.records if r.name.startswith(("bot.", "dialogs.", "domain."))]

    assert turn_records, "the refused reply was not logged"
    assert any(r.name != "bot.turns" for r in turn_records), [r.name for r in turn_records]
    assert {getattr(r, "activity_id", None) for r in turn_records} == {"turn-42"}


def test_configure_installs_the_context_filter() -> None:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    try:
        logs.configure("INFO")
        [handler] = root.handlers
        assert any(isinstance(f, logs.ContextFilter) for f in handler.filters)
        assert isinstance(handler.formatter, logs.ContextFormatter)
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
