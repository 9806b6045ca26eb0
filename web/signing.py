"""Signed, expiring links: a link grants exactly what its payload says, until it expires."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any


class BadLink(Exception):
    """Unsigned, tampered with, or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, payload: dict[str, Any], expires: datetime) -> str:
    body = _b64(json.dumps({**payload, "exp": int(expires.timestamp())}, separators=(",", ":")).encode())
    mac = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def verify(secret: bytes, token: str, now: datetime) -> dict[str, Any]:
    body, _, mac = token.partition(".")
    if not body or not mac:
        raise BadLink("not a signed link")
    expected = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, mac):
        raise BadLink("bad signature")
    try:
        payload: dict[str, Any] = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError) as error:
        raise BadLink("unreadable link") from error
    if not isinstance(payload.get("exp"), int) or payload["exp"] < now.timestamp():
        raise BadLink("expired")
    return payload
