"""A local fake of Microsoft Graph and of its sign-in authority, over HTTPS on 127.0.0.1.

    async with FakeGraph(directory=tmp_path, page_size=2) as fake:
        tokens = GraphTokens(fake.client_id, tenant_id=fake.tenant_id, authority_host=fake.authority,
                             secret=fake.client_secret, ca_bundle=str(fake.ca_path))
        client = GraphClient(session, tokens, fake.graph_url, fake.organizer_id, fake.client_ssl())

The certificate is made for each fake with ``cryptography``: a throwaway CA (written to ``ca_path``,
the bundle to give msal as ``verify=`` and aiohttp as an SSLContext) and a server certificate it
signed for 127.0.0.1 and localhost.

Authority routes (what msal asks for with ``instance_discovery=False``):
    GET  /{tenant}/v2.0/.well-known/openid-configuration   OpenID discovery; an unknown tenant
                                                           gets 400 AADSTS90002 (msal: ValueError)
    POST /{tenant}/oauth2/v2.0/token                       client credentials (secret in the form,
                                                           as msal sends it, or HTTP Basic) ->
                                                           {"token_type": "Bearer", "expires_in", ...};
                                                           wrong secret 401 AADSTS7000215, unknown
                                                           app 400 AADSTS700016, a scope without
                                                           /.default 400 AADSTS1002012
Graph routes (under ``/v1.0``, a valid bearer token from the token route needed, else 401):
    POST /users/{user}/onlineMeetings                                          201, the meeting
    POST /users/{user}/onlineMeetings/createOrGet   externalId required (else 400): 201 and a new
                                                    meeting, or 200 and the meeting the organizer
                                                    already has with that externalId, unchanged
    GET  /users/{user}/onlineMeetings/{id}                                     200, the meeting
    GET  /users/{user}/onlineMeetings/{id}/attendanceReports                   paged reports
    GET  /users/{user}/onlineMeetings/{id}/attendanceReports/{id}              one report
    GET  /users/{user}/onlineMeetings/{id}/attendanceReports/{id}/attendanceRecords   paged records
  An unknown user or meeting is 404; a user outside ``policy_users`` or an app role missing from
  ``app_roles`` is 403. Collections are paged ``page_size`` items at a time with
  ``@odata.nextLink`` (``$skiptoken``), as Graph pages them.

What it keeps:
    token_requests      every POST to the token route, a `TokenRequest` (form fields except the secret)
    discovery_requests  tenants asked for by OpenID discovery
    requests            every Graph call, a `GraphCall` (method, path, query, token, body, status)
    meetings            created (or seeded) meetings by id, in Graph's shape
    external_ids        (organizer, externalId) -> meeting id, as createOrGet keeps them
Seeding and faults:
    add_attendance_report(meeting_id, records, start=, end=)  returns the report id; build records
                        with `attendance_record(...)`
    fail_next(times, status=429, retry_after="1", on="graph"|"token")  the next ``times`` calls
    revoke_tokens()     every token issued so far is refused (401 InvalidAuthenticationToken)
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import secrets
import ssl
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"
ALL_ROLES = frozenset({"OnlineMeetings.ReadWrite.All", "OnlineMeetingArtifact.Read.All"})


@dataclass(frozen=True, slots=True)
class TokenRequest:
    tenant: str
    client_id: str
    grant_type: str
    scope: str
    secret_via: Literal["form", "basic", "none"]
    secret_ok: bool
    form: dict[str, str]  # everything msal sent but the secret
    status: int


@dataclass(frozen=True, slots=True)
class GraphCall:
    method: str
    path: str  # decoded, without /v1.0
    query: dict[str, str]
    token: str | None
    body: dict[str, Any] | None
    status: int


@dataclass(slots=True)
class _Fault:
    times: int
    status: int
    retry_after: str | None


@dataclass(slots=True)
class _Report:
    id: str
    start: dt.datetime
    end: dt.datetime
    records: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "totalParticipantCount": len(self.records),
            "meetingStartDateTime": _graph_time(self.start),
            "meetingEndDateTime": _graph_time(self.end),
            "externalEventInformation": [],
        }


def attendance_record(
    user_id: str,
    display_name: str,
    intervals: Sequence[tuple[dt.datetime, dt.datetime]],
    *,
    email: str | None = None,
    tenant_id: str | None = None,
    role: str = "Attendee",
) -> dict[str, Any]:
    """An attendanceRecord as Graph returns it (seconds computed from the intervals)."""
    shaped = [
        {
            "joinDateTime": _graph_time(join),
            "leaveDateTime": _graph_time(leave),
            "durationInSeconds": int((leave - join).total_seconds()),
        }
        for join, leave in intervals
    ]
    return {
        "id": user_id or str(uuid.uuid4()),
        "emailAddress": email,
        "totalAttendanceInSeconds": sum(i["durationInSeconds"] for i in shaped),
        "role": role,
        "registrationId": None,
        "externalRegistrationInformation": None,
        "identity": {"id": user_id, "displayName": display_name, "tenantId": tenant_id},
        "attendanceIntervals": shaped,
    }


class FakeGraph:
    def __init__(
        self,
        *,
        directory: Path | None = None,
        tenant_id: str = "5f1c2e8a-7a1d-4d51-9c3b-0b6f2c1d9e01",
        client_id: str = "7d0b6a52-3c1e-4f59-8e4a-2a9d6c5b1f10",
        client_secret: str = "fake~graph~secret",
        organizer_id: str = "d0c1a7e2-5b9f-4c3a-8e61-3f2b7a9c4d58",
        page_size: int = 2,
        expires_in: int = 3599,
    ) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.organizer_id = organizer_id
        self.users: set[str] = {organizer_id}
        self.policy_users: set[str] = {organizer_id}  # the application access policy
        self.app_roles: set[str] = set(ALL_ROLES)
        self.page_size = page_size
        self.expires_in = expires_in
        self.token_requests: list[TokenRequest] = []
        self.discovery_requests: list[str] = []
        self.requests: list[GraphCall] = []
        self.meetings: dict[str, dict[str, Any]] = {}
        self._organizer_of: dict[str, str] = {}
        self.external_ids: dict[tuple[str, str], str] = {}
        self._reports: dict[str, list[_Report]] = {}
        self._tokens: set[str] = set()
        self._faults: dict[str, _Fault | None] = {"graph": None, "token": None}
        self._own_dir = directory is None
        self._dir = Path(tempfile.mkdtemp(prefix="fake-graph-")) if directory is None else directory
        self.ca_path = self._dir / "fake-graph-ca.pem"
        self._runner: web.AppRunner | None = None
        self._url = ""

    # -- life ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``https://127.0.0.1:{port}``: the authority host and the Graph host."""
        return self._url

    @property
    def authority(self) -> str:
        return self._url

    @property
    def graph_url(self) -> str:
        return f"{self._url}/v1.0"

    def client_ssl(self) -> ssl.SSLContext:
        """A client SSLContext that trusts this fake (and nothing else)."""
        return ssl.create_default_context(cafile=str(self.ca_path))

    async def start(self) -> FakeGraph:
        server_context = self._make_certificates()
        app = web.Application()
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._discovery)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        meetings = "/v1.0/users/{user}/onlineMeetings"
        app.router.add_post(meetings, self._create_meeting)
        app.router.add_post(meetings + "/createOrGet", self._create_or_get_meeting)
        app.router.add_get(meetings + "/{meeting}", self._get_meeting)
        app.router.add_get(meetings + "/{meeting}/attendanceReports", self._reports_list)
        app.router.add_get(meetings + "/{meeting}/attendanceReports/{report}", self._report_get)
        app.router.add_get(
            meetings + "/{meeting}/attendanceReports/{report}/attendanceRecords", self._records_list
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=server_context)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._url = f"https://{host}:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._own_dir:
            for path in self._dir.iterdir():
                path.unlink()
            self._dir.rmdir()

    async def __aenter__(self) -> FakeGraph:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- seeding and faults --------------------------------------------------------------------

    def add_attendance_report(
        self,
        meeting_id: str,
        records: Sequence[dict[str, Any]],
        *,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        organizer_id: str | None = None,
    ) -> str:
        """Add a report (one run of the meeting) with these records; an unknown meeting is made."""
        organizer = organizer_id or self.organizer_id
        if meeting_id not in self.meetings:
            self.meetings[meeting_id] = {"id": meeting_id, "subject": "seeded"}
            self._organizer_of[meeting_id] = organizer
        joins = [_parse(i["joinDateTime"]) for r in records for i in r["attendanceIntervals"]]
        leaves = [_parse(i["leaveDateTime"]) for r in records for i in r["attendanceIntervals"]]
        report = _Report(
            id=str(uuid.uuid4()),
            start=start or min(joins, default=dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)),
            end=end or max(leaves, default=dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)),
            records=list(records),
        )
        self._reports.setdefault(meeting_id, []).append(report)
        return report.id

    def fail_next(
        self,
        times: int,
        status: int = 429,
        retry_after: str | None = "1",
        *,
        on: Literal["graph", "token"] = "graph",
    ) -> None:
        """Answer ``status`` (with that Retry-After, if any) to the next ``times`` calls."""
        self._faults[on] = _Fault(times, status, retry_after)

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    def graph_statuses(self) -> list[int]:
        return [call.status for call in self.requests]

    # -- authority -----------------------------------------------------------------------------

    async def _discovery(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        self.discovery_requests.append(tenant)
        if tenant != self.tenant_id:
            return _aad_error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
                "are signing into the correct cloud.",
            )
        base = f"{self._url}/{tenant}"
        return web.json_response(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{self._url}/{tenant}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "tid", "ver"],
                "kerberos_endpoint": f"{base}/kerberos",
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            }
        )

    async def _token(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        form = {key: str(value) for key, value in (await request.post()).items()}
        secret = form.pop("client_secret", None)
        via: Literal["form", "basic", "none"] = "form"
        client_id = form.get("client_id", "")
        basic = request.headers.get("Authorization", "")
        if secret is None and basic.lower().startswith("basic "):
            user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
            client_id, secret, via = unquote(user), unquote(password), "basic"
        if secret is None:
            via = "none"
        grant_type, scope = form.get("grant_type", ""), form.get("scope", "")
        answer = self._fault("token")
        if answer is None:
            answer = self._token_answer(tenant, client_id, grant_type, scope, secret)
        self.token_requests.append(
            TokenRequest(
                tenant=tenant,
                client_id=client_id,
                grant_type=grant_type,
                scope=scope,
                secret_via=via,
                secret_ok=secret == self.client_secret,
                form=form,
                status=answer.status,
            )
        )
        return answer

    def _token_answer(
        self, tenant: str, client_id: str, grant_type: str, scope: str, secret: str | None
    ) -> web.Response:
        if tenant != self.tenant_id:
            return _aad_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if grant_type != "client_credentials":
            return _aad_error(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        if client_id != self.client_id:
            return _aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. "
                "This can happen if the application has not been installed by the administrator of the "
                "tenant or consented to by any user in the tenant.",
            )
        if secret != self.client_secret:
            return _aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                f"secret value, not the client secret ID, for a secret added to app '{client_id}'.",
            )
        if scope != GRAPH_DEFAULT_SCOPE:
            return _aad_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows must have a "
                "scope value with /.default suffixed to the resource identifier (application ID URI).",
            )
        token = "eyJ0eXAiOiJKV1QiLCJub25jZSI6ImZha2UifQ." + secrets.token_urlsafe(24)
        self._tokens.add(token)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "ext_expires_in": self.expires_in,
                "access_token": token,
            }
        )

    # -- Graph ---------------------------------------------------------------------------------

    async def _create_meeting(self, request: web.Request) -> web.Response:
        body = await _json(request)
        refused = self._refuse(request, "OnlineMeetings.ReadWrite.All", body)
        if refused is not None:
            return refused
        start, end = body.get("startDateTime"), body.get("endDateTime")
        if not isinstance(start, str) or not isinstance(end, str) or not _valid_times(start, end):
            return self._graph_answer(
                request, body, _graph_error(400, "BadRequest", "Invalid meeting start or end time.")
            )
        meeting = self._new_meeting(request.match_info["user"], start, end, body.get("subject"), None)
        return self._graph_answer(request, body, web.json_response(meeting, status=201))

    async def _create_or_get_meeting(self, request: web.Request) -> web.Response:
        """createOrGet: the organizer (tenant, user) and the externalId name one meeting.

        As Graph documents it: no start and end mean now and an hour on, a start alone an hour on,
        an end without a start or before it is refused; a known externalId returns its meeting as
        it is (200), whatever the body says now.
        """
        body = await _json(request)
        refused = self._refuse(request, "OnlineMeetings.ReadWrite.All", body)
        if refused is not None:
            return refused
        user = request.match_info["user"]
        external_id = body.get("externalId")
        if not isinstance(external_id, str) or not external_id:
            return self._graph_answer(
                request, body, _graph_error(400, "BadRequest", "ExternalId is required.")
            )
        known = self.external_ids.get((user, external_id))
        if known is not None and known in self.meetings:
            return self._graph_answer(request, body, web.json_response(self.meetings[known], status=200))
        start, end = body.get("startDateTime"), body.get("endDateTime")
        if start is None and end is not None:
            return self._graph_answer(
                request, body, _graph_error(400, "BadRequest", "End time given without a start time.")
            )
        if start is None:
            start = dt.datetime.now(dt.UTC).isoformat()
        if end is None and isinstance(start, str):
            try:
                end = (_parse(start) + dt.timedelta(hours=1)).isoformat()
            except ValueError:
                end = start
        if not isinstance(start, str) or not isinstance(end, str) or not _valid_times(start, end):
            return self._graph_answer(
                request, body, _graph_error(400, "BadRequest", "Invalid meeting start or end time.")
            )
        meeting = self._new_meeting(user, start, end, body.get("subject"), external_id)
        self.external_ids[(user, external_id)] = meeting["id"]
        return self._graph_answer(request, body, web.json_response(meeting, status=201))

    def _new_meeting(
        self, user: str, start: str, end: str, subject: Any, external_id: str | None
    ) -> dict[str, Any]:
        thread = f"19:meeting_{secrets.token_urlsafe(36).replace('-', 'x').replace('_', 'y')}@thread.v2"
        meeting_id = base64.b64encode(f"1*{user}*0**{thread}".encode()).decode()
        context = quote(f'{{"Tid":"{self.tenant_id}","Oid":"{user}"}}', safe="")
        join = f"https://teams.microsoft.com/l/meetup-join/{quote(thread, safe='')}/0?context={context}"
        now = dt.datetime.now(dt.UTC)
        meeting: dict[str, Any] = {
            "@odata.context": f"{self.graph_url}/$metadata#users('{user}')/onlineMeetings/$entity",
            "id": meeting_id,
            "creationDateTime": _graph_time(now),
            "startDateTime": _graph_time(_parse(start)),
            "endDateTime": _graph_time(_parse(end)),
            "joinUrl": join,
            "joinWebUrl": join,
            "meetingCode": str(secrets.randbelow(10**12)).zfill(12),
            "subject": subject,
            "isBroadcast": False,
            "autoAdmittedUsers": "EveryoneInCompany",
            "outerMeetingAutoAdmittedUsers": None,
            "isEntryExitAnnounced": True,
            "allowedPresenters": "everyone",
            "allowMeetingChat": "enabled",
            "allowTeamworkReactions": True,
            "allowAttendeeToEnableMic": True,
            "allowAttendeeToEnableCamera": True,
            "recordAutomatically": False,
            "capabilities": [],
            "videoTeleconferenceId": None,
            "externalId": external_id,
            "iCalUid": None,
            "meetingType": None,
            "meetingsMigrationMode": None,
            "broadcastSettings": None,
            "audioConferencing": None,
            "meetingInfo": None,
            "participants": {
                "organizer": {
                    "upn": None,
                    "role": "presenter",
                    "identity": {
                        "user": {
                            "id": user,
                            "displayName": None,
                            "tenantId": self.tenant_id,
                            "identityProvider": "AAD",
                        }
                    },
                },
                "attendees": [],
            },
            "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": False},
            "joinMeetingIdSettings": {
                "isPasscodeRequired": True,
                "joinMeetingId": str(secrets.randbelow(10**12)).zfill(12),
                "passcode": secrets.token_urlsafe(5),
            },
            "chatInfo": {"threadId": thread, "messageId": "0", "replyChainMessageId": None},
            "joinInformation": {
                "content": "data:text/html,%3cdiv%3eMicrosoft+Teams+meeting%3c%2fdiv%3e",
                "contentType": "html",
            },
        }
        self.meetings[meeting_id] = meeting
        self._organizer_of[meeting_id] = user
        return meeting

    async def _get_meeting(self, request: web.Request) -> web.Response:
        refused = self._refuse(request, "OnlineMeetings.ReadWrite.All", meeting=True)
        if refused is not None:
            return refused
        return self._graph_answer(request, None, web.json_response(self.meetings[self._meeting(request)]))

    async def _reports_list(self, request: web.Request) -> web.Response:
        refused = self._refuse(request, "OnlineMeetingArtifact.Read.All", meeting=True)
        if refused is not None:
            return refused
        reports = [r.summary() for r in self._reports.get(self._meeting(request), [])]
        return self._graph_answer(request, None, self._page(request, reports))

    async def _report_get(self, request: web.Request) -> web.Response:
        refused = self._refuse(request, "OnlineMeetingArtifact.Read.All", meeting=True)
        if refused is not None:
            return refused
        report = self._report(request)
        if report is None:
            return self._graph_answer(request, None, _graph_error(404, "NotFound", "Report not found."))
        return self._graph_answer(
            request, None, web.json_response({**report.summary(), "attendanceRecords": report.records})
        )

    async def _records_list(self, request: web.Request) -> web.Response:
        refused = self._refuse(request, "OnlineMeetingArtifact.Read.All", meeting=True)
        if refused is not None:
            return refused
        report = self._report(request)
        if report is None:
            return self._graph_answer(request, None, _graph_error(404, "NotFound", "Report not found."))
        return self._graph_answer(request, None, self._page(request, report.records))

    # -- Graph helpers -------------------------------------------------------------------------

    def _refuse(
        self, request: web.Request, role: str, body: dict[str, Any] | None = None, *, meeting: bool = False
    ) -> web.Response | None:
        """Faults, token, app role, user, access policy and (``meeting``) meeting checks, in that order.

        (Compared with None, never by truth: an aiohttp response is a mapping, empty and so falsy.)
        """
        answer = self._fault("graph")
        if answer is None:
            answer = self._check_access(request, role)
        if answer is None and meeting:
            answer = self._unknown_meeting(request)
        if answer is None:
            return None
        return self._graph_answer(request, body, answer)

    def _check_access(self, request: web.Request, role: str) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:]:
            return _graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
        if auth[7:] not in self._tokens:
            return _graph_error(
                401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid."
            )
        if role not in self.app_roles:
            return _graph_error(403, "Forbidden", "Insufficient privileges to complete the operation.")
        user = request.match_info["user"]
        if user not in self.users:
            return _graph_error(404, "NotFound", f"User '{user}' was not found.")
        if user not in self.policy_users:
            return _graph_error(403, "Forbidden", "No application access policy found for this app.")
        return None

    def _unknown_meeting(self, request: web.Request) -> web.Response | None:
        meeting_id = self._meeting(request)
        if meeting_id in self.meetings and self._organizer_of.get(meeting_id) == request.match_info["user"]:
            return None
        return _graph_error(404, "NotFound", "The requested onlineMeeting was not found.")

    @staticmethod
    def _meeting(request: web.Request) -> str:
        return unquote(request.match_info["meeting"])

    def _report(self, request: web.Request) -> _Report | None:
        wanted = unquote(request.match_info["report"])
        return next((r for r in self._reports.get(self._meeting(request), []) if r.id == wanted), None)

    def _page(self, request: web.Request, items: Sequence[dict[str, Any]]) -> web.Response:
        skip_token = request.query.get("$skiptoken")
        offset = int(base64.urlsafe_b64decode(skip_token.encode()).decode()) if skip_token else 0
        page: dict[str, Any] = {
            "@odata.context": f"{self.graph_url}/$metadata#{request.path.removeprefix('/v1.0/')}",
            "value": list(items[offset : offset + self.page_size]),
        }
        if offset + self.page_size < len(items):
            token = base64.urlsafe_b64encode(str(offset + self.page_size).encode()).decode()
            page["@odata.nextLink"] = f"{self._url}{request.path_qs.split('?')[0]}?$skiptoken={token}"
        return web.json_response(page)

    def _fault(self, on: str) -> web.Response | None:
        fault = self._faults[on]
        if fault is None or fault.times <= 0:
            return None
        fault.times -= 1
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        if fault.status == 429:
            code, message = "TooManyRequests", "Too many requests."
        else:
            code, message = "ServiceNotAvailable", "The service is temporarily unavailable."
        if on == "token":
            return web.json_response(
                {"error": "temporarily_unavailable", "error_description": message},
                status=fault.status,
                headers=headers,
            )
        return _graph_error(fault.status, code, message, headers)

    def _graph_answer(
        self, request: web.Request, body: dict[str, Any] | None, answer: web.Response
    ) -> web.Response:
        auth = request.headers.get("Authorization", "")
        self.requests.append(
            GraphCall(
                method=request.method,
                path=unquote(request.path).removeprefix("/v1.0"),
                query=dict(request.query),
                token=auth[7:] if auth.startswith("Bearer ") else None,
                body=body,
                status=answer.status,
            )
        )
        answer.headers["request-id"] = str(uuid.uuid4())
        answer.headers["client-request-id"] = answer.headers["request-id"]
        return answer

    # -- certificates --------------------------------------------------------------------------

    def _make_certificates(self) -> ssl.SSLContext:
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tapaamo fake Graph CA")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        self._dir.mkdir(parents=True, exist_ok=True)
        self.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        cert_path = self._dir / "fake-graph-server.pem"
        key_path = self._dir / "fake-graph-server.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_path, key_path)
        return context


def _graph_time(moment: dt.datetime) -> str:
    """Graph's style: UTC with seven fractional digits and a Z."""
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def _valid_times(start: str, end: str) -> bool:
    try:
        return _parse(start) < _parse(end)
    except ValueError:
        return False


def _parse(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    request_id = str(uuid.uuid4())
    return web.json_response(
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {"date": now, "request-id": request_id, "client-request-id": request_id},
            }
        },
        status=status,
        headers=headers,
    )


def _aad_error(status: int, error: str, code: int, text: str) -> web.Response:
    now = dt.datetime.now(dt.UTC)
    trace, correlation = uuid.uuid4(), uuid.uuid4()
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    return web.json_response(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {correlation} "
            f"Timestamp: {stamp}",
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": str(trace),
            "correlation_id": str(correlation),
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
        status=status,
    )


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
