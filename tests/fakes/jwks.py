"""An offline Bot Framework token issuer for tests.

``FakeIssuer`` generates an RSA key pair, serves an OpenID metadata document and a JWKS (keys
endorsed for ``msteams``) from a local aiohttp server on 127.0.0.1, and signs tokens with any
claims and header, so that a test can make a valid token and every kind of bad one:

    async with FakeIssuer() as issuer:
        settings = Settings(openid_metadata_url=issuer.metadata_url, token_issuer=issuer.issuer, ...)
        good = issuer.token(audience=APP_ID)
        expired = issuer.token(audience=APP_ID, exp=-600)
        hs256 = issuer.token(audience=APP_ID, alg="HS256", secret=issuer.public_pem)

Tokens are encoded here rather than with PyJWT, because PyJWT (rightly) refuses to make some of
the bad ones, such as an HS256 token keyed with an RSA public key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

DEFAULT_KID = "tapaamo-test-key"
DEFAULT_ISSUER = "https://api.botframework.test"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str, endorsements: Sequence[str]) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    jwk: dict[str, Any] = {
        "kty": "RSA",
        "use": "sig",
        "kid": kid,
        "n": _int_b64(numbers.n),
        "e": _int_b64(numbers.e),
    }
    if endorsements:
        jwk["endorsements"] = list(endorsements)
    return jwk


def encode(
    header: dict[str, Any],
    claims: dict[str, Any],
    *,
    key: rsa.RSAPrivateKey | None = None,
    secret: bytes | None = None,
) -> str:
    """A compact JWS of ``claims``, signed as ``header["alg"]`` says (RS256, HS256 or none)."""
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    alg = header.get("alg")
    if alg == "RS256":
        if key is None:
            raise ValueError("RS256 needs an RSA private key")
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    elif alg == "HS256":
        if secret is None:
            raise ValueError("HS256 needs a secret")
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    elif alg in ("none", None):
        signature = b""
    else:
        raise ValueError(f"cannot sign with {alg!r}")
    return f"{signing_input}.{b64url(signature)}"


@dataclass
class FakeIssuer:
    """A local OpenID metadata + JWKS server and the private keys behind it."""

    issuer: str = DEFAULT_ISSUER
    kid: str = DEFAULT_KID
    endorsements: tuple[str, ...] = ("msteams",)
    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    metadata_hits: int = 0
    jwks_hits: int = 0
    failing: bool = False  # answer 503, as during an outage of the metadata service
    _runner: web.AppRunner | None = None
    _base_url: str = ""

    def __post_init__(self) -> None:
        if self.kid not in self.keys:
            self.keys[self.kid] = new_rsa_key()

    # -- the server -------------------------------------------------------------------------

    async def start(self) -> FakeIssuer:
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/v1/.well-known/keys", self._jwks)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._base_url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeIssuer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        if not self._base_url:
            raise RuntimeError("FakeIssuer is not started")
        return self._base_url

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/v1/.well-known/openidconfiguration"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/v1/.well-known/keys"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(key, kid, self.endorsements) for kid, key in self.keys.items()]}

    async def _metadata(self, request: web.Request) -> web.Response:
        self.metadata_hits += 1
        if self.failing:
            return web.json_response({"error": "unavailable"}, status=503)
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": "https://invalid.botframework.test",
                "jwks_uri": self.jwks_url,
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_hits += 1
        if self.failing:
            return web.json_response({"error": "unavailable"}, status=503)
        return web.json_response(self.jwks())

    # -- keys ------------------------------------------------------------------------------

    def add_key(self, kid: str) -> rsa.RSAPrivateKey:
        """Publish another signing key (a key rotation)."""
        self.keys[kid] = new_rsa_key()
        return self.keys[kid]

    @property
    def key(self) -> rsa.RSAPrivateKey:
        return self.keys[self.kid]

    @property
    def public_pem(self) -> bytes:
        """The published key as PEM: what a confused verifier would use as an HMAC secret."""
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    # -- tokens ----------------------------------------------------------------------------

    def claims(
        self,
        *,
        audience: str,
        service_url: str | None = None,
        exp: int = 3600,
        nbf: int | None = -60,
        iat: int | None = -60,
        **extra: Any,
    ) -> dict[str, Any]:
        """Claims of a Bot Framework channel token; times are seconds relative to now."""
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "aud": audience, "exp": now + exp}
        if nbf is not None:
            claims["nbf"] = now + nbf
        if iat is not None:
            claims["iat"] = now + iat
        if service_url is not None:
            claims["serviceurl"] = service_url
        claims.update(extra)
        return {name: value for name, value in claims.items() if value is not None}

    def token(
        self,
        *,
        audience: str,
        alg: str = "RS256",
        kid: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        secret: bytes | None = None,
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
        **claim_args: Any,
    ) -> str:
        """A token for ``audience``. By default valid; every argument makes it less so.

        ``kid`` names the key id in the header (default: the published key), ``key`` the RSA key
        that actually signs (default: the one published under ``kid``), ``secret`` the HMAC
        secret for HS256, ``header`` extra header fields, ``claims`` replaces the claims wholly,
        and other keyword arguments go to :meth:`claims`.
        """
        kid = self.kid if kid is None else kid
        full_header: dict[str, Any] = {"alg": alg, "typ": "JWT", "kid": kid, **(header or {})}
        full_header = {name: value for name, value in full_header.items() if value is not None}
        body = claims if claims is not None else self.claims(audience=audience, **claim_args)
        signer = key if key is not None else self.keys.get(kid, self.key)
        return encode(full_header, body, key=signer, secret=secret)


FORGERIES = (
    "no Authorization header",
    "not a Bearer token",
    "empty Bearer token",
    "garbage token",
    "alg none",
    "HS256 keyed with the public key",
    "no key id",
    "unknown key id",
    "signed by another key with the same kid",
    "tampered payload",
    "expired",
    "not yet valid",
    "no expiry",
    "wrong audience",
    "wrong issuer",
    "serviceUrl claim mismatch",
)


def forged_authorizations(issuer: FakeIssuer, *, audience: str, service_url: str) -> dict[str, str | None]:
    """Authorization header values that must each be refused, by what is wrong with them.

    Every token is otherwise valid for ``audience`` and ``service_url``: one fault per case.
    """
    other_key = new_rsa_key()

    def bearer(for_audience: str = audience, **kwargs: Any) -> str:
        return "Bearer " + issuer.token(audience=for_audience, service_url=service_url, **kwargs)

    valid = issuer.token(audience=audience, service_url=service_url)
    head, _, rest = valid.partition(".")
    _, _, signature = rest.partition(".")
    widened = issuer.claims(audience="*", service_url=service_url)
    tampered = f"{head}.{b64url(json.dumps(widened).encode())}.{signature}"
    no_exp = issuer.claims(audience=audience, service_url=service_url)
    del no_exp["exp"]
    cases: dict[str, str | None] = {
        "no Authorization header": None,
        "not a Bearer token": "Basic dXNlcjpwYXNz",
        "empty Bearer token": "Bearer ",
        "garbage token": "Bearer this.is-not.a-jwt",
        "alg none": bearer(alg="none"),
        "HS256 keyed with the public key": bearer(alg="HS256", secret=issuer.public_pem),
        "no key id": bearer(header={"kid": None}),
        "unknown key id": bearer(kid="no-such-key", key=issuer.key),
        "signed by another key with the same kid": bearer(key=other_key),
        "tampered payload": "Bearer " + tampered,
        "expired": bearer(exp=-600, nbf=-4200, iat=-4200),
        "not yet valid": bearer(nbf=900),
        "no expiry": bearer(claims=no_exp),
        "wrong audience": bearer("another-bot"),
        "wrong issuer": bearer(iss="https://evil.example.com"),
        "serviceUrl claim mismatch": "Bearer "
        + issuer.token(audience=audience, service_url="https://evil.example.com/"),
    }
    assert tuple(cases) == FORGERIES
    return cases
