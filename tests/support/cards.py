"""Validation of Adaptive Cards against the official schema of the card's declared version."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import adaptive_cards
import jsonschema

SCHEMAS = Path(adaptive_cards.__file__).parent / "schemas"
MAX_MESSAGE_BYTES = 80 * 1024


@cache
def _validator(version: str) -> jsonschema.Draft6Validator:
    schema = json.loads((SCHEMAS / f"schema-{version}.json").read_text(encoding="utf-8"))
    return jsonschema.Draft6Validator(schema)


def _without_msteams(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_msteams(v) for k, v in node.items() if k != "msteams"}
    if isinstance(node, list):
        return [_without_msteams(v) for v in node]
    return node


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def card_problems(card: dict[str, Any]) -> list[str]:
    """Everything wrong with ``card`` for Teams: schema errors and the rules the schema misses."""
    problems: list[str] = []
    version = card.get("version")
    if version not in ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5"):
        return [f"version {version!r} is not one Teams renders (≤ 1.5)"]
    checked = _without_msteams(copy.deepcopy(card))
    for error in _validator(version).iter_errors(checked):
        while error.context:  # anyOf/oneOf: descend to the branch that came closest
            error = jsonschema.exceptions.best_match(error.context)
        problems.append(f"{'/'.join(map(str, error.absolute_path))}: {error.message}")
    if not card.get("fallbackText"):
        problems.append("no fallbackText")
    msteams = card.get("msteams")
    if msteams is not None and (not isinstance(msteams, dict) or set(msteams) - {"width", "entities"}):
        problems.append(f"unexpected msteams property {msteams!r}")
    ids: set[str] = set()
    for element in _walk(card.get("body", [])):
        kind = element.get("type", "")
        if kind.startswith("Input.") and not element.get("label"):
            problems.append(f"input {element.get('id')} has no label")
        if kind == "Image" and not element.get("altText"):
            problems.append(f"image {element.get('url')} has no altText")
        if "id" in element:
            if element["id"] in ids:
                problems.append(f"duplicate id {element['id']}")
            ids.add(element["id"])
    refresh = card.get("refresh")
    if refresh and len(refresh.get("userIds", [])) > 60:
        problems.append("refresh.userIds has more than 60 entries")
    if len(json.dumps(card).encode()) > MAX_MESSAGE_BYTES:
        problems.append("card is larger than 80 KB")
    return problems


def assert_valid_card(card: dict[str, Any]) -> None:
    problems = card_problems(card)
    assert not problems, "\n".join(problems)
