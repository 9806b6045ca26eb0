"""GET /mydata/{token}: a person's data as a JSON file, through a signed link that expires.

The token is made by :class:`PrivacyLinks` for the person who typed ``mydata`` in their personal
chat; it names their ids and nothing else, and it is refused (403) when unsigned, tampered with,
expired or of another kind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from domain.clock import Clock
from domain.privacy import Privacy, Subject
from web.signing import BadLink, sign, verify

KIND = "mydata"


class PrivacyLinks:
    """Signed links to ``/mydata/{token}`` (dialogs.privacy.MyDataLinks)."""

    def __init__(self, secret: bytes, public_url: str, clock: Clock, minutes: int = 60) -> None:
        self._secret = secret
        self._base = public_url.rstrip("/")
        self._clock = clock
        self.minutes = minutes

    def mydata(self, subject: Subject) -> str:
        payload: dict[str, object] = {"kind": KIND, "uid": subject.user_id}
        if subject.aad_id:
            payload["aad"] = subject.aad_id
        token = sign(self._secret, payload, self._clock.now() + timedelta(minutes=self.minutes))
        return f"{self._base}/mydata/{token}"


@dataclass(frozen=True, slots=True)
class PrivacyWebDeps:
    privacy: Privacy
    clock: Clock
    signing_key: bytes


def add_privacy_routes(app: web.Application, deps: Callable[[web.Request], PrivacyWebDeps]) -> None:
    """Add ``GET /mydata/{token}``; ``deps`` finds the running app's services (they open on start)."""

    async def mydata(request: web.Request) -> web.Response:
        d = deps(request)
        try:
            claims = verify(d.signing_key, request.match_info["token"], d.clock.now())
        except BadLink as error:
            raise web.HTTPForbidden(text=f"This link is not valid: {error}.") from error
        user_id = claims.get("uid")
        aad_id = claims.get("aad")
        if claims.get("kind") != KIND or not isinstance(user_id, str) or not user_id:
            raise web.HTTPForbidden(text="This link is not valid here.")
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
