"""The domain's Notifier on top of the rate-limited Sender and the stored conversation references."""

from __future__ import annotations

import logging
from typing import Any

from bot.sender import OutboundMessage, Sender, SendStatus
from dialogs.cards import CARD_CONTENT_TYPE
from domain.ports import ConversationRefs, DeliveryFailed

log = logging.getLogger(__name__)


def message(card: dict[str, Any] | None, text: str | None) -> dict[str, Any]:
    activity: dict[str, Any] = {"type": "message"}
    if card is not None:
        activity["attachments"] = [{"contentType": CARD_CONTENT_TYPE, "content": card}]
        activity["summary"] = card.get("fallbackText")
    if text is not None:
        activity["text"] = text
    return activity


def addressed(activity: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """The activity with its conversation, sender and recipient, from the stored reference."""
    activity["conversation"] = reference.get("conversation") or {}
    if reference.get("bot"):
        activity["from"] = reference["bot"]
    if reference.get("user"):
        activity["recipient"] = reference["user"]
    if reference.get("channelId"):
        activity["channelId"] = reference["channelId"]
    return activity


class SenderNotifier:
    def __init__(self, sender: Sender, refs: ConversationRefs) -> None:
        self._sender = sender
        self._refs = refs

    async def post(
        self, conversation_id: str, key: str, *, card: dict[str, Any] | None = None, text: str | None = None
    ) -> str | None:
        ref = await self._refs.get(conversation_id)
        if ref is None:
            raise DeliveryFailed(f"no conversation reference for {conversation_id}", retryable=False)
        outcome = await self._sender.send(
            OutboundMessage(
                key=key,
                conversation_id=conversation_id,
                service_url=ref.service_url,
                activity=addressed(message(card, text), ref.reference),
                tenant_id=ref.tenant_id,
            )
        )
        if not outcome.ok:
            raise DeliveryFailed(outcome.error or "send failed", retryable=outcome.retryable)
        return outcome.activity_id

    async def update(self, conversation_id: str, key: str, card: dict[str, Any]) -> bool:
        activity_id = await self._sender.activity_id(key)
        ref = await self._refs.get(conversation_id)
        if activity_id is None or ref is None:
            return False
        outcome = await self._sender.send(
            OutboundMessage(
                key=f"{key}:update",
                conversation_id=conversation_id,
                service_url=ref.service_url,
                activity=addressed(message(card, None), ref.reference),
                tenant_id=ref.tenant_id,
                update_activity_id=activity_id,
            )
        )
        if not outcome.ok:
            raise DeliveryFailed(outcome.error or "update failed", retryable=outcome.retryable)
        return outcome.status == SendStatus.UPDATED
