"""Microsoft Graph, app-only: Teams online meetings Tapaamo creates and their attendance reports.

    tokens = GraphTokens(app_id, tenant_id=tenant, authority_host=login_authority, secret=secret)
    graph = GraphClient(session, tokens, "https://graph.microsoft.com/v1.0", organizer_user_id)
    meeting = await graph.create_meeting(
        subject="Open network", start=start, end=end, external_id="tapaamo-session-12-20260108T1200Z"
    )
    people = await graph.attendance(meeting.meeting_id)

Calls, all under ``/users/{organizer}`` (application permissions need an application access policy
that allows the app to act for that user, ``New-CsApplicationAccessPolicy`` /
``Grant-CsApplicationAccessPolicy``):

    POST /onlineMeetings/createOrGet                                  OnlineMeetings.ReadWrite.All
    POST /onlineMeetings               (no external id)               OnlineMeetings.ReadWrite.All
    GET  /onlineMeetings/{id}/attendanceReports                       OnlineMeetingArtifact.Read.All
    GET  /onlineMeetings/{id}/attendanceReports/{id}/attendanceRecords

Failures raise domain.ports.DeliveryFailed: 408/429/5xx and network errors are retried here a few
times (``Retry-After`` honoured, otherwise exponential backoff with jitter) and then raised as
retryable; 400/401/403/404 are raised at once as not retryable, with a reason a person can act on.
A 401 first drops the cached token and tries once more with a fresh one.

Creating with an external id is idempotent at Graph (``createOrGet``: the organizer and the
external id name one meeting; 201 when made, 200 with the same meeting when it was there), so a
retry after a 5xx, a lost answer or a crash before the join link was saved gets the same meeting.
Without an external id (plain ``POST /onlineMeetings``) a retry may leave a second meeting behind.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import ssl as ssl_module
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import aiohttp

from domain.participation import Member, ReportRecord
from domain.ports import DeliveryFailed, NoReportYet, OnlineMeeting

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_PAGES = 1000

Sleep = Callable[[float], Awaitable[None]]

# AADSTS codes of the token endpoint worth a plain-language reason.
_AADSTS_REASONS = {
    7000215: "the app secret is wrong (use the secret's value, not its id)",
    7000222: "the app secret has expired",
    700016: "the app id is not registered in this tenant",
    90002: "the tenant was not found",
    700027: "the client certificate is not registered for the app",
}
_RETRYABLE_TOKEN_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


@dataclass(frozen=True, slots=True)
class AttendanceRecord:
    """One person's attendance of a meeting, merged over all of its attendance reports.

    ``user_id`` is the Entra (AAD) object id from the record's identity; it is empty for anonymous
    or dial-in attendees, who are told apart by email or display name instead.
    """

    user_id: str
    display_name: str
    tenant_id: str | None
    email: str | None
    first_join: datetime | None
    last_leave: datetime | None
    total_seconds: int
    role: str = ""


class GraphTokens:
    """App-only tokens for Microsoft Graph from msal (client credentials), cached until near expiry.

    msal is synchronous (requests) and fetches the authority's OpenID configuration when the
    application object is built, so both run in a worker thread. ``ca_bundle`` is handed to msal
    as ``verify=`` (a PEM path) for a private authority in tests.
    """

    def __init__(
        self,
        app_id: str,
        *,
        tenant_id: str,
        authority_host: str = "https://login.microsoftonline.com",
        secret: str = "",
        certificate: dict[str, str] | None = None,
        ca_bundle: str = "",
        scope: str = GRAPH_SCOPE,
        refresh_margin: float = 300.0,
        timeout: float = 15.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app_id = app_id
        self._tenant_id = tenant_id
        self._authority = f"{authority_host.rstrip('/')}/{tenant_id}"
        self._credential: Any = certificate or secret
        self._ca_bundle = ca_bundle
        self._scope = scope
        self._margin = refresh_margin
        self._timeout = timeout
        self._monotonic = monotonic
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self._app: Any = None
        self._requests: Any = None
        self._drop_msal_cache = False
        self.acquisitions = 0  # tokens fetched (msal calls), for tests and diagnostics

    def _fresh(self) -> str | None:
        if self._token and self._monotonic() < self._expires - self._margin:
            return self._token
        return None

    async def token(self) -> str:
        """A bearer token for Graph; raises DeliveryFailed when none can be had."""
        cached = self._fresh()
        if cached:
            return cached
        async with self._lock:
            cached = self._fresh()
            if cached:
                return cached
            try:
                result = await asyncio.to_thread(self._acquire)
            except ValueError as error:  # msal: bad authority or tenant discovery refused
                raise DeliveryFailed(f"Graph sign-in failed: {error}", retryable=False) from error
            except Exception as error:  # requests' network errors, msal's 5xx
                raise DeliveryFailed(f"Graph sign-in unreachable: {error!r}", retryable=True) from error
            if "access_token" not in result:
                raise _token_refused(result)
            self.acquisitions += 1
            self._token = str(result["access_token"])
            self._expires = self._monotonic() + float(result.get("expires_in", 3600))
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (Graph answered 401): the next call asks the authority again."""
        self._token = None
        self._expires = 0.0
        self._drop_msal_cache = True

    def _http_client(self) -> Any:
        """msal's requests session, made here so that it can be closed, with ``verify`` per request.

        requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a *session's* ``verify``
        (psf/requests#3829), so msal's ``verify=`` alone is lost wherever those are set; a
        per-request ``verify`` is not. Without a bundle it is True, as msal's own would be.
        """
        if self._requests is None:
            import requests

            session = requests.Session()
            session.request = functools.partial(  # type: ignore[method-assign]
                session.request, verify=self._ca_bundle or True, timeout=self._timeout
            )
            adapter = requests.adapters.HTTPAdapter(max_retries=1)  # as msal mounts its own
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._requests = session
        return self._requests

    def close(self) -> None:
        """Close msal's HTTP connections (at shutdown); a later call opens new ones."""
        if self._requests is not None:
            self._requests.close()
            self._requests = None
            self._app = None

    def _acquire(self) -> dict[str, Any]:
        import msal  # imported here: it costs start-up time and most runs never need it

        if self._app is None:
            self._app = msal.ConfidentialClientApplication(
                self._app_id,
                client_credential=self._credential,
                authority=self._authority,
                instance_discovery=False,
                verify=self._ca_bundle or True,
                timeout=self._timeout,
                http_client=self._http_client(),
            )
        if self._drop_msal_cache:
            self._app.remove_tokens_for_client()
            self._drop_msal_cache = False
        result: dict[str, Any] = self._app.acquire_token_for_client(scopes=[self._scope])
        return result


