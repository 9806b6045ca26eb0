"""A local fake of the Bot Connector service: a real aiohttp server on 127.0.0.1, a free port.

    async with FakeConnector(seed=1, fail_rate_429=0.1, retry_after="1") as fake:
        await connector_client.send(fake.url, "conv-1", {"type": "message", "text": "hi"})
        assert [r.activity["text"] for r in fake.for_conversation("conv-1")] == ["hi"]

Routes (Bot Connector v3); all but DELETE answer ``{"id": ...}``:
    POST   /v3/conversations/{id}/activities              send          201, a new unique id
    POST   /v3/conversations/{id}/activities/{replyToId}  reply         201, a new unique id
    PUT    /v3/conversations/{id}/activities/{activityId} update        200, that id
    DELETE /v3/conversations/{id}/activities/{activityId} delete        200
    POST   /v3/conversations                              create (1:1)  201, a new conversation id

What it keeps:
    url                 the service URL to give a ConnectorClient
    received            every accepted call, a `Received` (arrival on time.monotonic(), kind, method,
                        conversation id, activity (the JSON body; for create, the parameters),
                        activity id, reply_to_id), in arrival order
    requests            every call, accepted or not, a `Request` (arrival, kind, conversation id, status)
    for_conversation(id)            the `received` of one conversation
    max_in_window(id, seconds)      most messages (send, reply, update) accepted within any ``seconds``
                                    long interval, for one conversation or (id None) all of them
    limit_rejections    how many 429s ``enforce_limits`` answered

Faults, all settable between calls (the random ones draw from a ``random.Random(seed)``):
    fail_rate_429, retry_after   share of message calls answered 429 with that ``Retry-After`` header
    fail_rate_503                share answered 503
    force_status(id, status, times=None, retry_after=None)
                                 answer ``status`` to the next ``times`` calls for one conversation
                                 (every call if None)
    enforce_limits               answer 429 (Retry-After: the wait needed) to a message that would
                                 exceed Teams' per-conversation windows: 7/1 s, 8/2 s, 60/30 s, 1800/h
    latency                      seconds each answer is held back (arrival is taken before it)

Only send, reply and update calls count towards the windows and take random faults.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

Kind = Literal["send", "reply", "update", "delete", "create"]
MESSAGE_KINDS: frozenset[str] = frozenset({"send", "reply", "update"})

# Teams' limits per bot per conversation, written out here rather than imported from bot.ratelimit,
# so that a wrong number there is caught here.
TEAMS_WINDOWS: tuple[tuple[float, int], ...] = ((1.0, 7), (2.0, 8), (30.0, 60), (3600.0, 1800))


@dataclass(frozen=True, slots=True)
class Received:
    at: float
    kind: Kind
    method: str
    conversation_id: str
    activity: dict[str, Any]
    activity_id: str | None
    reply_to_id: str | None = None


@dataclass(frozen=True, slots=True)
class Request:
    at: float
    kind: Kind
    conversation_id: str
    status: int


@dataclass(slots=True)
class _Forced:
    status: int
    times: int | None
    retry_after: str | None


class FakeConnector:
    """A Bot Connector on 127.0.0.1 that records what it is sent; see the module docstring."""

    def __init__(
        self,
        *,
        seed: int = 0,
        fail_rate_429: float = 0.0,
        retry_after: str = "1",
        fail_rate_503: float = 0.0,
        enforce_limits: bool = False,
        latency: float = 0.0,
    ) -> None:
        self.fail_rate_429 = fail_rate_429
        self.retry_after = retry_after
        self.fail_rate_503 = fail_rate_503
        self.enforce_limits = enforce_limits
        self.latency = latency
        self.received: list[Received] = []
        self.requests: list[Request] = []
        self.limit_rejections = 0
        self._rng = random.Random(seed)
        self._ids = itertools.count(1)
        self._forced: dict[str, _Forced] = {}
        self._accepted: dict[str, list[float]] = {}  # arrival times of accepted messages, per conversation
        self._runner: web.AppRunner | None = None
        self._url = ""

    @property
    def url(self) -> str:
        if not self._url:
            raise RuntimeError("the fake connector is not started")
        return self._url

    async def start(self) -> FakeConnector:
        app = web.Application()
        activity = "/v3/conversations/{conversation_id}/activities/{activity_id}"
        app.router.add_post("/v3/conversations/{conversation_id}/activities", self._send)
        app.router.add_post(activity, self._reply)
        app.router.add_put(activity, self._update)
        app.router.add_delete(activity, self._delete)
        app.router.add_post("/v3/conversations", self._create)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._url = f"http://{host}:{port}/"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeConnector:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def force_status(
        self, conversation_id: str, status: int, *, times: int | None = None, retry_after: str | None = None
    ) -> None:
        """Answer ``status`` to the next ``times`` calls for ``conversation_id`` (all of them if None)."""
        self._forced[conversation_id] = _Forced(status, times, retry_after)

    def for_conversation(self, conversation_id: str) -> list[Received]:
        return [r for r in self.received if r.conversation_id == conversation_id]

    def max_in_window(self, conversation_id: str | None, seconds: float) -> int:
        """Most messages accepted within any interval ``seconds`` long (half-open, as Teams counts)."""
        if conversation_id is None:
            times = sorted(r.at for r in self.received if r.kind in MESSAGE_KINDS)
        else:
            times = self._accepted.get(conversation_id, [])
        most, first = 0, 0
        for last, at in enumerate(times):
            while at - times[first] >= seconds:
                first += 1
            most = max(most, last - first + 1)
        return most

    # --- handlers -------------------------------------------------------------------------------

    async def _send(self, request: web.Request) -> web.Response:
        return await self._message(request, "send")

    async def _reply(self, request: web.Request) -> web.Response:
        return await self._message(request, "reply")

    async def _update(self, request: web.Request) -> web.Response:
        return await self._message(request, "update")

    async def _delete(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        conversation_id = request.match_info["conversation_id"]
        refusal = self._forced_answer(conversation_id)
        if refusal is None:
            self.received.append(
                Received(at, "delete", "DELETE", conversation_id, {}, request.match_info["activity_id"])
            )
        response = web.json_response({}) if refusal is None else refusal
        return await self._answer(at, "delete", conversation_id, response)

    async def _create(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        parameters = await self._json(request)
        conversation_id = f"a:fake-conversation-{next(self._ids)}"
        self.received.append(Received(at, "create", "POST", conversation_id, parameters, None))
        response = web.json_response({"id": conversation_id}, status=201)
        return await self._answer(at, "create", conversation_id, response)

    async def _message(self, request: web.Request, kind: Kind) -> web.Response:
        at = time.monotonic()
        conversation_id = request.match_info["conversation_id"]
        path_id = request.match_info.get("activity_id")
        # Decide and record before the first await, so that both follow arrival order exactly.
        refusal = self._forced_answer(conversation_id)
        if refusal is None:
            refusal = self._random_fault()
        if refusal is None:
            refusal = self._limit(conversation_id, at)
        if refusal is not None:
            return await self._answer(at, kind, conversation_id, refusal)
        self._accepted.setdefault(conversation_id, []).append(at)
        activity_id = path_id if kind == "update" else f"fake-activity-{next(self._ids)}"
        activity: dict[str, Any] = {}  # filled in below, once the body is read
        reply_to_id = path_id if kind == "reply" else None
        self.received.append(
            Received(at, kind, request.method, conversation_id, activity, activity_id, reply_to_id)
        )
        status = 200 if kind == "update" else 201
        activity.update(await self._json(request))
        response = web.json_response({"id": activity_id}, status=status)
        return await self._answer(at, kind, conversation_id, response)

    # --- decisions ------------------------------------------------------------------------------

    def _forced_answer(self, conversation_id: str) -> web.Response | None:
        forced = self._forced.get(conversation_id)
        if forced is None:
            return None
        if forced.times is not None:
            forced.times -= 1
            if forced.times <= 0:
                del self._forced[conversation_id]
        headers = {"Retry-After": forced.retry_after} if forced.retry_after is not None else None
        return web.json_response(
            {"error": {"code": "Forced", "message": f"forced {forced.status}"}},
            status=forced.status,
            headers=headers,
        )

    def _random_fault(self) -> web.Response | None:
        draw = self._rng.random()
        if draw < self.fail_rate_429:
            return web.json_response(
                {"error": {"code": "Throttled", "message": "injected 429"}},
                status=429,
                headers={"Retry-After": self.retry_after},
            )
        if draw < self.fail_rate_429 + self.fail_rate_503:
            return web.json_response(
                {"error": {"code": "ServiceUnavailable", "message": "injected 503"}}, status=503
            )
        return None

    def _limit(self, conversation_id: str, at: float) -> web.Response | None:
        if not self.enforce_limits:
            return None
        times = self._accepted.get(conversation_id, [])
        wait = 0.0
        for seconds, limit in TEAMS_WINDOWS:
            # accepting at `at` is fine if the limit-th latest accepted one is out of (at - seconds, at]
            if len(times) >= limit and times[-limit] > at - seconds:
                wait = max(wait, times[-limit] + seconds - at)
        if wait <= 0:
            return None
        self.limit_rejections += 1
        return web.json_response(
            {"error": {"code": "Throttled", "message": "conversation limit exceeded"}},
            status=429,
            headers={"Retry-After": f"{wait:.3f}"},
        )

    async def _answer(
        self, at: float, kind: Kind, conversation_id: str, response: web.Response
    ) -> web.Response:
        self.requests.append(Request(at, kind, conversation_id, response.status))
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        return response

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        body = await request.json()
        return body if isinstance(body, dict) else {"value": body}


__all__ = ["MESSAGE_KINDS", "TEAMS_WINDOWS", "FakeConnector", "Received", "Request"]
