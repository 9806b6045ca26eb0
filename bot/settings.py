"""Every setting Tapaamo reads, from ``TAPAAMO_*`` environment variables or ``.env``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

TEAMS_SERVICE_HOSTS = (
    "smba.trafficmanager.net",
    "smba.infra.gcc.teams.microsoft.com",
    "smba.infra.gov.teams.microsoft.us",
)


class Settings(BaseSettings):
    """Tapaamo's settings. The README's settings table lists each with its default."""

    model_config = SettingsConfigDict(env_prefix="TAPAAMO_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = Field("prod", description="dev allows an empty App ID on 127.0.0.1")
    host: str = Field("127.0.0.1", description="address to listen on (dev mode always 127.0.0.1)")
    port: int = Field(3978, description="port of /api/messages, /healthz and the web pages")
    public_url: str = Field(
        "http://127.0.0.1:3978", description="address people reach the web pages at (links in cards)"
    )
    database_url: str = Field(
        "sqlite+aiosqlite:///var/tapaamo.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db",
    )
    app_id: str = Field("", description="Microsoft App ID of the bot registration")
    app_password: SecretStr = Field(SecretStr(""), description="client secret of the App ID")
    app_certificate_path: Path | None = Field(None, description="PEM with private key and certificate")
    app_certificate_thumbprint: str = Field("", description="thumbprint of that certificate")
    tenant_id: str = Field("", description="Entra tenant id (SingleTenant bot)")
    openid_metadata_url: str = Field(
        "https://login.botframework.com/v1/.well-known/openidconfiguration",
        description="where the signing keys of inbound tokens are published",
    )
    token_issuer: str = Field("https://api.botframework.com", description="issuer of inbound tokens")
    login_authority: str = Field(
        "https://login.microsoftonline.com", description="authority that issues the bot's outbound tokens"
    )
    allowed_service_hosts: list[str] = Field(
        default_factory=lambda: list(TEAMS_SERVICE_HOSTS),
        description="hosts a serviceUrl may point at (127.0.0.1 and localhost are added in dev and test)",
    )
    max_body_bytes: int = Field(256 * 1024, description="largest accepted /api/messages body")
    log_level: str = Field("INFO", description="logging level")
    log_json: bool = Field(False, description="log one JSON object per line")
    job_tick_seconds: float = Field(2.0, description="how often the job worker looks for due jobs")
    job_batch_size: int = Field(50, description="jobs claimed per tick")
    job_lease_seconds: int = Field(120, description="a claimed job is re-claimed after this if not finished")
    job_max_attempts: int = Field(6, description="failed tries before a job is dead")
    job_concurrency: int = Field(
        16, ge=1, description="jobs run side by side (those of one session, poll or network in turn)"
    )
    send_rate_per_tenant: float = Field(50.0, description="proactive messages per second per tenant")
    send_workers: int = Field(16, description="concurrent outbound sends")
    inbound_keep_hours: int = Field(48, description="how long processed activity ids are kept")
    housekeeping_hour: int = Field(3, description="local hour (Europe/Helsinki) of the daily housekeeping")
    timezone: str = Field("Europe/Helsinki", description="default timezone of networks and schedules")
    reminder_minutes: int = Field(
        15,
        ge=1,
        le=1440,
        description="minutes before a session's start its reminder is posted in the network's chat",
    )
    shutdown_grace_seconds: float = Field(20.0, description="time given to in-flight turns on SIGTERM")
    signing_key: SecretStr = Field(
        SecretStr(""), description="secret that signs report and download links (random per start if empty)"
    )
    link_hours: int = Field(24, description="how long a signed report or download link is valid")
    strong_share: float = Field(
        0.5, description="share of a network's recent sessions a strong participant attended"
    )
    recent_sessions: int = Field(10, description="how many recent sessions the participant roles look at")
    poll_open_hours: float = Field(72.0, description="how long a feedback poll stays open")
    poll_open_delay_minutes: float = Field(
        10.0, ge=0, description="minutes after a session's scheduled end until its poll opens (no meetingEnd)"
    )
    admins: list[str] = Field(
        default_factory=list,
        description="Entra object ids (or Teams ids) of administrators: overview, unanswered nudges",
    )
    nudge_repeat_days: int = Field(7, description="a cadence nudge is not repeated sooner than this")
    working_hours_start: int = Field(8, description="nudges are sent from this local hour on business days")
    working_hours_end: int = Field(17, description="... until this local hour")
    cadence_hour: int = Field(9, description="local hour of the daily cadence evaluation (business days)")
    evaluation_month: int = Field(1, description="month of continuous networks' yearly evaluation")
    poll_live_counts: bool = Field(
        False, description="show the number of answers on an open poll (from 5 answers)"
    )
    graph_enabled: bool = Field(
        False, description="create Teams meetings and read attendance reports through Microsoft Graph"
    )
    graph_base_url: str = Field("https://graph.microsoft.com/v1.0", description="Microsoft Graph API root")
    graph_organizer_user_id: str = Field(
        "",
        description="Entra object id of the user whose calendar owns the meetings Tapaamo creates "
        "(application access policy must allow it)",
    )
    graph_ca_bundle: str = Field("", description="extra CA bundle for the Graph and login endpoints (tests)")
    retention_participation_months: int = Field(
        24, description="participations are kept by name this long, then only as anonymous counts"
    )
    retention_audit_months: int = Field(24, description="how long audit log entries are kept")
    retention_sent_days: int = Field(90, description="how long records of sent messages are kept")
    retention_rsvp_days: int = Field(90, description="RSVPs are deleted this long after their session")
    retention_draft_days: int = Field(30, description="how long session drafts (requests) are kept")
    retention_event_payload_months: int = Field(
        24, description="details of Teams meeting events are dropped after this"
    )
    retention_poll_comment_months: int = Field(
        24, description="feedback comments are deleted this long after their poll closed"
    )
    retention_done_jobs_days: int = Field(30, description="how long finished background jobs are kept")
    privacy_link_minutes: int = Field(60, description="how long a personal data download link is valid")
    privacy_contact: str = Field(
        "", description="who to ask about personal data (shown in the privacy notice)"
    )

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"

    def service_hosts(self) -> set[str]:
        hosts = set(self.allowed_service_hosts)
        if self.env in ("dev", "test"):
            hosts |= {"127.0.0.1", "localhost"}
        return hosts

    def missing_for_production(self) -> list[str]:
        """What a non-dev bot lacks to authenticate to Teams (empty when it can start)."""
        missing = []
        if not self.app_id:
            missing.append("TAPAAMO_APP_ID")
        if not self.app_password.get_secret_value() and not self.app_certificate_path:
            missing.append("TAPAAMO_APP_PASSWORD or TAPAAMO_APP_CERTIFICATE_PATH")
        if self.app_certificate_path and not self.app_certificate_thumbprint:
            missing.append("TAPAAMO_APP_CERTIFICATE_THUMBPRINT")
        if not self.tenant_id:
            missing.append("TAPAAMO_TENANT_ID")
        return missing

    def certificate_problem(self) -> str | None:
        """Why the configured certificate cannot sign in (one line), or None when it can or none is set."""
        try:
            self.app_certificate()
        except CertificateError as error:
            return str(error)
        return None

    def app_certificate(self) -> dict[str, str] | None:
        """The certificate as msal's client credential (private key PEM and thumbprint), or None.

        Raises CertificateError when the file is missing, holds no private key, or holds a
        certificate other than the thumbprint's.
        """
        path = self.app_certificate_path
        if path is None:
            return None
        where = f"TAPAAMO_APP_CERTIFICATE_PATH={path}"
        try:
            pem = path.read_bytes()
        except OSError as error:
            raise CertificateError(f"{where} cannot be read: {error.strerror or error}") from error
        return certificate_credential(pem, self.app_certificate_thumbprint, where)


class CertificateError(ValueError):
    """The certificate credential is unusable; the message is one line saying why."""


_PEM_KEY = re.compile(rb"-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----.+?-----END \1-----", re.S)
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def certificate_credential(pem: bytes, thumbprint: str, where: str = "the certificate") -> dict[str, str]:
    """msal's ``client_credential`` for a PEM holding a private key (and, usually, its certificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    key_block = _PEM_KEY.search(pem)
    if key_block is None:
        raise CertificateError(
            f"{where} holds no private key (a PEM with the key and the certificate is needed)"
        )
    try:
        serialization.load_pem_private_key(key_block.group(0), password=None)
    except (ValueError, TypeError) as error:
        raise CertificateError(
            f"{where}: the private key cannot be read (encrypted or damaged): {' '.join(str(error).split())}"
        ) from error
    print_hex = re.sub(r"[^0-9A-Fa-f]", "", thumbprint).upper()
    if len(print_hex) not in (40, 64):
        raise CertificateError(
            "TAPAAMO_APP_CERTIFICATE_THUMBPRINT must be the certificate's SHA-1 thumbprint in hex "
            "(40 digits, as the Azure portal shows it)"
        )
    cert_block = _PEM_CERT.search(pem)
    if cert_block is not None:
        cert = x509.load_pem_x509_certificate(cert_block.group(0))
        prints = {
            cert.fingerprint(hashes.SHA1()).hex().upper(),
            cert.fingerprint(hashes.SHA256()).hex().upper(),
        }
        if print_hex not in prints:
            raise CertificateError(
                f"TAPAAMO_APP_CERTIFICATE_THUMBPRINT does not match the certificate in {where}"
            )
    return {"private_key": key_block.group(0).decode(), "thumbprint": print_hex}


def markdown_table() -> str:
    """The README's settings table, generated from the fields (``python -m bot.settings``)."""
    rows = ["| setting | default | what it does |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
        if isinstance(default, SecretStr):
            default = default.get_secret_value()
        if isinstance(default, list):
            default = ", ".join(default)
        shown = "(empty)" if default in ("", None) else f"`{default}`"
        rows.append(f"| `TAPAAMO_{name.upper()}` | {shown} | {field.description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    import sys

    sys.stdout.write(markdown_table() + "\n")
