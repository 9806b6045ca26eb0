"""Raw Bot Framework activities for tests that post to /api/messages themselves (no Harness)."""

from __future__ import annotations

from typing import Any


def personal_help(service_url: str, activity_id: str, bot_id: str = "28:bot") -> dict[str, Any]:
    """Aino typing "help" in her personal chat with the bot (``bot_id``), replies going to ``service_url``."""
    return {
        "type": "message",
        "id": activity_id,
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": "29:user-1", "name": "Aino"},
        "recipient": {"id": bot_id, "name": "Tapaamo"},
        "conversation": {"id": "a:chat-1", "conversationType": "personal"},
        "locale": "en-US",
        "text": "help",
    }
