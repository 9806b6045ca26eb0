"""/api/messages through the real aiohttp app, in dev mode, replies going to tests/fakes/connector.py.

Replies are sent inside the turn, before /api/messages answers, so once a POST has returned its
replies are already recorded: no waiting.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from bot.app import PARTS, create_app
from bot.settings import Settings
from dialogs.i18n import Catalogs
from dialogs.turn import Lang
from domain.clock import FakeClock
from domain.errors import BadPayload
from tests.fakes.connector import FakeConnector

BOT = {"id": "28:tapaamo-bot", "name": "Tapaamo"}
USER = {"id": "29:user-1", "name": "Aino Example", "aadObjectId": "00000000-0000-0000-0000-0000000000a1"}
CARD = "application/vnd.microsoft.card.adaptive"
INVOKE_MESSAGE = "application/vnd.microsoft.activity.message"

Client = TestClient[web.Request, web.Application]


def cards(connector: FakeConnector) -> list[dict[str, Any]]:
    """The Adaptive Cards the bot has sent, in order."""
    return [
        attachment["content"]
        for received in connector.received
        for attachment in received.activity.get("attachments") or []
        if attachment.get("contentType") == CARD
    ]


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    async with FakeConnector() as fake:
        yield fake


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Client]:
    settings = Settings(
        _env_file=None,
        env="dev",
        app_id="",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'tapaamo.db'}",
    )
    app = create_app(settings, clock=FakeClock(), start_ticker=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


@pytest.fixture
def activity(connector: FakeConnector) -> Callable[..., dict[str, Any]]:
    ids = itertools.count(1)

    def make(kind: str = "message", *, locale: str = "en-US", **fields: Any) -> dict[str, Any]:
        return {
            "type": kind,
            "id": f"activity-{next(ids)}",
            "channelId": "msteams",
            "serviceUrl": connector.url,
            "from": USER,
            "recipient": BOT,
            "conversation": {
                "id": "a:personal-chat-1",
                "conversationType": "personal",
                "tenantId": "tenant-1",
            },
            "channelData": {"tenant": {"id": "tenant-1"}},
            "locale": locale,
            **fields,
        }

    return make


async def post(client: Client, activity: dict[str, Any]) -> Any:
    response = await client.post("/api/messages", json=activity)
    text = await response.text()
    assert response.status == 200, text
    return await response.json() if text else None


def action_invoke(make: Callable[..., dict[str, Any]], verb: str, data: Any, **fields: Any) -> dict[str, Any]:
    return make(
        "invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
        **fields,
    )


@pytest.mark.parametrize(
    ("text", "locale", "lang"),
    [
        ("help", "en-US", "en"),
        ("apua", "en-US", "fi"),
        ("hjälp", "en-US", "sv"),
        ("Help", "fi-FI", "fi"),  # English words are common in any client: the locale decides
        ("<at>Tapaamo</at> APUA", "sv-SE", "fi"),
    ],
)
async def test_help_answers_one_card_in_the_language_of_the_word(
    bot: Client,
    connector: FakeConnector,
    activity: Callable[..., dict[str, Any]],
    text: str,
    locale: str,
    lang: str,
) -> None:
    message = activity(text=text, locale=locale)
    assert await post(bot, message) is None
    (sent,) = connector.received
    assert (sent.kind, sent.conversation_id, sent.reply_to_id) == (
        "reply",
        message["conversation"]["id"],
        message["id"],
    )
    assert sent.activity["type"] == "message"
    (card,) = cards(connector)
    assert card["type"] == "AdaptiveCard"
    assert card["lang"] == lang
    verbs = {action["verb"] for action in card["actions"]}
    assert verbs == {"help.language"}


DID_YOU_MEAN = (
    "I don't know \u201c{command}\u201d. Did you mean \u201c{suggestion}\u201d? "
    "Type \u201c{help}\u201d to see what I can do."
)
NO_IDEA = "I don't know \u201c{command}\u201d. Type \u201c{help}\u201d to see what I can do."


@pytest.mark.parametrize(
    ("text", "locale", "lang", "template", "params"),
    [
        ("hepl", "en-US", "en", DID_YOU_MEAN, {"suggestion": "help", "help": "help"}),
        ("apuva", "fi-FI", "fi", DID_YOU_MEAN, {"suggestion": "apua", "help": "apua"}),
        ("xyzzy", "sv-SE", "sv", NO_IDEA, {"help": "hjälp"}),
        ("hjalpp", "sv-SE", "sv", DID_YOU_MEAN, {"suggestion": "hjälp", "help": "hjälp"}),
    ],
)
async def test_an_unknown_command_gets_a_did_you_mean_text(
    bot: Client,
    connector: FakeConnector,
    activity: Callable[..., dict[str, Any]],
    text: str,
    locale: str,
    lang: Lang,
    template: str,
    params: dict[str, str],
) -> None:
    await post(bot, activity(text=text, locale=locale))
    (sent,) = connector.received
    assert sent.kind == "reply"
    assert not sent.activity.get("attachments")
    assert sent.activity["text"] == Catalogs()[lang]._(template, command=text, **params)


async def test_a_redelivered_message_gets_no_second_reply(
    bot: Client,
    connector: FakeConnector,
    activity: Callable[..., dict[str, Any]],
) -> None:
    message = activity(text="help")
    await post(bot, message)
    await post(bot, message)
    assert len(connector.received) == 1


async def test_a_message_whose_reply_failed_is_answered_when_redelivered(
    bot: Client,
    connector: FakeConnector,
    activity: Callable[..., dict[str, Any]],
) -> None:
    message = activity(text="help")
    connector.force_status(message["conversation"]["id"], 403, times=1)
    await post(bot, message)
    assert connector.received == []
    await post(bot, message)  # Teams redelivers: this time the reply goes through
    assert len(connector.received) == 1


async def test_the_same_activity_id_in_another_conversation_is_not_a_redelivery(
    bot: Client,
    connector: FakeConnector,
    activity: Callable[..., dict[str, Any]],
) -> None:
    message = activity(text="help")
    await post(bot, message)
    await post(bot, {**message, "conversation": {"id": "a:personal-chat-2", "conversationType": "personal"}})
    assert len(connector.received) == 2


async def test_an_action_execute_is_answered_with_the_card_in_the_http_response(
    bot: Client,
    connector: FakeConnector,
    activity: Callable[..., dict[str, Any]],
) -> None:
    body = await post(bot, action_invoke(activity, "help.language", {"lang": "sv"}))
    assert body["statusCode"] == 200
    assert body["type"] == CARD
    assert body["value"]["type"] == "AdaptiveCard"
    assert body["value"]["lang"] == "sv"
    assert connector.received == []


async def test_a_redelivered_invoke_gets_the_same_answer(
    bot: Client,
    connector: FakeConnector,
    activity: Callable[..., dict[str, Any]],
) -> None:
    invoke = action_invoke(activity, "help.language", {"lang": "fi"})
    first = await post(bot, invoke)
    assert await post(bot, invoke) == first


@pytest.mark.parametrize(
    ("verb", "data"),
    [
        ("help.language", {"lang": "de"}),
        ("help.language", {"lang": "fi", "admin": True}),
        ("help.language", "not an object"),
        ("help.language", None),
        ("no.such.verb", {"lang": "fi"}),
        ("", {}),
    ],
)
async def test_a_tampered_action_gets_a_localised_text(
    bot: Client,
    connector: FakeConnector,
    activity: Callable[..., dict[str, Any]],
    verb: str,
    data: Any,
) -> None:
    body = await post(bot, action_invoke(activity, verb, data, locale="fi-FI"))
    assert body == {
        "statusCode": 200,
        "type": INVOKE_MESSAGE,
        "value": Catalogs()["fi"]._(BadPayload.message_id),
    }
    assert body["value"] != BadPayload.message_id  # really translated
    assert connector.received == []


async def test_an_invoke_of_another_kind_gets_an_empty_200(
    bot: Client,
    activity: Callable[..., dict[str, Any]],
) -> None:
    body = await post(bot, activity("invoke", name="composeExtension/query", value={"commandId": "x"}))
    assert body["statusCode"] == 200


@pytest.mark.parametrize(
    ("locale", "lang"), [("sv-SE", "sv"), ("fi-FI", "fi"), ("en-GB", "en"), (None, "en")]
)
async def test_being_added_posts_a_welcome_card_in_the_activitys_locale(
    bot: Client,
    connector: FakeConnector,
    activity: Callable[..., dict[str, Any]],
    locale: str | None,
    lang: str,
) -> None:
    update = activity("conversationUpdate", locale=locale, membersAdded=[BOT])
    await post(bot, update)
    (card,) = cards(connector)
    assert card["lang"] == lang
    assert card["fallbackText"] == Catalogs()[lang]._("Welcome to Tapaamo")  # type: ignore[index]


async def test_someone_else_being_added_posts_nothing(
    bot: Client,
    connector: FakeConnector,
    activity: Callable[..., dict[str, Any]],
) -> None:
    await post(bot, activity("conversationUpdate", membersAdded=[{"id": "29:someone-else"}]))
    assert connector.received == []


async def test_healthz_reports_the_database(bot: Client) -> None:
    response = await bot.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"


class Segmented:
    """A request body that arrives in pieces: each read(n) gives at most ``segment`` bytes,
    as aiohttp's StreamReader.read(n) does when only part of the body has come in yet."""

    def __init__(self, data: bytes, segment: int = 4096) -> None:
        self._data = data
        self._segment = segment

    async def read(self, n: int = -1) -> bytes:
        take = min(self._segment, len(self._data) if n < 0 else n)
        piece, self._data = self._data[:take], self._data[take:]
        return piece


