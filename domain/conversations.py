"""Conversations the bot has been in, kept so that it can speak first later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

ConversationKind = Literal["personal", "groupChat", "channel"]


@dataclass(frozen=True, slots=True)
class ConversationRef:
    """Enough of a Bot Framework ConversationReference to send proactively."""

    conversation_id: str
    service_url: str
    channel_id: str
    kind: ConversationKind
    tenant_id: str | None
    bot_id: str
    user_id: str | None  # the Teams user id of a personal chat's user
    user_aad_id: str | None
    locale: str | None
    reference: dict[str, Any]  # the serialised ConversationReference, as the edge wrote it
    updated_at: datetime