def _token_refused(result: dict[str, Any]) -> DeliveryFailed:
    error = str(result.get("error") or "no access_token")
    codes = [code for code in result.get("error_codes") or [] if isinstance(code, int)]
    known = next((_AADSTS_REASONS[code] for code in codes if code in _AADSTS_REASONS), None)
    description = str(result.get("error_description") or "").split("\r\n")[0].split(" Trace ID:")[0]
    if known:
        reason = f"Graph sign-in refused: {known} (AADSTS{codes[0]}, {error})"
    else:
        reason = f"Graph sign-in refused ({error}): {description[:300]}"
    return DeliveryFailed(reason, retryable=error in _RETRYABLE_TOKEN_ERRORS)


class GraphClient:
    """A small async client of the Graph endpoints Tapaamo uses.

    It is a domain.ports.MeetingProvider (``create_meeting``) and AttendanceSource
    (``attendance_records``).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: GraphTokens,
        base_url: str,
        organizer_user_id: str,
        ssl: ssl_module.SSLContext | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
        max_attempts: int = 4,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        timeout: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        if not organizer_user_id:
            raise ValueError("GraphClient needs the organizer's user id")
        self._session = session
        self._tokens = tokens
        self._base = base_url.rstrip("/")
        parts = urlsplit(self._base)
        self._origin = (parts.scheme, parts.netloc.lower())
        self._user = quote(organizer_user_id, safe="")
        self._ssl: ssl_module.SSLContext | bool = ssl if ssl is not None else True
        self._sleep = sleep
        self._max_attempts = max(1, max_attempts)
        self._backoff = backoff
        self._max_wait = max_wait
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._rng = rng or random.Random()

    # -- MeetingProvider ---------------------------------------------------------------------

    async def create_meeting(
        self, *, subject: str, start: datetime, end: datetime, external_id: str | None = None
    ) -> OnlineMeeting:
        """Create a Teams meeting in the organizer's name; raises DeliveryFailed.

        With ``external_id`` it is Graph's ``createOrGet``: asked again with the same id (a retried
        job), Graph answers with the meeting made the first time instead of making another.
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("create_meeting needs timezone-aware times")
        if end <= start:
            raise ValueError("a meeting must end after it starts")
        body = {"startDateTime": _utc_iso(start), "endDateTime": _utc_iso(end), "subject": subject}
        url = f"{self._base}/users/{self._user}/onlineMeetings"
        if external_id is not None:
            if not external_id:
                raise ValueError("an external id cannot be empty")
            body["externalId"] = external_id
            url += "/createOrGet"
        answer = await self._call("POST", url, body, what="meeting")
        join_url, meeting_id = answer.get("joinWebUrl"), answer.get("id")
        if not isinstance(join_url, str) or not isinstance(meeting_id, str) or not join_url:
            raise DeliveryFailed("Graph created a meeting but answered without id or joinWebUrl", False)
        log.info(
            "Teams meeting %s for %s",
            meeting_id,
            external_id or "(no external id)",
            extra={"type": "graph"},
        )
        return OnlineMeeting(join_url=join_url, meeting_id=meeting_id)

    def close(self) -> None:
        """Close the token provider's connections; the aiohttp session is the caller's to close."""
        self._tokens.close()

    # -- attendance ----------------------------------------------------------------------------

    async def attendance(self, meeting_id: str) -> list[AttendanceRecord]:
        """Everyone in the meeting's attendance reports, one record per person, sorted by first join.

        A meeting held several times (or restarted) has a report per run: a person's earliest join,
        latest leave and summed attendance over all of them are kept.
        """
        meeting = f"{self._base}/users/{self._user}/onlineMeetings/{quote(meeting_id, safe='')}"
        reports = f"{meeting}/attendanceReports"
        merged: dict[str, _Merge] = {}
        async for report in self._pages(reports, what="meeting"):
            report_id = report.get("id")
            if not isinstance(report_id, str) or not report_id:
                continue
            records = f"{reports}/{quote(report_id, safe='')}/attendanceRecords"
            async for record in self._pages(records, what="attendance report"):
                person = _parse_record(record)
                if person is None:
                    continue
                key, parsed = person
                if key in merged:
                    merged[key].add(parsed)
                else:
                    merged[key] = _Merge(parsed)
        people = [entry.record() for entry in merged.values()]
        far = datetime.max.replace(tzinfo=UTC)
        people.sort(key=lambda p: (p.first_join or far, p.display_name, p.user_id))
        return people

    async def attendance_records(self, meeting_id: str) -> list[ReportRecord]:
        """domain.ports.AttendanceSource: ``attendance`` as the ledger takes it.

        Only people with an Entra object id and join/leave times are kept: anonymous and dial-in
        attendees cannot be told apart from one meeting to the next.

        No report at all means Teams has not published it yet (it takes minutes after the meeting):
        that is :class:`NoReportYet`, so the job asks again later instead of finishing with nobody.
        """
        people = await self.attendance(meeting_id)
        if not people:
            raise NoReportYet(f"no attendance report of meeting {meeting_id} yet")
        return [
            ReportRecord(
                member=Member(
                    user_id=None,
                    aad_id=person.user_id,
                    name=person.display_name,
                    tenant_id=person.tenant_id,
                    email=person.email,
                ),
                first_join=person.first_join,
                last_leave=person.last_leave,
                total_seconds=person.total_seconds,
            )
            for person in people
            if person.user_id and person.first_join is not None and person.last_leave is not None
        ]

    # -- plumbing ------------------------------------------------------------------------------

    async def _pages(self, url: str, *, what: str) -> AsyncIterator[dict[str, Any]]:
        """The items of a Graph collection, following ``@odata.nextLink`` (same origin only)."""
        next_url: str | None = url
        pages = 0
        while next_url:
            pages += 1
            if pages > MAX_PAGES:
                raise DeliveryFailed(f"Graph paging of {url} did not end after {MAX_PAGES} pages", False)
            page = await self._call("GET", next_url, None, what=what)
            for item in page.get("value") or []:
                if isinstance(item, dict):
                    yield item
            link = page.get("@odata.nextLink")
            if link is not None and not self._same_origin(str(link)):
                raise DeliveryFailed(f"Graph nextLink leaves {self._base}: {link}", retryable=False)
            next_url = str(link) if link else None

    def _same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc.lower()) == self._origin

    async def _call(self, method: str, url: str, body: dict[str, Any] | None, *, what: str) -> dict[str, Any]:
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            token = await self._tokens.token()
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            try:
                async with self._session.request(
                    method, url, json=body, headers=headers, ssl=self._ssl, timeout=self._timeout
                ) as resp:
                    status = resp.status
                    text = await resp.text()
                    retry_after = _retry_after(resp.headers.get("Retry-After"))
                    request_id = resp.headers.get("request-id")
            except (aiohttp.ClientError, TimeoutError) as error:
                reason = f"Graph unreachable ({method} {_path(url)}): {error!r}"
                await self._wait_or_raise(attempt, None, reason, error)
                continue

            if status < 300:
                return _json_object(text)
            if status == 401 and not refreshed:
                refreshed = True  # the token may have been revoked or rotated: one fresh try
                self._tokens.invalidate()
                log.info("Graph answered 401; retrying with a new token", extra={"type": "graph"})
                continue
            code, message = _graph_error(text)
            if status in RETRY_STATUSES:
                reason = f"Graph answered {status} ({code or 'no code'}) to {method} {_path(url)}: {message}"
                log.warning(
                    "Graph answered %s (attempt %d, Retry-After %s)",
                    status,
                    attempt,
                    retry_after,
                    extra={"type": "graph", "graph_request_id": request_id},
                )
                await self._wait_or_raise(attempt, retry_after, reason, None)
                continue
            raise DeliveryFailed(_refusal(status, code, message, what), retryable=False)

    async def _wait_or_raise(
        self, attempt: int, retry_after: float | None, reason: str, cause: BaseException | None
    ) -> None:
        """Sleep before the next attempt, or raise a retryable DeliveryFailed when out of tries."""
        if retry_after is not None:
            delay = retry_after  # Graph says how long; waiting less only earns another 429
        else:
            delay = self._backoff * 2 ** (attempt - 1)
            delay += self._rng.uniform(0, delay / 2)  # jitter: concurrent callers do not retry in step
        if attempt >= self._max_attempts or delay > self._max_wait:
            raise DeliveryFailed(reason, retryable=True) from cause
        await self._sleep(delay)


