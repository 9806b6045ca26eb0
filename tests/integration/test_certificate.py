"""A certificate instead of a client secret: the bot and Graph sign in with a client assertion.

The authority is tests/fakes/graph.py's FakeGraph, taught here to accept ``private_key_jwt``: a
token request must carry a JWT signed by the registered certificate's key, with its SHA-1
thumbprint as ``x5t`` and the token endpoint as audience (what Entra ID checks). A client secret
is never accepted from this app, so a token proves that the certificate was used.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from bot.app import ConfigurationError, create_app
from bot.graph import build_graph
from bot.settings import Settings
from tests.fakes.connector import FakeConnector
from tests.fakes.graph import FakeGraph, TokenRequest
from tests.fakes.jwks import FakeIssuer
from tests.support.activities import personal_help

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
START = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Certificate:
    """A self-signed certificate and its key, as the PEM an operator would upload and keep."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tapaamo-bot")])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )
        self.sha1 = self.cert.fingerprint(hashes.SHA1())

    @property
    def thumbprint(self) -> str:
        return self.sha1.hex().upper()

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


class CertificateAuthority(FakeGraph):
    """FakeGraph's authority, accepting only a client assertion signed by ``certificate``."""

    def __init__(self, certificate: Certificate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.certificate = certificate
        self.assertions: list[dict[str, Any]] = []  # the verified assertions' claims

    async def _token(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        form = {key: str(value) for key, value in (await request.post()).items()}
        secret = form.pop("client_secret", None)
        assertion = form.get("client_assertion", "")
        endpoint = f"{self.url}/{tenant}/oauth2/v2.0/token"
        answer: web.Response
        try:
            if secret is not None or form.get("client_assertion_type") != ASSERTION_TYPE:
                raise jwt.InvalidTokenError("a certificate credential is required")
            header = jwt.get_unverified_header(assertion)
            if str(header.get("x5t", "")).rstrip("=") != b64url(self.certificate.sha1):
                raise jwt.InvalidTokenError("unknown certificate thumbprint")
            claims = jwt.decode(
                assertion,
                self.certificate.key.public_key(),
                algorithms=["RS256", "PS256"],
                audience=endpoint,
                options={"require": ["exp", "aud", "iss", "sub"]},
            )
            if claims["iss"] != self.client_id or claims["sub"] != self.client_id:
                raise jwt.InvalidTokenError("assertion for another app")
            self.assertions.append(claims)
            answer = self._issue(form.get("scope", ""))
        except jwt.InvalidTokenError as error:
            answer = web.json_response(
                {"error": "invalid_client", "error_description": f"AADSTS700027: {error}"}, status=401
            )
        self.token_requests.append(
            TokenRequest(
                tenant=tenant,
                client_id=form.get("client_id", ""),
                grant_type=form.get("grant_type", ""),
                scope=form.get("scope", ""),
                secret_via="none" if secret is None else "form",
                secret_ok=False,
                form={k: v for k, v in form.items() if k != "client_assertion"},
                status=answer.status,
            )
        )
        return answer

    def _issue(self, scope: str) -> web.Response:
        if not scope.endswith("/.default"):
            return web.json_response({"error": "invalid_scope"}, status=400)
        token = "eyJ0eXAiOiJKV1QifQ.cert." + b64url(scope.encode())
        self._tokens.add(token)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": token}
        )


@pytest.fixture
def certificate() -> Certificate:
    return Certificate()


@pytest.fixture
def pem(tmp_path: Path, certificate: Certificate) -> Path:
    path = tmp_path / "tapaamo.pem"
    path.write_bytes(certificate.key_pem() + certificate.cert_pem())
    return path


@pytest.fixture
async def authority(tmp_path: Path, certificate: Certificate) -> AsyncIterator[CertificateAuthority]:
    async with CertificateAuthority(certificate, directory=tmp_path) as fake:
        yield fake


def cert_only(authority: CertificateAuthority, pem: Path, certificate: Certificate, **more: Any) -> Settings:
    fields: dict[str, Any] = {
        "env": "prod",
        "app_id": authority.client_id,
        "tenant_id": authority.tenant_id,
        "app_certificate_path": pem,
        "app_certificate_thumbprint": certificate.thumbprint,
        "login_authority": authority.authority,
        **more,
    }
    return Settings(_env_file=None, **fields)


async def test_graph_signs_in_with_the_certificate(
    authority: CertificateAuthority, pem: Path, certificate: Certificate
) -> None:
    settings = cert_only(
        authority,
        pem,
        certificate,
        graph_enabled=True,
        graph_base_url=authority.graph_url,
        graph_organizer_user_id=authority.organizer_id,
        graph_ca_bundle=str(authority.ca_path),
    )
    async with aiohttp.ClientSession() as session:
        graph = build_graph(settings, session)
        assert graph is not None, "a certificate-only configuration must enable Graph"
        try:
            meeting = await graph.create_meeting(
                subject="Taloustorstai", start=START, end=START + dt.timedelta(hours=1)
            )
        finally:
            graph.close()
    assert meeting.meeting_id in authority.meetings
    [request] = authority.token_requests
    assert (request.status, request.secret_via) == (200, "none")
    assert request.form["client_assertion_type"] == ASSERTION_TYPE
    assert request.scope == "https://graph.microsoft.com/.default"
    assert len(authority.assertions) == 1


async def test_the_bot_replies_with_a_token_got_by_the_certificate(
    authority: CertificateAuthority,
    pem: Path,
    certificate: Certificate,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The Bot Connector's msal client trusts the system store; the fake authority's CA joins it here.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.ca_path))
    async with FakeIssuer() as issuer, FakeConnector() as connector:
        settings = cert_only(
            authority,
            pem,
            certificate,
            env="test",
            openid_metadata_url=issuer.metadata_url,
            token_issuer=issuer.issuer,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'tapaamo.db'}",
        )
        app = create_app(settings, start_ticker=False)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            activity = personal_help(connector.url, "cert-1", f"28:{authority.client_id}")
            response = await client.post(
                "/api/messages",
                data=json.dumps(activity),
                headers={
                    "Content-Type": "application/json",
                    "Authorization": "Bearer " + issuer.token(audience=authority.client_id),
                },
            )
            assert response.status == 200, await response.text()
    assert [r.conversation_id for r in connector.received] == ["a:chat-1"], "the help card was not sent"
    [request] = authority.token_requests
    assert (request.status, request.secret_via) == (200, "none")
    assert request.form["client_assertion_type"] == ASSERTION_TYPE
    assert request.scope == "https://api.botframework.com/.default"


