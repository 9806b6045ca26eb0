"""What a handler sees of a Teams turn, and what it answers: no botbuilder types here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Lang = Literal["fi", "sv", "en"]
LANGS: tuple[Lang, ...] = ("fi", "sv", "en")


def lang_of_locale(locale: str | None) -> Lang:
    """Teams locale to one of our languages: fi-FI -> fi, sv-SE/sv-FI -> sv, anything else -> en."""
    prefix = (locale or "").split("-")[0].split("_")[0].lower()
    if prefix == "fi":
        return "fi"
    if prefix == "sv":
        return "sv"
    return "en"


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str = ""
    aad_id: str | None = None


@dataclass(frozen=True, slots=True)
class Turn:
    """One inbound activity, reduced to what dialogs need."""

    activity_id: str
    conversation_id: str
    conversation_kind: Literal["personal", "groupChat", "channel"]
    user: User
    locale: str | None
    tenant_id: str | None = None
    text: str = ""
    value: Any = None
    mentions: tuple[User, ...] = field(default_factory=tuple)

    @property
    def lang(self) -> Lang:
        return lang_of_locale(self.locale)


@dataclass(frozen=True, slots=True)
class TextReply:
    text: str


@dataclass(frozen=True, slots=True)
class CardReply:
    card: dict[str, Any]
    key: str | None = None  # our key for the sent message, to update it in place later


Reply = TextReply | CardReply


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The answer to a card button (Action.Execute): a card that replaces the clicked one, or a text."""

    card: dict[str, Any] | None = None
    text: str | None = None
    status: int = 200
