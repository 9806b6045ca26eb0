"""Driving the whole app through /api/messages in tests: activities in, what the bot sent out.

The app runs in dev mode on a temporary SQLite file with a FakeClock and no ticker: a test runs
due jobs itself with :meth:`Harness.run_jobs` after moving the clock.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import PARTS, create_app
from bot.settings import Settings
from domain.clock import FakeClock
from tests.fakes.connector import FakeConnector

BOT = {"id": "28:tapaamo-bot", "name": "Tapaamo"}
CARD = "application/vnd.microsoft.card.adaptive"
TENANT = "tenant-1"


def user(n: int, name: str | None = None) -> dict[str, str]:
    return {"id": f"29:user-{n}", "name": name or f"User {n}", "aadObjectId": f"aad-{n:04d}"}


class Harness:
    def __init__(
        self, client: TestClient[web.Request, web.Application], connector: FakeConnector, clock: FakeClock
    ):
        self.client = client
        self.connector = connector
        self.clock = clock
        self._ids = itertools.count(1)

    @property
    def app(self) -> web.Application:
        return self.client.app  # type: ignore[return-value]

    def activity(
        self,
        kind: str = "message",
        *,
        sender: dict[str, str] | None = None,
        conversation: str = "19:group-chat",
        conversation_type: str = "groupChat",
        locale: str = "en-US",
        **fields: Any,
    ) -> dict[str, Any]:
        return {
            "type": kind,
            "id": f"activity-{next(self._ids)}",
            "channelId": "msteams",
            "serviceUrl": self.connector.url,
            "from": sender or user(1, "Aino Coordinator"),
            "recipient": BOT,
            "conversation": {"id": conversation, "conversationType": conversation_type, "tenantId": TENANT},
            "channelData": {"tenant": {"id": TENANT}},
            "locale": locale,
            **fields,
        }

    async def post(self, activity: dict[str, Any]) -> Any:
        response = await self.client.post("/api/messages", json=activity)
        text = await response.text()
        assert response.status == 200, text
        return await response.json() if text else None

    async def say(self, text: str, **kwargs: Any) -> list[dict[str, Any]]:
        """Send a message; return the activities the bot answered with."""
        before = len(self.connector.received)
        await self.post(self.activity(text=text, **kwargs))
        return [r.activity for r in self.connector.received[before:]]

    async def click(self, verb: str, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Press an Action.Execute button; return the invoke response body."""
        body = await self.post(
            self.activity(
                "invoke",
                name="adaptiveCard/action",
                value={"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
                **kwargs,
            )
        )
        assert isinstance(body, dict)
        return body

    async def run_jobs(self) -> int:
        """Run every job that is due now (repeatedly, since jobs may enqueue jobs)."""
        total = 0
        runner = self.app[PARTS].runner
        while ran := await runner.run_due():
            total += ran
        return total

    async def advance(self, delta: timedelta) -> int:
        self.clock.advance(delta)
        return await self.run_jobs()


def cards_of(activities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        a["content"]
        for activity in activities
        for a in activity.get("attachments") or []
        if a.get("contentType") == CARD
    ]


def texts(card: dict[str, Any]) -> str:
    """Every text of a card, joined: what a person reads on it."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("text", "title", "value"):
                if isinstance(node.get(key), str):
                    found.append(node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card.get("body", []))
    walk(card.get("actions", []))
    return "\n".join(found)


@asynccontextmanager
async def running_bot(tmp_path: Path, clock: FakeClock, **settings: Any) -> AsyncIterator[Harness]:
    async with FakeConnector() as connector:
        config = Settings(
            _env_file=None,  # type: ignore[call-arg]
            env="dev",
            app_id="",
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'tapaamo.db'}",
            **settings,
        )
        app = create_app(config, clock=clock, start_ticker=False)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield Harness(client, connector, clock)