class _Merge:
    """One person's records being merged: earliest join, latest leave, summed seconds."""

    def __init__(self, first: AttendanceRecord) -> None:
        self.user_id = first.user_id
        self.display_name = first.display_name
        self.tenant_id = first.tenant_id
        self.email = first.email
        self.first_join = first.first_join
        self.last_leave = first.last_leave
        self.total = first.total_seconds
        self.role = first.role

    def add(self, other: AttendanceRecord) -> None:
        self.display_name = self.display_name or other.display_name
        self.tenant_id = self.tenant_id or other.tenant_id
        self.email = self.email or other.email
        self.role = self.role or other.role
        self.first_join = _earliest(self.first_join, other.first_join)
        self.last_leave = _latest(self.last_leave, other.last_leave)
        self.total += other.total_seconds

    def record(self) -> AttendanceRecord:
        return AttendanceRecord(
            user_id=self.user_id,
            display_name=self.display_name,
            tenant_id=self.tenant_id,
            email=self.email,
            first_join=self.first_join,
            last_leave=self.last_leave,
            total_seconds=self.total,
            role=self.role,
        )


def _parse_record(record: dict[str, Any]) -> tuple[str, AttendanceRecord] | None:
    identity = record.get("identity") or {}
    user_id = str(identity.get("id") or "")
    name = str(identity.get("displayName") or "")
    email = record.get("emailAddress") or None
    key = user_id or (f"email:{str(email).lower()}" if email else "") or (f"name:{name}" if name else "")
    if not key:
        return None
    first: datetime | None = None
    last: datetime | None = None
    for interval in record.get("attendanceIntervals") or []:
        first = _earliest(first, _parse_time(interval.get("joinDateTime")))
        last = _latest(last, _parse_time(interval.get("leaveDateTime")))
    seconds = record.get("totalAttendanceInSeconds")
    if not isinstance(seconds, int | float):
        seconds = sum(int(i.get("durationInSeconds") or 0) for i in record.get("attendanceIntervals") or [])
    parsed = AttendanceRecord(
        user_id=user_id,
        display_name=name,
        tenant_id=identity.get("tenantId") or None,
        email=str(email) if email else None,
        first_join=first,
        last_leave=last,
        total_seconds=int(seconds),
        role=str(record.get("role") or ""),
    )
    return key, parsed


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _parse_time(value: Any) -> datetime | None:
    """Graph's times ("2021-10-05T04:38:27.6027225Z"), aware and in UTC; None if absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _path(url: str) -> str:
    return urlsplit(url).path


def _json_object(text: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as error:
        raise DeliveryFailed(f"Graph answered something that is not JSON: {text[:200]!r}", True) from error
    return value if isinstance(value, dict) else {"value": value}


def _graph_error(text: str) -> tuple[str, str]:
    """The ``code`` and ``message`` of Graph's error body ``{"error": {"code", "message"}}``."""
    try:
        error = (json.loads(text) or {}).get("error") or {}
    except (ValueError, AttributeError):
        return "", text[:200]
    if not isinstance(error, dict):
        return "", str(error)[:200]
    return str(error.get("code") or ""), str(error.get("message") or "")[:300]


