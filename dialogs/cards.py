"""Small pure builders for Adaptive Cards (version 1.5, the newest Teams renders)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dialogs.turn import Lang

CARD_VERSION = "1.5"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"

Element = dict[str, Any]


def card(
    body: Sequence[Element],
    *,
    lang: Lang,
    fallback: str,
    actions: Sequence[Element] = (),
    refresh: Element | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "lang": lang,
        "fallbackText": fallback,
        "body": list(body),
        "msteams": {"width": "Full"},
    }
    if actions:
        result["actions"] = list(actions)
    if refresh:
        result["refresh"] = refresh
    return result


def title(text: str) -> Element:
    return {
        "type": "TextBlock",
        "text": text,
        "size": "Large",
        "weight": "Bolder",
        "wrap": True,
        "style": "heading",
    }


def text(value: str, *, subtle: bool = False, size: str | None = None) -> Element:
    block: Element = {"type": "TextBlock", "text": value, "wrap": True}
    if subtle:
        block["isSubtle"] = True
    if size:
        block["size"] = size
    return block


def facts(pairs: Sequence[tuple[str, str]]) -> Element:
    return {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in pairs]}


def execute(
    title_text: str, verb: str, data: dict[str, Any] | None = None, *, style: str | None = None
) -> Element:
    action: Element = {"type": "Action.Execute", "title": title_text, "verb": verb, "data": data or {}}
    if style:
        action["style"] = style
    return action


def open_url(title_text: str, url: str) -> Element:
    return {"type": "Action.OpenUrl", "title": title_text, "url": url}
