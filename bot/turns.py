"""/api/messages: from an HTTP request to a handled turn, and its answer.

Order of checks: size, JSON, activity shape, authentication, serviceUrl allow-list, redelivery.
Every refusal is a JSON error with a 4xx status; nothing a caller sends produces a 500. A redelivery
of a finished turn gets the first answer again; one of a turn not finished yet gets a 503 to retry.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from botbuilder.schema import ActivityTypes

from bot import logs
from bot.auth import AuthError, BotAuthenticator
from bot.connector import ConnectorError
from bot.sender import OutboundMessage, Sender
from bot.teams import (
    NotAnActivity,
    bot_was_added,
    bot_was_removed,
    check_activity,
    conversation_ref,
    meeting_event,
    service_url_allowed,
    team_of,
    tenant_of,
    to_turn,
)
from dialogs.cards import CARD_CONTENT_TYPE
from dialogs.i18n import N_
from dialogs.participation import on_meeting_event
from dialogs.router import Router
from dialogs.turn import ActionResult, CardReply, Reply, TextReply
from dialogs.welcome import welcome_card
from domain.clock import Clock
from domain.jobs import NewJob
from domain.ports import ConversationRefs, DeliveryFailed, InboundLedger, JobStore

log = logging.getLogger(__name__)

# A turn waits this long (seconds) for its replies to get through Teams' per-conversation limits;
# what is still unsent then goes to the durable jobs. Teams redelivers after ~15 s without an answer.
REPLY_WAIT = 8.0
# Card actions whose answer is one person's own view of an anonymous poll (their ✔ on it): the
# answer is not kept for redeliveries, which get the poll's view made again instead.
PRIVATE_VERBS = frozenset({"poll.vote", "poll.view", "poll.comment"})
REPLY_JOB = "reply.send"  # job: a reply the turn could not deliver in time; payload: see _deferred
APOLOGY = N_("Sorry, something went wrong on my side. Please try again in a moment.")


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"status": status, "message": message}}, status=status)


def reply_to(activity: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """The reply activity, addressed back along the inbound one (what TurnContext would do)."""
    out: dict[str, Any] = {
        "type": "message",
        "from": activity.get("recipient"),
        "recipient": activity.get("from"),
        "conversation": activity["conversation"],
        "channelId": activity.get("channelId"),
        "serviceUrl": activity["serviceUrl"],
        "replyToId": activity.get("id"),
        "inputHint": "acceptingInput",
    }
    if activity.get("locale"):
        out["locale"] = activity["locale"]
    if isinstance(reply, TextReply):
        out["text"] = reply.text
    else:
        out["attachments"] = [{"contentType": CARD_CONTENT_TYPE, "content": reply.card}]
        out["summary"] = reply.card.get("fallbackText")
    return out


def private_action(activity: dict[str, Any]) -> dict[str, Any] | None:
    """The data of a card action in :data:`PRIVATE_VERBS`, or None for any other activity."""
    if activity.get("type") != ActivityTypes.invoke or activity.get("name") != "adaptiveCard/action":
        return None
    value = activity.get("value")
    action = value.get("action") if isinstance(value, dict) else None
    if not isinstance(action, dict) or action.get("verb") not in PRIVATE_VERBS:
        return None
    data = action.get("data")
    return data if isinstance(data, dict) else {}


def invoke_body(result: ActionResult) -> dict[str, Any]:
    if result.card is not None:
        return {"statusCode": result.status, "type": CARD_CONTENT_TYPE, "value": result.card}
    return {
        "statusCode": result.status,
        "type": "application/vnd.microsoft.activity.message",
        "value": result.text,
    }


class TapaamoBot:
    """Dispatches a turn to the dialogs by activity type; replies go out through the sender.

    Activities stay dicts from end to end: botbuilder's msrest models cost a third of a turn's
    CPU in (de)serialisation and mis-parse Teams' meeting payloads (see README, "Design notes").
    """

    def __init__(
        self,
        router: Router,
        refs: ConversationRefs,
        jobs: JobStore,
        sender: Sender,
        forget_conversation: Callable[[str, str | None], Awaitable[object]] | None = None,
        *,
        reply_wait: float = REPLY_WAIT,
    ) -> None:
        self.router = router
        self.refs = refs
        self.jobs = jobs
        self.sender = sender
        self.forget_conversation = forget_conversation
        self.reply_wait = reply_wait

    async def on_turn(self, activity: dict[str, Any]) -> dict[str, Any] | None:
        """Handle one activity; return the invoke response body, if it is an invoke."""
        kind = activity["type"]
        if kind == ActivityTypes.message:
            await self.send(activity, await self.router.handle_message(to_turn(activity)))
        elif kind == ActivityTypes.invoke:
            return await self._invoke(activity)
        elif kind == "event":
            info = meeting_event(activity)
            if info is not None:
                await on_meeting_event(
                    self.router.services,
                    self.router.clock.now(),
                    name=info.name,
                    event_key=info.event_key,
                    conversation_id=info.conversation_id,
                    meeting_id=info.meeting_id,
                    join_url=info.join_url,
                    at=info.at,
                    members=info.members,
                    payload=info.payload,
                )
        elif bot_was_removed(activity):
            conversation_id = activity["conversation"]["id"]
            # Uninstalled: forget the conversation, and networks homed there stop posting to it.
            if self.forget_conversation is not None:
                # From a team, the bot leaves every channel of it, not only the General one.
                await self.forget_conversation(conversation_id, team_of(activity))
            else:
                await self.refs.remove(conversation_id)
            log.info("removed from conversation %s", conversation_id)
        elif bot_was_added(activity):
            turn = to_turn(activity)
            card = welcome_card(
                self.router, self.router.catalogs[turn.lang], shared=turn.conversation_kind != "personal"
            )
            await self.send(activity, [CardReply(card)])
        return None

    async def send(self, activity: dict[str, Any], replies: Sequence[Reply]) -> None:
        """Send the turn's replies in order through the sender's per-conversation limiter.

        Whatever cannot go within ``reply_wait`` seconds (full windows, a long Retry-After, the
        connector failing) is handed to the durable jobs under a key made from the activity id, so
        that it arrives later and a redelivered turn does not queue it twice. Raises
        ConnectorError only for a refusal that no retry can help (the bot was removed, ...).
        """
        if not replies:
            return
        deadline = asyncio.get_running_loop().time() + self.reply_wait
        conversation_id = str(activity["conversation"]["id"])
        turn_id = activity.get("id") or f"no-id-{uuid.uuid4().hex}"
        digest = hashlib.sha256(f"{conversation_id}|{turn_id}".encode()).hexdigest()[:40]
        messages = [
            OutboundMessage(
                key=f"reply:{digest}:{index}",
                conversation_id=conversation_id,
                service_url=str(activity["serviceUrl"]),
                activity=reply_to(activity, reply),
                tenant_id=tenant_of(activity),
                reply_to_id=activity.get("id"),
            )
            for index, reply in enumerate(replies)
        ]
        for position, message in enumerate(messages):
            outcome = await self.sender.send_by(message, deadline)
            if outcome is None:
                for later in messages[position:]:
                    await self._defer(later)
                return
            if not outcome.ok:
                raise ConnectorError(outcome.http_status or 0, outcome.error or "reply refused")

    async def _defer(self, message: OutboundMessage) -> None:
        log.info(
            "reply %s not sent in %.0f s; handed to the jobs",
            message.key,
            self.reply_wait,
            extra={"conversation": message.conversation_id, "key": message.key},
        )
        payload = {
            "key": message.key,
            "conversation_id": message.conversation_id,
            "service_url": message.service_url,
            "tenant_id": message.tenant_id,
            "reply_to_id": message.reply_to_id,
            "activity": message.activity,
        }
        now = self.router.clock.now()
        await self.jobs.enqueue(NewJob(REPLY_JOB, payload, now, message.key))

    async def send_deferred(self, payload: dict[str, Any]) -> None:
        """The handler of :data:`REPLY_JOB`: send the reply (once per key), or fail for a retry."""
        outcome = await self.sender.send(
            OutboundMessage(
                key=str(payload["key"]),
                conversation_id=str(payload["conversation_id"]),
                service_url=str(payload["service_url"]),
                activity=dict(payload["activity"]),
                tenant_id=payload.get("tenant_id"),
                reply_to_id=payload.get("reply_to_id"),
            )
        )
        if not outcome.ok and outcome.retryable:
            raise DeliveryFailed(outcome.error or "reply not sent", retryable=True)
        # A refusal no retry can help (the bot was removed from the chat): the sender recorded it.

    async def _invoke(self, activity: dict[str, Any]) -> dict[str, Any]:
        value = activity.get("value") or {}
        action = value.get("action") if isinstance(value, dict) else None
        if activity.get("name") != "adaptiveCard/action" or not isinstance(action, dict):
            return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message"}
        data = action.get("data")
        turn = to_turn(activity)
        answer = await self.router.handle_action(
            turn, str(action.get("verb") or ""), data if isinstance(data, dict) else {}
        )
        return invoke_body(answer)

    async def view_again(self, activity: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        """The answer to a redelivered poll action, whose first answer was not kept: the poll as
        this person sees it now (viewing is idempotent; the action itself is not repeated)."""
        answer = await self.router.handle_action(to_turn(activity), "poll.view", {"poll": data.get("poll")})
        return invoke_body(answer)


@dataclass
class MessagesEndpoint:
    bot: TapaamoBot
    authenticator: BotAuthenticator | None  # None only in dev mode without an App ID
    refs: ConversationRefs
    inbound: InboundLedger
    clock: Clock
    service_hosts: set[str]
    allow_http_service: bool
    max_body_bytes: int
    _finished: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)
    _flusher: asyncio.Task[None] | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            return error_response(413, "request body too large")
        raw = bytearray()
        try:
            # read(n) gives what has arrived so far, not n bytes: read until the end or the limit.
            while len(raw) <= self.max_body_bytes:
                chunk = await request.content.read(self.max_body_bytes + 1 - len(raw))
                if not chunk:
                    break
                raw += chunk
        except web.HTTPException:
            return error_response(413, "request body too large")
        if len(raw) > self.max_body_bytes:
            return error_response(413, "request body too large")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return error_response(400, "body is not JSON")
        try:
            activity = check_activity(body)
        except NotAnActivity as error:
            return error_response(400, str(error))
        logs.set_activity(activity.get("id"))  # every log line of this turn carries it
        if self.authenticator is not None:
            try:
                await self.authenticator.authenticate(request.headers.get("Authorization"), activity)
            except AuthError as error:
                log.warning("refused request: %s", error.reason, extra={"activity_id": activity.get("id")})
                return error_response(401, error.reason)
        try:
            allowed = service_url_allowed(activity["serviceUrl"], self.service_hosts, self.allow_http_service)
        except ValueError:  # urlsplit refuses some malformed URLs, such as "https://["
            allowed = False
        if not allowed:
            log.warning(
                "refused serviceUrl %s", activity["serviceUrl"], extra={"activity_id": activity.get("id")}
            )
            return error_response(403, "serviceUrl is not allowed")
        return await self._turn(activity)

    async def _turn(self, activity: dict[str, Any]) -> web.Response:
        activity_id = activity.get("id")
        key = f"{activity['conversation']['id']}|{activity_id}" if activity_id else None
        # The claim and the conversation reference are one write: a turn costs the single
        # SQLite writer one transaction at its start, and its finish joins a batch.
        if not await self.inbound.begin(key, conversation_ref(activity, self.clock.now())):
            assert key is not None
            outcome = await self.inbound.outcome(key)
            if outcome is None or not outcome[0]:
                # Not done: under way, or its process died mid-turn (the claim is taken over once
                # stale). A 200 here would tell Teams it was done and the activity would be lost.
                log.info("redelivered activity not finished yet", extra={"activity_id": activity_id})
                return web.json_response(
                    {"error": {"status": 503, "message": "this activity is still being handled"}},
                    status=503,
                    headers={"Retry-After": "1"},
                )
            log.info("redelivered activity ignored", extra={"activity_id": activity_id})
            stored = outcome[1]
            private = private_action(activity)
            if stored is None and private is not None:
                return web.json_response(await self._view_again(activity, private))
            return web.json_response(stored) if stored is not None else web.Response(status=200)
        try:
            answer = await self._run(activity)
        except ConnectorError as error:
            # The reply could not be delivered: apologising would fail the same way.
            log.warning("reply not delivered: %s", error, extra={"activity_id": activity_id})
            if key:
                await self.inbound.release(key)
            return web.Response(status=200)
        except Exception:
            log.exception("turn failed", extra={"activity_id": activity_id, "type": activity.get("type")})
            if key:
                await self.inbound.release(key)
            return await self._apologise(activity)
        if key:
            # A poll action's answer shows the person's own choice: only the mark that it was
            # done is kept, or the ledger would link voters to answers for as long as it keeps ids.
            self._finish(key, None if private_action(activity) is not None else answer)
        return web.json_response(answer) if answer is not None else web.Response(status=200)

    def _finish(self, key: str, answer: dict[str, Any] | None) -> None:
        self._finished.append((key, answer))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        """Write finished turns in batches: those that end while a batch is written go in the next."""
        while self._finished:
            batch, self._finished = self._finished, []
            try:
                await self.inbound.finish_many(batch)
            except Exception:
                log.exception("could not record %d finished turns", len(batch))

    async def drain(self) -> None:
        """Wait until every finished turn is recorded (at shutdown, and in tests)."""
        while self._flusher is not None and not self._flusher.done():
            await self._flusher

    async def _view_again(self, activity: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self.bot.view_again(activity, data)
        except Exception:
            log.exception("could not show the poll again", extra={"activity_id": activity.get("id")})
            return invoke_body(ActionResult(text=self.bot.router.catalogs[to_turn(activity).lang]._(APOLOGY)))

    async def _run(self, activity: dict[str, Any]) -> dict[str, Any] | None:
        return await self.bot.on_turn(activity)

    async def _apologise(self, activity: dict[str, Any]) -> web.Response:
        try:
            lang = to_turn(activity).lang
        except Exception:  # the activity that broke the turn may be too odd to read its locale
            lang = "en"
        text = self.bot.router.catalogs[lang]._(APOLOGY)
        if activity["type"] == ActivityTypes.invoke:
            return web.json_response(invoke_body(ActionResult(text=text)))
        if activity["type"] == ActivityTypes.message:
            try:
                await self.bot.send(activity, [TextReply(text)])
            except Exception:
                log.exception("could not apologise", extra={"activity_id": activity.get("id")})
        return web.Response(status=200)
