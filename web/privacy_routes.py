"""GET /mydata/{token}: a person's data as a JSON file, through a link that expires.

The token is made by :class:`PrivacyLinks` for the person who typed ``mydata`` in their personal
chat. It is opaque: their ids and its expiry are encrypted (AES-GCM under a key derived from the
app's signing key), so that no id can be read from the URL in a proxy's or browser's log. It is
refused (403) when it does not decrypt (made with another key, tampered with), has expired or is
of another kind.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dialogs.i18n import Catalogs
from dialogs.privacy import MYDATA
from dialogs.turn import LANGS
from domain.clock import Clock
from domain.privacy import Privacy, Subject
from web import pages

KIND = "mydata"
NONCE_BYTES = 12


class BadToken(Exception):
    """Not a token of ours, tampered with, expired, or of another kind."""


def _cipher(secret: bytes) -> AESGCM:
    # A key of its own, so that the signing key itself never encrypts.
    return AESGCM(hashlib.sha256(b"tapaamo/mydata-token/v1|" + secret).digest())


def seal(secret: bytes, claims: dict[str, Any]) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(secret).encrypt(nonce, json.dumps(claims, separators=(",", ":")).encode(), KIND.encode())
    return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()


def unseal(secret: bytes, token: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        plain = _cipher(secret).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], KIND.encode())
        claims = json.loads(plain)
    except (binascii.Error, ValueError, InvalidTag) as error:
        raise BadToken("not a valid link") from error
    if not isinstance(claims, dict):
        raise BadToken("not a valid link")
    return claims


class PrivacyLinks:
    """Opaque, expiring links to ``/mydata/{token}`` (dialogs.privacy.MyDataLinks)."""

    def __init__(self, secret: bytes, public_url: str, clock: Clock, minutes: int = 60) -> None:
        self.signing_key = secret
        self._base = public_url.rstrip("/")
        self._clock = clock
        self.minutes = minutes

    def mydata(self, subject: Subject, lang: str = "") -> str:
        """The download link; ``lang`` (the card's) is the language of the page shown if it fails."""
        expires = self._clock.now() + timedelta(minutes=self.minutes)
        claims: dict[str, object] = {"kind": KIND, "uid": subject.user_id, "exp": int(expires.timestamp())}
        if subject.aad_id:
            claims["aad"] = subject.aad_id
        suffix = f"?lang={lang}" if lang in LANGS else ""
        return f"{self._base}/mydata/{seal(self.signing_key, claims)}{suffix}"


@dataclass(frozen=True, slots=True)
class PrivacyWebDeps:
    privacy: Privacy
    clock: Clock
    signing_key: bytes
    public_url: str = ""  # where the pages live (the footer's links of the refusal page)


def add_privacy_routes(app: web.Application, deps: Callable[[web.Request], PrivacyWebDeps]) -> None:
    """Add ``GET /mydata/{token}``; ``deps`` finds the running app's services (they open on start)."""

    catalogs: list[Catalogs] = []  # read on first use

    def refused(request: web.Request, d: PrivacyWebDeps) -> web.Response:
        """A link that has expired or is not one: a page in the reader's language saying how to
        get a new one (the person clicked a button in Teams; plain English text helps no one)."""
        if not catalogs:
            catalogs.append(Catalogs())
        lang, explicit = pages.negotiate(
            request.query.get("lang"), request.headers.get("Accept-Language", ""), "fi"
        )
        tr = catalogs[0][lang]
        site = pages.Site(tr, d.public_url, request.path, explicit)
        text = tr._(
            "The download link has expired or is not complete. For a new one, "
            "type \u201c{command}\u201d in your personal chat with Tapaamo.",
            command=MYDATA[lang][0],
        )
        return web.Response(
            text=pages.forbidden_page(site, text),
            status=403,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Cache-Control": "no-store",
                "Content-Language": lang,
                "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff",
                "X-Robots-Tag": "noindex, nofollow",
            },
        )

    async def mydata(request: web.Request) -> web.Response:
        d = deps(request)
        try:
            claims = unseal(d.signing_key, request.match_info["token"])
        except BadToken:
            return refused(request, d)
        user_id = claims.get("uid")
        aad_id = claims.get("aad")
        expires = claims.get("exp")
        if claims.get("kind") != KIND or not isinstance(user_id, str) or not user_id:
            return refused(request, d)
        if not isinstance(expires, int) or expires < d.clock.now().timestamp():
            return refused(request, d)
        subject = Subject(user_id, aad_id if isinstance(aad_id, str) and aad_id else None)
        data = await d.privacy.my_data(subject)
        body = json.dumps(
            data.to_json(d.clock.now(), d.privacy.retention), ensure_ascii=False, indent=2, sort_keys=False
        )
        return web.Response(
            text=body,
            content_type="application/json",
            charset="utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="tapaamo-my-data.json"',
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff",
                "X-Robots-Tag": "noindex, nofollow",
            },
        )

    app.router.add_get("/mydata/{token}", mydata)
