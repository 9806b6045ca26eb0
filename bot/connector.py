"""Outbound calls to the Bot Connector service (replies, proactive messages, card updates).

Sent with aiohttp rather than the SDK's msrest/requests client: that one runs every send in a
small thread pool and rebuilds its retry policy per call, which made replies the bottleneck.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)

BOT_CONNECTOR_SCOPE = "https://api.botframework.com/.default"


class ConnectorError(Exception):
    """The connector refused or failed a call."""

    def __init__(self, status: int, body: str = "", retry_after: float | None = None) -> None:
        super().__init__(f"connector answered {status}: {body[:200]}")
        self.status = status
        self.body = body
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status in (408, 412, 429, 500, 502, 503, 504) or self.status == 0


class TokenProvider:
    """App-only tokens for the Bot Connector, from msal (client credentials), cached until near expiry."""

    def __init__(
        self,
        app_id: str,
        *,
        tenant_id: str,
        authority_host: str,
        secret: str = "",
        certificate: dict[str, str] | None = None,
        scope: str = BOT_CONNECTOR_SCOPE,
    ) -> None:
        self._app_id = app_id
        self._tenant_id = tenant_id
        self._authority_host = authority_host.rstrip("/")
        self._credential: Any = certificate or secret
        self._scope = scope
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self._app: Any = None

    async def token(self) -> str | None:
        if not self._app_id:
            return None  # dev mode: no authentication with the emulator
        if self._token and time.monotonic() < self._expires - 300:
            return self._token
        async with self._lock:
            if self._token and time.monotonic() < self._expires - 300:
                return self._token
            result = await asyncio.to_thread(self._acquire)
            if "access_token" not in result:
                raise ConnectorError(401, f"no token: {result.get('error_description') or result}")
            self._token = result["access_token"]
            self._expires = time.monotonic() + float(result.get("expires_in", 3600))
            return self._token

    def _acquire(self) -> dict[str, Any]:
        import msal  # imported here: it costs start-up time and dev mode never needs it

        if self._app is None:
            self._app = msal.ConfidentialClientApplication(
                self._app_id,
                client_credential=self._credential,
                authority=f"{self._authority_host}/{self._tenant_id}",
                instance_discovery=False,
            )
        result: dict[str, Any] = self._app.acquire_token_for_client(scopes=[self._scope])
        return result


@dataclass(frozen=True, slots=True)
class SentActivity:
    id: str | None
    status: int


class ConnectorClient:
    """A thin async client of the Bot Connector REST API (v3)."""

    def __init__(self, session: aiohttp.ClientSession, tokens: TokenProvider, timeout: float = 15.0) -> None:
        self._session = session
        self._tokens = tokens
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(
        self,
        service_url: str,
        conversation_id: str,
        activity: dict[str, Any],
        reply_to_id: str | None = None,
    ) -> SentActivity:
        path = f"v3/conversations/{quote(conversation_id, safe='')}/activities"
        if reply_to_id:
            path += f"/{quote(reply_to_id, safe='')}"
        return await self._call("POST", service_url, path, activity)

    async def update(
        self, service_url: str, conversation_id: str, activity_id: str, activity: dict[str, Any]
    ) -> SentActivity:
        path = f"v3/conversations/{quote(conversation_id, safe='')}/activities/{quote(activity_id, safe='')}"
        return await self._call("PUT", service_url, path, {**activity, "id": activity_id})

    async def delete(self, service_url: str, conversation_id: str, activity_id: str) -> SentActivity:
        path = f"v3/conversations/{quote(conversation_id, safe='')}/activities/{quote(activity_id, safe='')}"
        return await self._call("DELETE", service_url, path, None)

    async def create_conversation(self, service_url: str, parameters: dict[str, Any]) -> dict[str, Any]:
        headers = await self._headers()
        url = service_url.rstrip("/") + "/v3/conversations"
        async with self._session.post(url, json=parameters, headers=headers, timeout=self._timeout) as resp:
            body = await resp.text()
            if resp.status >= 300:
                raise ConnectorError(resp.status, body, _retry_after(resp))
            result: dict[str, Any] = await resp.json(content_type=None)
            return result

    async def _headers(self) -> dict[str, str]:
        token = await self._tokens.token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def _call(
        self, method: str, service_url: str, path: str, body: dict[str, Any] | None
    ) -> SentActivity:
        url = service_url.rstrip("/") + "/" + path
        headers = await self._headers()
        try:
            async with self._session.request(
                method, url, json=body, headers=headers, timeout=self._timeout
            ) as resp:
                text = await resp.text()
                if resp.status >= 300:
                    raise ConnectorError(resp.status, text, _retry_after(resp))
                activity_id = None
                if text:
                    try:
                        activity_id = (await resp.json(content_type=None) or {}).get("id")
                    except ValueError:
                        activity_id = None
                return SentActivity(activity_id, resp.status)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ConnectorError(0, repr(error)) from error


def _retry_after(resp: aiohttp.ClientResponse) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
