"""Signed links to reports and downloads, as the dialogs put them on cards."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.clock import Clock
from web.signing import sign


class SignedLinks:
    def __init__(self, secret: bytes, public_url: str, clock: Clock, hours: int = 24) -> None:
        self._secret = secret
        self._base = public_url.rstrip("/")
        self._clock = clock
        self.hours = hours

    def _token(self, payload: dict[str, object]) -> str:
        return sign(self._secret, payload, self._clock.now() + timedelta(hours=self.hours))

    def report(self, network_id: int, start: datetime, end: datetime, lang: str = "") -> str:
        """The report page's link; ``lang`` (the asking coordinator's) opens it in that language."""
        token = self._token(
            {
                "kind": "report",
                "network": network_id,
                "from": int(start.timestamp()),
                "to": int(end.timestamp()),
                **({"lang": lang} if lang else {}),
            }
        )
        return f"{self._base}/report/{token}"

    def export(
        self, network_id: int, start: datetime, end: datetime, fmt: str, user_id: str, lang: str = ""
    ) -> str:
        payload: dict[str, object] = {
            "kind": "export",
            "network": network_id,
            "from": int(start.timestamp()),
            "to": int(end.timestamp()),
            "fmt": fmt,
            "by": user_id,
        }
        if lang:
            payload["lang"] = lang  # the file is headed in the asking coordinator's language
        token = self._token(payload)
        return f"{self._base}/export/{token}"
