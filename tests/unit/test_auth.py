"""BotAuthenticator and OpenIdKeys against an offline issuer (tests/fakes/jwks.py).

The same refusals are checked through HTTP in tests/integration/test_auth_http.py; here we look
at the reasons given and at how the signing keys are fetched and cached.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot import auth
from bot.auth import AuthError, BotAuthenticator, OpenIdKeys
from tests.fakes.jwks import FakeIssuer, forged_authorizations

APP_ID = "00000000-0000-0000-0000-0000000000b0"
SERVICE_URL = "https://smba.trafficmanager.net/emea/"

EXPECTED_REASONS = {
    "no Authorization header": "missing Authorization header",
    "not a Bearer token": "not a Bearer token",
    "empty Bearer token": "not a Bearer token",
    "garbage token": "not a JWT",
    "alg none": "algorithm 'none' is not allowed",
    "HS256 keyed with the public key": "algorithm 'HS256' is not allowed",
    "no key id": "no key id",
    "unknown key id": "unknown key",
    "signed by another key with the same kid": "Signature verification failed",
    "tampered payload": "Signature verification failed",
    "expired": "expired",
    "not yet valid": "not yet valid",
    "no expiry": "exp",
    "wrong audience": "another audience",
    "wrong issuer": "another issuer",
    "serviceUrl claim mismatch": "serviceUrl does not match",
}


def activity(**overrides: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "id": "1",
        "channelId": "msteams",
        "serviceUrl": SERVICE_URL,
        "conversation": {"id": "a:1"},
        **overrides,
    }


@pytest.fixture
async def issuer() -> AsyncIterator[FakeIssuer]:
    async with FakeIssuer() as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def authenticator(issuer: FakeIssuer, session: aiohttp.ClientSession) -> BotAuthenticator:
    return BotAuthenticator(OpenIdKeys(session, issuer.metadata_url), app_id=APP_ID, issuer=issuer.issuer)


async def test_a_valid_token_gives_its_claims(issuer: FakeIssuer, authenticator: BotAuthenticator) -> None:
    token = issuer.token(audience=APP_ID, service_url=SERVICE_URL)
    claims = await authenticator.authenticate(f"Bearer {token}", activity())
    assert claims["aud"] == APP_ID
    assert claims["iss"] == issuer.issuer


async def test_a_token_within_the_clock_skew_is_accepted(
    issuer: FakeIssuer, authenticator: BotAuthenticator
) -> None:
    token = issuer.token(audience=APP_ID, exp=-120, nbf=120, iat=-60)
    await authenticator.authenticate(f"Bearer {token}", activity())


async def test_a_token_without_a_serviceurl_claim_is_accepted(
    issuer: FakeIssuer, authenticator: BotAuthenticator
) -> None:
    await authenticator.authenticate(f"Bearer {issuer.token(audience=APP_ID)}", activity())


async def test_every_forgery_is_refused_with_its_reason(
    issuer: FakeIssuer, authenticator: BotAuthenticator
) -> None:
    cases = forged_authorizations(issuer, audience=APP_ID, service_url=SERVICE_URL)
    assert set(cases) == set(EXPECTED_REASONS)
    for name, authorization in cases.items():
        with pytest.raises(AuthError) as refused:
            await authenticator.authenticate(authorization, activity())
        assert EXPECTED_REASONS[name] in refused.value.reason, name


async def test_a_key_not_endorsed_for_the_channel_is_refused(
    issuer: FakeIssuer, authenticator: BotAuthenticator
) -> None:
    token = issuer.token(audience=APP_ID, service_url=SERVICE_URL)
    with pytest.raises(AuthError, match="not endorsed"):
        await authenticator.authenticate(f"Bearer {token}", activity(channelId="webchat"))


async def test_keys_are_fetched_once_for_many_tokens(
    issuer: FakeIssuer, authenticator: BotAuthenticator
) -> None:
    for _ in range(5):
        await authenticator.authenticate(f"Bearer {issuer.token(audience=APP_ID)}", activity())
    assert (issuer.metadata_hits, issuer.jwks_hits) == (1, 1)


async def test_unknown_key_ids_do_not_hammer_the_metadata_service(
    issuer: FakeIssuer, authenticator: BotAuthenticator
) -> None:
    await authenticator.authenticate(f"Bearer {issuer.token(audience=APP_ID)}", activity())
    for n in range(5):
        with pytest.raises(AuthError):
            await authenticator.authenticate(
                f"Bearer {issuer.token(audience=APP_ID, kid=f'k{n}')}", activity()
            )
    assert issuer.jwks_hits == 1


class Monotonic:
    """Stands in for the ``time`` module in bot.auth: a monotonic() that a test moves by hand.

    Only bot.auth's view of time changes; the event loop keeps the real clock.
    """

    def __init__(self, start: float) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now


async def test_a_rotated_key_is_fetched_when_first_seen(
    issuer: FakeIssuer, authenticator: BotAuthenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Monotonic(1_000_000.0)
    monkeypatch.setattr(auth, "time", clock)
    await authenticator.authenticate(f"Bearer {issuer.token(audience=APP_ID)}", activity())
    new_key = issuer.add_key("rotated")
    clock.now += auth.UNKNOWN_KID_REFRESH_SECONDS + 1
    token = issuer.token(audience=APP_ID, kid="rotated", key=new_key)
    await authenticator.authenticate(f"Bearer {token}", activity())
    assert issuer.jwks_hits == 2


async def test_keys_are_fetched_on_a_freshly_booted_host(
    issuer: FakeIssuer, authenticator: BotAuthenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # time.monotonic() counts from boot: a container started a minute ago reads about 60.
    monkeypatch.setattr(auth, "time", Monotonic(60.0))
    await authenticator.authenticate(f"Bearer {issuer.token(audience=APP_ID)}", activity())


async def test_a_metadata_outage_refuses_instead_of_failing(
    issuer: FakeIssuer, authenticator: BotAuthenticator
) -> None:
    issuer.failing = True
    with pytest.raises(AuthError, match="unknown key"):
        await authenticator.authenticate(f"Bearer {issuer.token(audience=APP_ID)}", activity())


async def test_keys_survive_a_metadata_outage(
    issuer: FakeIssuer, authenticator: BotAuthenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Monotonic(1_000_000.0)
    monkeypatch.setattr(auth, "time", clock)
    await authenticator.authenticate(f"Bearer {issuer.token(audience=APP_ID)}", activity())
    issuer.failing = True
    clock.now += auth.KEYS_MAX_AGE_SECONDS + 1
    await authenticator.authenticate(f"Bearer {issuer.token(audience=APP_ID)}", activity())
    assert (issuer.metadata_hits, issuer.jwks_hits) == (2, 1)


async def test_a_metadata_outage_is_not_fetched_once_per_waiting_request(
    issuer: FakeIssuer, authenticator: BotAuthenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Turns that queue behind a failing refresh must not each try again in turn: with a metadata
    # service that hangs, the last of them would wait for every earlier one's timeout.
    clock = Monotonic(1_000_000.0)
    monkeypatch.setattr(auth, "time", clock)
    await authenticator.authenticate(f"Bearer {issuer.token(audience=APP_ID)}", activity())
    issuer.failing = True
    clock.now += auth.KEYS_MAX_AGE_SECONDS + 1
    token = f"Bearer {issuer.token(audience=APP_ID)}"
    await asyncio.gather(*(authenticator.authenticate(token, activity()) for _ in range(10)))
    assert issuer.metadata_hits == 2
