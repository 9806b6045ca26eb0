"""Authentication of inbound Bot Framework requests.

The SDK's own validator answers 500 for a forged or garbled token and fetches keys with
blocking ``requests`` calls; Tapaamo validates the JWT itself and maps every failure to 401.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from jwt import PyJWK

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ("RS256",)
CLOCK_SKEW_SECONDS = 300  # what the Bot Framework allows between its clock and ours
KEYS_MAX_AGE_SECONDS = 24 * 3600
UNKNOWN_KID_REFRESH_SECONDS = 300


class AuthError(Exception):
    """The request is not from the Bot Framework, or not for this bot."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SigningKey:
    key: Any
    endorsements: tuple[str, ...]


class OpenIdKeys:
    """Signing keys from an OpenID metadata document, fetched with aiohttp and cached."""

    def __init__(self, session: aiohttp.ClientSession, metadata_url: str) -> None:
        self._session = session
        self._metadata_url = metadata_url
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at = float("-inf")  # not 0: monotonic() counts from boot, and may be small
        self._failed_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> SigningKey | None:
        now = time.monotonic()
        stale = now - self._fetched_at > KEYS_MAX_AGE_SECONDS
        unknown = kid not in self._keys and now - self._fetched_at > UNKNOWN_KID_REFRESH_SECONDS
        if stale or unknown:
            await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - max(self._fetched_at, self._failed_at) < 1.0:
                return  # another turn refreshed, or just failed to, while we waited
            timeout = aiohttp.ClientTimeout(total=10)
            try:
                async with self._session.get(self._metadata_url, timeout=timeout) as resp:
                    resp.raise_for_status()
                    jwks_uri = (await resp.json(content_type=None))["jwks_uri"]
                async with self._session.get(jwks_uri, timeout=timeout) as resp:
                    resp.raise_for_status()
                    document = await resp.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, KeyError, ValueError) as error:
                # Keep the old keys: a metadata outage must not lock everyone out.
                log.warning("could not refresh signing keys: %r", error)
                self._failed_at = time.monotonic()
                return
            keys: dict[str, SigningKey] = {}
            for entry in document.get("keys", []):
                kid = entry.get("kid")
                if not kid:
                    continue
                try:
                    keys[kid] = SigningKey(PyJWK(entry).key, tuple(entry.get("endorsements") or ()))
                except (jwt.PyJWTError, ValueError, TypeError):
                    log.warning("skipping unusable signing key %s", kid)
            self._keys = keys
            self._fetched_at = time.monotonic()


class BotAuthenticator:
    """Validates the bearer token of a request sent by the Bot Framework channel."""

    def __init__(self, keys: OpenIdKeys, *, app_id: str, issuer: str) -> None:
        self._keys = keys
        self._app_id = app_id
        self._issuer = issuer

    async def authenticate(self, authorization: str | None, activity: dict[str, Any]) -> dict[str, Any]:
        """Return the token's claims, or raise AuthError saying why not."""
        if not authorization:
            raise AuthError("missing Authorization header")
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not token.strip():
            raise AuthError("Authorization is not a Bearer token")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise AuthError("token is not a JWT") from error
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise AuthError(f"token algorithm {alg!r} is not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise AuthError("token has no key id")
        signing = await self._keys.get(kid)
        if signing is None:
            raise AuthError("token signed by an unknown key")
        channel_id = activity.get("channelId")
        if signing.endorsements and channel_id not in signing.endorsements:
            raise AuthError(f"signing key is not endorsed for channel {channel_id!r}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                signing.key,
                algorithms=list(ALLOWED_ALGORITHMS),
                audience=self._app_id,
                issuer=self._issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise AuthError("token has expired") from error
        except jwt.ImmatureSignatureError as error:
            raise AuthError("token is not yet valid") from error
        except jwt.InvalidAudienceError as error:
            raise AuthError("token is for another audience") from error
        except jwt.InvalidIssuerError as error:
            raise AuthError("token is from another issuer") from error
        except jwt.PyJWTError as error:
            raise AuthError(f"token is not valid: {error}") from error
        claimed_url = claims.get("serviceurl") or claims.get("serviceUrl")
        if claimed_url and claimed_url.rstrip("/") != str(activity.get("serviceUrl", "")).rstrip("/"):
            raise AuthError("serviceUrl does not match the token")
        return claims
