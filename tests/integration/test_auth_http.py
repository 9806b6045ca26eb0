"""/api/messages refuses what is not from the Bot Framework, through HTTP, in test mode.

The app runs with an App ID, so every request must carry a token signed by the offline issuer
of tests/fakes/jwks.py (its metadata URL and issuer are the app's settings). Each refusal must be
a 4xx with a JSON error body, never a 500 (the stock botbuilder handler answers 500).

Positive controls need no outbound call (outbound sends in test mode would first fetch an app
token from msal): an Action.Execute invoke, answered in the HTTP response itself, so a 200 with
the card proves the turn really ran; and a conversationUpdate adding someone other than the bot.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.settings import Settings
from tests.fakes.jwks import FORGERIES, FakeIssuer, forged_authorizations

APP_ID = "00000000-0000-0000-0000-0000000000b0"
BOT = {"id": f"28:{APP_ID}", "name": "Tapaamo"}
LOCAL_SERVICE = "http://127.0.0.1:9/"  # allowed in test mode; never called (nothing is sent)
TEAMS_SERVICE = "https://smba.trafficmanager.net/emea/"
CARD = "application/vnd.microsoft.card.adaptive"

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def issuer() -> AsyncIterator[FakeIssuer]:
    async with FakeIssuer() as fake:
        yield fake


@pytest.fixture
async def bot(tmp_path: Path, issuer: FakeIssuer) -> AsyncIterator[Client]:
    settings = Settings(
        _env_file=None,
        env="test",
        app_id=APP_ID,
        app_password="unused-secret",
        tenant_id="tenant-1",
        openid_metadata_url=issuer.metadata_url,
        token_issuer=issuer.issuer,
        login_authority="http://127.0.0.1:9",  # an outbound token request would fail at once
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'tapaamo.db'}",
    )
    app = create_app(settings, start_ticker=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


def invoke(service_url: str = LOCAL_SERVICE, **fields: Any) -> dict[str, Any]:
    """An Action.Execute of the help card's language button: answered in the HTTP response."""
    return {
        "type": "invoke",
        "name": "adaptiveCard/action",
        "id": "invoke-1",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": "29:user-1", "name": "Aino"},
        "recipient": BOT,
        "conversation": {"id": "a:chat-1", "conversationType": "personal"},
        "locale": "fi-FI",
        "value": {"action": {"type": "Action.Execute", "verb": "help.language", "data": {"lang": "sv"}}},
        **fields,
    }


async def post(client: Client, body: Any, authorization: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": authorization} if authorization is not None else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await client.post(
        "/api/messages", data=data, headers={"Content-Type": "application/json", **headers}
    )
    text = await response.text()
    return response.status, (json.loads(text) if text else None)


def assert_refused(status: int, body: Any, expected: int) -> None:
    assert status == expected, body
    assert body["error"]["status"] == expected
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]


def bearer(issuer: FakeIssuer, **claims: Any) -> str:
    return "Bearer " + issuer.token(audience=APP_ID, **claims)


# -- positive controls ------------------------------------------------------------------------


async def test_a_valid_token_runs_the_turn(bot: Client, issuer: FakeIssuer) -> None:
    status, body = await post(bot, invoke(), bearer(issuer, service_url=LOCAL_SERVICE))
    assert status == 200, body
    assert body["statusCode"] == 200
    assert body["type"] == CARD
    assert body["value"]["lang"] == "sv"


async def test_a_valid_token_without_serviceurl_claim_runs_the_turn(bot: Client, issuer: FakeIssuer) -> None:
    status, body = await post(bot, invoke(TEAMS_SERVICE), bearer(issuer))
    assert status == 200, body
    assert body["type"] == CARD


async def test_a_conversation_update_with_a_valid_token_is_taken(bot: Client, issuer: FakeIssuer) -> None:
    update = {
        **invoke(),
        "type": "conversationUpdate",
        "id": "update-1",
        "membersAdded": [{"id": "29:someone-else"}],
    }
    status, body = await post(bot, update, bearer(issuer))
    assert (status, body) == (200, None)


async def test_keys_are_fetched_once(bot: Client, issuer: FakeIssuer) -> None:
    for n in range(3):
        status, _ = await post(bot, invoke(id=f"invoke-{n}"), bearer(issuer))
        assert status == 200
    assert (issuer.metadata_hits, issuer.jwks_hits) == (1, 1)


# -- authentication: 401 ---------------------------------------------------------------------


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_a_forged_request_is_refused_with_401(bot: Client, issuer: FakeIssuer, forgery: str) -> None:
    authorization = forged_authorizations(issuer, audience=APP_ID, service_url=LOCAL_SERVICE)[forgery]
    status, body = await post(bot, invoke(), authorization)
    assert_refused(status, body, 401)


async def test_a_key_not_endorsed_for_the_channel_is_refused_with_401(
    bot: Client, issuer: FakeIssuer
) -> None:
    status, body = await post(bot, invoke(channelId="webchat"), bearer(issuer))
    assert_refused(status, body, 401)