def start_error(settings: Settings) -> str:
    with pytest.raises(ConfigurationError) as raised:
        create_app(settings)
    message = str(raised.value)
    assert "\n" not in message
    return message


async def test_a_missing_certificate_file_stops_the_start(
    authority: CertificateAuthority, tmp_path: Path, certificate: Certificate
) -> None:
    message = start_error(cert_only(authority, tmp_path / "nowhere.pem", certificate))
    assert "TAPAAMO_APP_CERTIFICATE_PATH" in message
    assert "cannot be read" in message


async def test_a_certificate_without_its_private_key_stops_the_start(
    authority: CertificateAuthority, tmp_path: Path, certificate: Certificate
) -> None:
    public_only = tmp_path / "public.pem"
    public_only.write_bytes(certificate.cert_pem())
    message = start_error(cert_only(authority, public_only, certificate))
    assert "holds no private key" in message


async def test_a_thumbprint_of_another_certificate_stops_the_start(
    authority: CertificateAuthority, pem: Path, certificate: Certificate
) -> None:
    settings = cert_only(authority, pem, certificate)
    settings.app_certificate_thumbprint = Certificate().thumbprint
    assert "does not match" in start_error(settings)


async def test_a_certificate_without_thumbprint_is_named_missing(
    authority: CertificateAuthority, pem: Path, certificate: Certificate
) -> None:
    settings = cert_only(authority, pem, certificate)
    settings.app_certificate_thumbprint = ""
    assert "TAPAAMO_APP_CERTIFICATE_THUMBPRINT" in start_error(settings)