def _refusal(status: int, code: str, message: str, what: str) -> str:
    detail = f"{status} {code}: {message}".rstrip(": ")
    if status == 401:
        return f"Graph refused the app's token ({detail}); check the app id, secret and tenant"
    if status == 403:
        return (
            "Graph refused: the app lacks OnlineMeetings.ReadWrite.All (attendance: "
            "OnlineMeetingArtifact.Read.All) or an application access policy for the organizer "
            f"({detail})"
        )
    if status == 404:
        return f"Graph found no such {what} (or no such organizer user) ({detail})"
    return f"Graph refused the request ({detail})"


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def build_graph(
    settings: Settings,
    session: aiohttp.ClientSession,
    *,
    sleep: Sleep = asyncio.sleep,
) -> GraphClient | None:
    """The Graph client the settings ask for, or None when Graph is off or not configured."""
    secret = settings.app_password.get_secret_value()
    if not (
        settings.graph_enabled
        and settings.app_id
        and (secret or settings.app_certificate_path is not None)
        and settings.tenant_id
        and settings.graph_organizer_user_id
    ):
        if settings.graph_enabled:
            log.warning(
                "TAPAAMO_GRAPH_ENABLED is set but app id, secret or certificate, tenant id or organizer "
                "user id is missing: meetings are not created through Graph",
                extra={"type": "graph"},
            )
        return None
    context: ssl_module.SSLContext | None = None
    if settings.graph_ca_bundle:
        context = ssl_module.create_default_context()
        context.load_verify_locations(cafile=settings.graph_ca_bundle)
    tokens = GraphTokens(
        settings.app_id,
        tenant_id=settings.tenant_id,
        authority_host=settings.login_authority,
        secret=secret,
        # the certificate file is read only when Graph is built, not whenever Graph is off
        certificate=settings.app_certificate(),
        ca_bundle=settings.graph_ca_bundle,
    )
    return GraphClient(
        session,
        tokens,
        settings.graph_base_url,
        settings.graph_organizer_user_id,
        context,
        sleep=sleep,
    )
