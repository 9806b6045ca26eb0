"""Networks, their coordinators and their target cadence.

An online network has no member list: its standing roles are only its coordinators (the
network workbook's "veturi"); everyone else is observed from the participation ledger.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from domain.errors import UserError

Lang = Literal["fi", "sv", "en"]
MAX_NAME = 60
MAX_TEXT = 1000


class NetworkKind(StrEnum):
    CONTINUOUS = "continuous"
    FIXED_TERM = "fixed_term"


class NetworkStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


# The evaluation's buckets of meetings per year (seed 000), with a representative rate.
BUCKETS: dict[str, float] = {"<1": 0.5, "1-2": 1.5, "3-5": 4.0, "6-10": 8.0, ">10": 12.0}


@dataclass(frozen=True, slots=True)
class Cadence:
    """How often a network means to meet: weekly, biweekly, monthly, or N times a year."""

    kind: Literal["weekly", "biweekly", "monthly", "per_year"]
    per_year: float
    bucket: str | None = None  # a seed bucket as given ("3-5"): shown as such, evaluated at its rate

    @property
    def interval(self) -> timedelta:
        """The expected time between two sessions."""
        if self.kind == "weekly":
            return timedelta(weeks=1)
        if self.kind == "biweekly":
            return timedelta(weeks=2)
        if self.kind == "monthly":
            return timedelta(days=30)
        return timedelta(days=365 / max(self.per_year, 0.1))

    def code(self) -> str:
        """A stable text form for storage: weekly, biweekly, monthly or e.g. 6/year."""
        if self.bucket is not None:
            return self.bucket
        if self.kind == "per_year":
            value = int(self.per_year) if self.per_year == int(self.per_year) else self.per_year
            return f"{value}/year"
        return self.kind

    @staticmethod
    def from_code(code: str) -> Cadence:
        if code in ("weekly", "biweekly", "monthly"):
            return Cadence(code, {"weekly": 52.0, "biweekly": 26.0, "monthly": 12.0}[code])  # type: ignore[arg-type]
        if code in BUCKETS:
            return Cadence("per_year", BUCKETS[code], bucket=code)
        return Cadence("per_year", float(code.split("/")[0]))


CADENCE_WORDS: dict[str, str] = {
    # en
    "weekly": "weekly",
    "every week": "weekly",
    "biweekly": "biweekly",
    "fortnightly": "biweekly",
    "every other week": "biweekly",
    "monthly": "monthly",
    "every month": "monthly",
    # fi
    "viikoittain": "weekly",
    "joka viikko": "weekly",
    "viikottain": "weekly",
    "joka toinen viikko": "biweekly",
    "kahden viikon valein": "biweekly",
    "kuukausittain": "monthly",
    "joka kuukausi": "monthly",
    # sv
    "varje vecka": "weekly",
    "veckovis": "weekly",
    "varannan vecka": "biweekly",
    "manadsvis": "monthly",
    "varje manad": "monthly",
}

# Folded text (å -> a): "6/year", "6 times a year", "6 krt vuodessa", "6 ggr per år".
PER_YEAR = re.compile(
    r"^(\d+(?:[.,]\d+)?)\s*(?:times|x|krt|kertaa|ggr|ganger)?\s*"
    r"(?:/\s*(?:year|yr|v|vuosi|ar)|(?:a|per|in a|om|i)\s+(?:year|ar|aret)|vuodessa)$"
)
BUCKET = re.compile(r"^(<\s*1|1\s*[-–]\s*2|3\s*[-–]\s*5|6\s*[-–]\s*10|>\s*10)(?:\s*/\s*(?:year|v|år))?$")


def fold(text: str) -> str:
    """Lower case without accents and extra spaces: how names and words are compared."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.split())


def parse_cadence(text: str) -> Cadence:
    """weekly/biweekly/monthly in fi, sv or en, "6/year", "6 times a year", or a bucket like "3-5"."""
    words = fold(text)
    if words in CADENCE_WORDS:
        return Cadence.from_code(CADENCE_WORDS[words])
    bucket = BUCKET.match(words)
    if bucket:
        key = re.sub(r"\s|–", lambda m: "-" if m.group() == "–" else "", bucket.group(1))
        return Cadence("per_year", BUCKETS[key], bucket=key)
    per_year = PER_YEAR.match(words)
    if per_year:
        value = float(per_year.group(1).replace(",", "."))
        if 0 < value <= 365:
            return Cadence("per_year", value)
    raise BadCadence(text=text)


class BadCadence(UserError):
    message_id = (
        "I didn't understand the cadence \u201c{text}\u201d. Use weekly, biweekly, monthly, "
        "a number a year such as 6/year, or one of the buckets <1, 1-2, 3-5, 6-10, >10."
    )


class BadName(UserError):
    message_id = "A network's name needs letters or digits and at most {max} characters."


class DuplicateName(UserError):
    message_id = "There is already a network called \u201c{name}\u201d."


class UnknownNetwork(UserError):
    message_id = "I don't know a network called \u201c{name}\u201d."


class UnknownNetworkSuggest(UserError):
    message_id = "I don't know a network called \u201c{name}\u201d. Did you mean \u201c{suggestion}\u201d?"


class NotCoordinator(UserError):
    message_id = "Only the coordinators of {network} can do that: {coordinators}."


class LastCoordinator(UserError):
    message_id = "{network} needs at least one coordinator: add another before removing {name}."


class NetworkEnded(UserError):
    message_id = "{network} has ended."


class TextTooLong(UserError):
    message_id = "That text is too long: at most {max} characters, please."


def check_name(name: str) -> str:
    """The name as it will be stored; BadName when it has no letters/digits or is too long."""
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_NAME or not any(c.isalnum() for c in cleaned):
        raise BadName(max=MAX_NAME)
    return cleaned


def check_text(text: str, limit: int = MAX_TEXT) -> str:
    cleaned = text.strip()
    if len(cleaned) > limit:
        raise TextTooLong(max=limit)
    return cleaned


def bare_conversation_id(conversation_id: str) -> str:
    """The conversation without its thread: a channel message comes from "19:…;messageid=…"."""
    return conversation_id.split(";messageid=", 1)[0]


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", fold(name)).strip("-")
    return slug or "network"


@dataclass(frozen=True, slots=True)
class Coordinator:
    user_id: str
    name: str
    aad_id: str | None = None


@dataclass(frozen=True, slots=True)
class Network:
    id: int
    slug: str
    name: str
    lang: Lang
    cadence: Cadence
    kind: NetworkKind
    status: NetworkStatus
    timezone: str
    created_at: datetime
    home_conversation_id: str | None = None
    ends_on: date | None = None
    description: str = ""
    join_text: str = ""
    coordinators: tuple[Coordinator, ...] = field(default_factory=tuple)
    # The coordinators' choice: the public page shows how many took part in past sessions
    # (never who). Off by default: issue 9 shows no counts unless a coordinator turns them on.
    public_counts: bool = False

    def is_coordinator(self, user_id: str, aad_id: str | None = None) -> bool:
        return any(c.user_id == user_id or (aad_id and c.aad_id == aad_id) for c in self.coordinators)

    def coordinator_names(self) -> str:
        return ", ".join(c.name or c.user_id for c in self.coordinators)

    def with_status(self, status: NetworkStatus) -> Network:
        return replace(self, status=status)
