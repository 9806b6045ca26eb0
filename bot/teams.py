"""Reading Teams activities (as dicts: botbuilder's Teams classes mis-parse some payloads)."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from dialogs.turn import Turn, User
from domain.conversations import ConversationRef
from domain.participation import Member

AT_TAG = re.compile(r"<at[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
ANY_TAG = re.compile(r"<[^>]+>")
KINDS = ("personal", "groupChat", "channel")


class NotAnActivity(ValueError):
    """Valid JSON that is not a Bot Framework activity."""


def check_activity(body: Any) -> dict[str, Any]:
    """The activity, if ``body`` looks like one; NotAnActivity otherwise."""
    if not isinstance(body, dict):
        raise NotAnActivity("body is not a JSON object")
    if not isinstance(body.get("type"), str) or not body["type"]:
        raise NotAnActivity("activity has no type")
    conversation = body.get("conversation")
    if not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str):
        raise NotAnActivity("activity has no conversation id")
    if not isinstance(body.get("serviceUrl"), str):
        raise NotAnActivity("activity has no serviceUrl")
    for name in ("conversationType", "tenantId", "name"):
        if conversation.get(name) is not None and not isinstance(conversation[name], str):
            raise NotAnActivity(f"activity's conversation.{name} is not a string")
    for party in ("from", "recipient"):
        if body.get(party) is not None and not isinstance(body[party], dict):
            raise NotAnActivity(f"activity's {party} is not an object")
        # Ids are stored (conversation references, coordinators, RSVPs): only strings are ids.
        for name in ("id", "name", "aadObjectId"):
            value = (body.get(party) or {}).get(name)
            if value is not None and not isinstance(value, str):
                raise NotAnActivity(f"activity's {party}.{name} is not a string")
    sender = body.get("from") or {}
    if body["type"] in ("message", "invoke") and not sender.get("id"):
        # Every rule of a message or a card action is about who sent it.
        raise NotAnActivity("activity has no sender id")
    # Fields of the wrong type are dropped rather than trusted: a client bug must not become a 500.
    cleaned = dict(body)
    for name in ("locale", "text", "name", "id", "channelId", "timestamp", "action"):
        if name in cleaned and not isinstance(cleaned[name], str):
            del cleaned[name]
    for name, kind in (
        ("entities", list),
        ("channelData", dict),
        ("membersAdded", list),
        ("membersRemoved", list),
    ):
        if name in cleaned and not isinstance(cleaned[name], kind):
            del cleaned[name]
    return cleaned


def service_url_allowed(url: str, hosts: set[str], allow_http: bool) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "http":
        return allow_http and host in {"127.0.0.1", "localhost"} and host in hosts
    if parts.scheme != "https":
        return False
    return any(host == allowed or host.endswith("." + allowed) for allowed in hosts)


def tenant_of(activity: Mapping[str, Any]) -> str | None:
    channel_data = activity.get("channelData") or {}
    tenant = channel_data.get("tenant") if isinstance(channel_data, dict) else None
    if isinstance(tenant, dict) and isinstance(tenant.get("id"), str):
        return str(tenant["id"])
    conversation = activity.get("conversation") or {}
    value = conversation.get("tenantId")
    return str(value) if value else None


def kind_of(activity: Mapping[str, Any]) -> Literal["personal", "groupChat", "channel"]:
    kind = (activity.get("conversation") or {}).get("conversationType") or "personal"
    return cast(Literal["personal", "groupChat", "channel"], kind if kind in KINDS else "personal")


def clean_text(activity: Mapping[str, Any]) -> str:
    """The message text without the bot's @mention tag and markup."""
    text = str(activity.get("text") or "")
    text = AT_TAG.sub(" ", text)
    text = ANY_TAG.sub(" ", text)
    return " ".join(html.unescape(text).replace("\u00a0", " ").split())


def to_user(entry: Mapping[str, Any] | None) -> User:
    entry = entry or {}
    aad_id = entry.get("aadObjectId")
    return User(
        id=str(entry.get("id") or ""),
        name=str(entry.get("name") or ""),
        aad_id=aad_id if isinstance(aad_id, str) and aad_id else None,
    )


def to_turn(activity: Mapping[str, Any]) -> Turn:
    bot_id = (activity.get("recipient") or {}).get("id")
    mentions = []
    for entity in activity.get("entities") or []:
        if isinstance(entity, dict) and entity.get("type") == "mention":
            mentioned = entity.get("mentioned") or {}
            if (
                isinstance(mentioned, dict)
                and isinstance(mentioned.get("id"), str)
                and mentioned["id"] != bot_id
            ):
                mentions.append(to_user(mentioned))
    return Turn(
        activity_id=str(activity.get("id") or ""),
        conversation_id=str(activity["conversation"]["id"]),
        conversation_kind=kind_of(activity),
        user=to_user(activity.get("from")),
        locale=activity.get("locale"),
        tenant_id=tenant_of(activity),
        text=clean_text(activity),
        value=activity.get("value"),
        mentions=tuple(mentions),
    )