@pytest.mark.parametrize("declared_length", [True, False])
async def test_a_body_that_arrives_in_pieces_is_read_whole(
    bot: Client,
    connector: FakeConnector,
    activity: Callable[..., dict[str, Any]],
    declared_length: bool,
) -> None:
    raw = json.dumps(activity(text="help", summary="x" * 20_000)).encode()
    headers = {"Content-Type": "application/json"}
    if declared_length:
        headers["Content-Length"] = str(len(raw))
    request = make_mocked_request(
        "POST", "/api/messages", headers=headers, app=bot.app, payload=cast(Any, Segmented(raw))
    )
    response = await bot.app[PARTS].endpoint.handle(request)
    assert response.status == 200, response.text
    assert len(connector.received) == 1


async def test_a_body_too_large_in_pieces_is_refused(
    bot: Client,
    activity: Callable[..., dict[str, Any]],
) -> None:
    raw = json.dumps(activity(text="help", summary="x" * 300_000)).encode()
    request = make_mocked_request(
        "POST",
        "/api/messages",
        headers={"Content-Type": "application/json"},
        app=bot.app,
        payload=cast(Any, Segmented(raw)),
    )
    response = await bot.app[PARTS].endpoint.handle(request)
    assert response.status == 413


async def test_a_chunked_request_is_read_whole(
    bot: Client,
    connector: FakeConnector,
    activity: Callable[..., dict[str, Any]],
) -> None:
    raw = json.dumps(activity(text="help", summary="x" * 100_000)).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 4096):
            yield raw[start : start + 4096]

    response = await bot.post("/api/messages", data=chunks(), headers={"Content-Type": "application/json"})
    assert response.status == 200, await response.text()
    assert len(connector.received) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"locale": 5},
        {"locale": ["fi-FI"]},
        {"entities": 5},
        {"recipient": "28:tapaamo-bot"},
        {"text": {"not": "text"}},
        {"timestamp": "yesterday"},
        {"serviceUrl": "http://[::1"},
        {"serviceUrl": "https://["},
        {"channelData": "not an object"},
        {"conversation": {"id": "a:1", "conversationType": 7}},
    ],
)
async def test_odd_fields_never_answer_500(
    bot: Client,
    activity: Callable[..., dict[str, Any]],
    fields: dict[str, Any],
) -> None:
    response = await bot.post("/api/messages", json={**activity(text="help"), **fields})
    assert response.status < 500, await response.text()