async def test_a_token_for_another_activity_serviceurl_is_refused_with_401(
    bot: Client, issuer: FakeIssuer
) -> None:
    status, body = await post(bot, invoke(TEAMS_SERVICE), bearer(issuer, service_url=LOCAL_SERVICE))
    assert_refused(status, body, 401)


async def test_refusals_do_not_refetch_keys_each_time(bot: Client, issuer: FakeIssuer) -> None:
    for authorization in forged_authorizations(issuer, audience=APP_ID, service_url=LOCAL_SERVICE).values():
        await post(bot, invoke(), authorization)
    assert issuer.jwks_hits <= 1


async def test_a_metadata_outage_is_401_not_500(bot: Client, issuer: FakeIssuer) -> None:
    issuer.failing = True
    status, body = await post(bot, invoke(), bearer(issuer))
    assert_refused(status, body, 401)


# -- the checks before authentication: 413, 400 ------------------------------------------------


async def test_a_body_over_256_kb_is_refused_with_413(bot: Client, issuer: FakeIssuer) -> None:
    body = json.dumps(invoke(text="x" * (256 * 1024))).encode()
    status, answer = await post(bot, body, bearer(issuer))
    assert_refused(status, answer, 413)


async def test_a_chunked_body_over_256_kb_is_refused_with_413(bot: Client) -> None:
    raw = json.dumps(invoke(text="x" * (300 * 1024))).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 16 * 1024):
            yield raw[start : start + 16 * 1024]

    response = await bot.post("/api/messages", data=chunks(), headers={"Content-Type": "application/json"})
    assert_refused(response.status, await response.json(), 413)


async def test_a_body_of_exactly_256_kb_is_read(bot: Client, issuer: FakeIssuer) -> None:
    activity = invoke(text="")
    padding = 256 * 1024 - len(json.dumps(activity).encode())
    raw = json.dumps({**activity, "text": "x" * padding}).encode()
    assert len(raw) == 256 * 1024
    status, body = await post(bot, raw, bearer(issuer))
    assert status == 200, body


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"{", b'{"type": "message",', b"\xff\xfe\x00garbage", b"NaN-ish {}"],
    ids=["empty", "text", "open-brace", "truncated", "not-utf8", "junk"],
)
async def test_a_body_that_is_not_json_is_refused_with_400(bot: Client, raw: bytes) -> None:
    status, body = await post(bot, raw)
    assert_refused(status, body, 400)


@pytest.mark.parametrize(
    "body",
    [
        [],
        "message",
        42,
        None,
        {},
        {"type": "message"},
        {"type": "", "conversation": {"id": "a:1"}, "serviceUrl": LOCAL_SERVICE},
        {"type": "message", "conversation": "a:1", "serviceUrl": LOCAL_SERVICE},
        {"type": "message", "conversation": {"id": 7}, "serviceUrl": LOCAL_SERVICE},
        {"type": "message", "conversation": {"id": "a:1"}},
        {"type": "message", "conversation": {"id": "a:1"}, "serviceUrl": ["x"]},
        {"type": "message", "conversation": {"id": "a:1"}, "serviceUrl": LOCAL_SERVICE, "from": "me"},
    ],
    ids=[
        "list",
        "string",
        "number",
        "null",
        "empty-object",
        "no-conversation",
        "empty-type",
        "conversation-not-object",
        "conversation-id-not-string",
        "no-serviceUrl",
        "serviceUrl-not-string",
        "from-not-object",
    ],
)
async def test_json_that_is_not_an_activity_is_refused_with_400(bot: Client, body: Any) -> None:
    status, answer = await post(bot, body)
    assert_refused(status, answer, 400)


# -- after authentication: the serviceUrl allow-list, 403 --------------------------------------


@pytest.mark.parametrize(
    "service_url",
    [
        "https://evil.example.com/",
        "http://evil.example.com/",
        "https://smba.trafficmanager.net.evil.example.com/",
        "https://evil-smba.trafficmanager.net.example.com/",
        "http://smba.trafficmanager.net/emea/",
        "ftp://127.0.0.1/",
        "https://[",
        "not a url",
    ],
)
async def test_a_serviceurl_outside_the_allow_list_is_refused_with_403(
    bot: Client, issuer: FakeIssuer, service_url: str
) -> None:
    # The token vouches for this serviceUrl: only the allow-list stands in the way.
    status, body = await post(bot, invoke(service_url), bearer(issuer, service_url=service_url))
    assert_refused(status, body, 403)


@pytest.mark.parametrize(
    "service_url",
    [
        TEAMS_SERVICE,
        "https://smba.infra.gcc.teams.microsoft.com/amer/",
        "http://localhost:3978/",
        "https://127.0.0.1:8443/",
    ],
)
async def test_an_allowed_serviceurl_is_taken(bot: Client, issuer: FakeIssuer, service_url: str) -> None:
    status, body = await post(bot, invoke(service_url), bearer(issuer, service_url=service_url))
    assert status == 200, body


async def test_a_forged_request_to_an_evil_serviceurl_is_401_before_403(
    bot: Client, issuer: FakeIssuer
) -> None:
    status, body = await post(bot, invoke("https://evil.example.com/"), bearer(issuer, alg="none"))
    assert_refused(status, body, 401)