def team_of(activity: Mapping[str, Any]) -> str | None:
    """The id of the team a channel conversation belongs to (channelData.team.id), if any."""
    channel_data = activity.get("channelData") or {}
    team = channel_data.get("team") if isinstance(channel_data, dict) else None
    if isinstance(team, dict) and isinstance(team.get("id"), str) and team["id"]:
        return str(team["id"])
    return None


def _conversation(conversation: Mapping[str, Any]) -> dict[str, Any]:
    """What identifies a conversation, without anything about who wrote in it."""
    keep = ("id", "conversationType", "tenantId", "isGroup", "name")
    return {k: conversation[k] for k in keep if k in conversation}


def conversation_ref(activity: Mapping[str, Any], at: datetime) -> ConversationRef:
    """What is needed to speak in this conversation later, from an inbound activity."""
    kind = kind_of(activity)
    sender = activity.get("from") or {}
    bot = activity.get("recipient") or {}
    personal = kind == "personal"
    reference: dict[str, Any] = {
        "bot": {k: bot.get(k) for k in ("id", "name") if bot.get(k)},
        "conversation": _conversation(activity.get("conversation") or {}),
        "channelId": activity.get("channelId"),
        "locale": activity.get("locale"),
        "serviceUrl": activity.get("serviceUrl"),
    }
    if personal:
        # The one person of a personal chat is who the bot writes to there.
        reference["user"] = {k: sender.get(k) for k in ("id", "name", "aadObjectId") if sender.get(k)}
    # In a group chat or channel the last sender is left out: the bot does not need them to post
    # there, and a reference updated by every turn would tell who last voted in a poll.
    team = team_of(activity)
    if team is not None:
        reference["team"] = {"id": team}
    return ConversationRef(
        conversation_id=str(activity["conversation"]["id"]),
        service_url=str(activity["serviceUrl"]),
        channel_id=str(activity.get("channelId") or "msteams"),
        kind=kind,
        tenant_id=tenant_of(activity),
        bot_id=str(bot.get("id") or ""),
        user_id=sender.get("id") if personal else None,
        user_aad_id=sender.get("aadObjectId") if personal else None,
        locale=activity.get("locale"),
        reference=reference,
        updated_at=at,
    )


def bot_was_added(activity: Mapping[str, Any]) -> bool:
    if activity.get("type") != "conversationUpdate":
        return False
    bot_id = (activity.get("recipient") or {}).get("id")
    added = activity.get("membersAdded") or []
    return any(isinstance(member, dict) and member.get("id") == bot_id for member in added)


def bot_was_removed(activity: Mapping[str, Any]) -> bool:
    if activity.get("type") == "installationUpdate":
        return str(activity.get("action") or "").startswith("remove")
    if activity.get("type") != "conversationUpdate":
        return False
    bot_id = (activity.get("recipient") or {}).get("id")
    removed = activity.get("membersRemoved") or []
    return any(isinstance(member, dict) and member.get("id") == bot_id for member in removed)


MEETING_EVENTS = {
    "application/vnd.microsoft.meetingStart": "meetingStart",
    "application/vnd.microsoft.meetingEnd": "meetingEnd",
    "application/vnd.microsoft.meetingParticipantJoin": "participantJoin",
    "application/vnd.microsoft.meetingParticipantLeave": "participantLeave",
}


@dataclass(frozen=True, slots=True)
class MeetingEventInfo:
    name: str  # meetingStart | meetingEnd | participantJoin | participantLeave
    event_key: str
    conversation_id: str
    meeting_id: str | None
    join_url: str | None
    at: datetime | None
    members: tuple[Member, ...]
    payload: dict[str, Any]


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def meeting_event(activity: Mapping[str, Any]) -> MeetingEventInfo | None:
    """A Teams meeting event, read from the raw dicts (botbuilder's classes mis-parse these)."""
    if activity.get("type") != "event":
        return None
    name = MEETING_EVENTS.get(str(activity.get("name") or ""))
    if name is None:
        return None
    value = _dict(activity.get("value"))
    channel_data = _dict(activity.get("channelData"))
    meeting = _dict(channel_data.get("meeting"))
    meeting_id = value.get("Id") or value.get("id") or meeting.get("id")
    members = []
    for entry in value.get("members") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("user"), dict):
            continue
        person = entry["user"]
        members.append(
            Member(
                user_id=person.get("id") or None,
                aad_id=person.get("aadObjectId") or None,
                name=str(person.get("name") or ""),
                tenant_id=person.get("tenantId") or tenant_of(activity),
                email=person.get("email") or person.get("userPrincipalName") or None,
            )
        )
    at = _time(value.get("StartTime") if name == "meetingStart" else value.get("EndTime")) or _time(
        activity.get("timestamp")
    )
    return MeetingEventInfo(
        name=name,
        event_key=f"{activity['conversation']['id']}|{activity.get('id') or f'{name}@{at}'}",
        conversation_id=str(activity["conversation"]["id"]),
        meeting_id=str(meeting_id) if meeting_id else None,
        join_url=value.get("JoinUrl") or value.get("joinUrl") or None,
        at=at,
        members=tuple(members),
        payload={
            k: v
            for k, v in value.items()
            if k in ("Id", "JoinUrl", "Title", "MeetingType", "StartTime", "EndTime")
        },
    )
