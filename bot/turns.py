"""/api/messages: from an HTTP request to a handled turn, and its answer.

Order of checks: size, JSON, activity shape, authentication, serviceUrl allow-list, redelivery.
Every refusal is a JSON error with a 4xx status; nothing a caller sends produces a 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from botbuilder.core import InvokeResponse, MessageFactory, TurnContext
from botbuilder.schema import Activity, ActivityTypes, Attachment

from bot.adapter import INVOKE_RESPONSE_KEY, TapaamoAdapter
from bot.auth import AuthError, BotAuthenticator
from bot.connector import ConnectorError
from bot.teams import (
    NotAnActivity,
    bot_was_added,
    bot_was_removed,
    check_activity,
    conversation_ref,
    meeting_event,
    service_url_allowed,
    to_turn,
)
from dialogs.cards import CARD_CONTENT_TYPE
from dialogs.i18n import N_
from dialogs.participation import on_meeting_event
from dialogs.router import Router
from dialogs.turn import ActionResult, CardReply, Reply, TextReply
from dialogs.welcome import welcome_card
from domain.clock import Clock
from domain.ports import ConversationRefs, InboundLedger, JobStore

log = logging.getLogger(__name__)

APOLOGY = N_("Sorry, something went wrong on my side. Please try again in a moment.")


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"status": status, "message": message}}, status=status)


def card_attachment(card: dict[str, Any]) -> Attachment:
    return Attachment(content_type=CARD_CONTENT_TYPE, content=card)


def to_activity(reply: Reply) -> Activity:
    if isinstance(reply, TextReply):
        return MessageFactory.text(reply.text)
    activity = MessageFactory.attachment(card_attachment(reply.card))
    activity.summary = reply.card.get("fallbackText")
    return activity


def invoke_body(result: ActionResult) -> dict[str, Any]:
    if result.card is not None:
        return {"statusCode": result.status, "type": CARD_CONTENT_TYPE, "value": result.card}
    return {
        "statusCode": result.status,
        "type": "application/vnd.microsoft.activity.message",
        "value": result.text,
    }


class TapaamoBot:
    """Dispatches a turn to the dialogs by activity type."""

    def __init__(self, router: Router, refs: ConversationRefs, jobs: JobStore) -> None:
        self.router = router
        self.refs = refs
        self.jobs = jobs

    async def on_turn(self, context: TurnContext) -> None:
        activity: dict[str, Any] = context.turn_state["tapaamo.raw"]
        kind = activity["type"]
        if kind == ActivityTypes.message:
            replies = await self.router.handle_message(to_turn(activity))
            await self._send(context, replies)
        elif kind == ActivityTypes.invoke:
            await self._invoke(context, activity)
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
            await self.refs.remove(conversation_id)
            await self.jobs.cancel(f"conv:{conversation_id}:")
            log.info("removed from conversation %s", conversation_id)
        elif bot_was_added(activity):
            turn = to_turn(activity)
            card = welcome_card(self.router, self.router.catalogs[turn.lang])
            await self._send(context, [CardReply(card)])

    async def _send(self, context: TurnContext, replies: Sequence[Reply]) -> None:
        if replies:
            await context.send_activities([to_activity(reply) for reply in replies])

    async def _invoke(self, context: TurnContext, activity: dict[str, Any]) -> None:
        value = activity.get("value") or {}
        action = value.get("action") if isinstance(value, dict) else None
        if activity.get("name") != "adaptiveCard/action" or not isinstance(action, dict):
            body: dict[str, Any] = {"statusCode": 200, "type": "application/vnd.microsoft.activity.message"}
            result = InvokeResponse(status=200, body=body)
        else:
            data = action.get("data")
            turn = to_turn(activity)
            answer = await self.router.handle_action(
                turn, str(action.get("verb") or ""), data if isinstance(data, dict) else {}
            )
            result = InvokeResponse(status=200, body=invoke_body(answer))
        await context.send_activity(Activity(type=ActivityTypes.invoke_response, value=result))


@dataclass
class MessagesEndpoint:
    adapter: TapaamoAdapter
    bot: TapaamoBot
    authenticator: BotAuthenticator | None  # None only in dev mode without an App ID
    refs: ConversationRefs
    inbound: InboundLedger
    clock: Clock
    service_hosts: set[str]
    allow_http_service: bool
    max_body_bytes: int

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
        now = self.clock.now()
        if key and not await self.inbound.claim(key, now):
            log.info("redelivered activity ignored", extra={"activity_id": activity_id})
            stored = await self.inbound.response(key)
            return web.json_response(stored) if stored is not None else web.Response(status=200)
        try:
            await self.refs.upsert(conversation_ref(activity, now))
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
            await self.inbound.finish(key, answer)
        return web.json_response(answer) if answer is not None else web.Response(status=200)

    async def _run(self, activity: dict[str, Any]) -> dict[str, Any] | None:
        context = TurnContext(self.adapter, Activity().deserialize(activity))
        context.turn_state["tapaamo.raw"] = activity
        await self.adapter.run_pipeline(context, self.bot.on_turn)
        invoke = context.turn_state.get(INVOKE_RESPONSE_KEY)
        if invoke is None:
            return None
        response: InvokeResponse = invoke.value
        return dict(response.body or {})

    async def _apologise(self, activity: dict[str, Any]) -> web.Response:
        try:
            lang = to_turn(activity).lang
        except Exception:  # the activity that broke the turn may be too odd to read its locale
            lang = "en"
        text = self.bot.router.catalogs[lang]._(APOLOGY)
        if activity["type"] == ActivityTypes.invoke:
            return web.json_response(
                {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text}
            )
        if activity["type"] == ActivityTypes.message:
            try:
                context = TurnContext(self.adapter, Activity().deserialize(activity))
                await context.send_activity(text)
            except Exception:
                log.exception("could not apologise", extra={"activity_id": activity.get("id")})
        return web.Response(status=200)
