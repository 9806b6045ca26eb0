"""Fixtures of the end-to-end tests: the real bot and the Microsoft 365 Agents Playground.

- ``e2e_stack`` (session): starts the bot (dev mode, own port, SQLite under the session's tmp
  dir, migrated on start) and the Playground pointed at it; yields a :class:`Stack` (``bot_url``,
  ``playground_url``, ``roster``, ``workdir``, ``log_tails()``). Stops both at the end.
- ``playground_session`` (session): a connected :class:`PlaygroundClient`, WebSockets open.
- ``playground`` (function): that client, with whatever an earlier test left unread discarded.
- ``roster``: :data:`ROSTER`, the users and chat ids of the emulated tenant.

Every async test under tests/e2e runs in the session's event loop (the client's sockets live
there). Without Node.js or ``node_modules/.bin/agentsplayground`` the tests are skipped, unless
``TAPAAMO_REQUIRE_E2E=1``, which makes that a failure. When an e2e test fails, the tails of the
bot's and the Playground's logs are added to its report.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from pytest_asyncio import is_async_test

from tests.e2e.playground import (
    ROSTER,
    E2EUnavailable,
    PlaygroundClient,
    Roster,
    Stack,
    StartupError,
    start_stack,
)

log = logging.getLogger(__name__)
E2E_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    session_loop = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if item.path.is_relative_to(E2E_DIR) and is_async_test(item):
            item.add_marker(session_loop, append=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    stack = getattr(item, "funcargs", {}).get("e2e_stack")
    if report.failed and isinstance(stack, Stack):
        for title, text in stack.log_tails(60).items():
            report.sections.append((title, text))
    return report


@pytest.fixture(scope="session")
def roster() -> Roster:
    return ROSTER


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def e2e_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    required = os.environ.get("TAPAAMO_REQUIRE_E2E") == "1"
    workdir = tmp_path_factory.mktemp("e2e")
    try:
        stack = await start_stack(workdir, ROSTER)
    except E2EUnavailable as reason:
        if required:
            pytest.fail(f"TAPAAMO_REQUIRE_E2E=1 but the e2e tests cannot run: {reason}", pytrace=False)
        pytest.skip(f"e2e tests need the Teams client emulator: {reason}")
    except StartupError as error:
        pytest.fail(f"the e2e stack did not start: {error}", pytrace=False)
    try:
        yield stack
    finally:
        await stack.stop()
        for title, text in stack.log_tails(15).items():
            log.debug("%s:\n%s", title, text)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def playground_session(e2e_stack: Stack) -> AsyncIterator[PlaygroundClient]:
    async with PlaygroundClient(e2e_stack.playground_url, e2e_stack.roster) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def playground(playground_session: PlaygroundClient) -> AsyncIterator[PlaygroundClient]:
    left = playground_session.discard_pending()
    if left:
        log.info("discarded %d bot messages an earlier test did not read", left)
    yield playground_session
