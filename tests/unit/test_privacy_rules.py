"""The privacy rules that need no database: retention cutoffs, what is searched for, scrubbing,
the download's shape, and forgetting a conversation."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.settings import Settings
from domain.clock import FakeClock
from domain.networks import Cadence, Network, NetworkKind, NetworkStatus
from domain.participation import Source
from domain.privacy import (
    PURGE,
    Cutoffs,
    NetworkTie,
    ParticipationHeld,
    PersonalData,
    Privacy,
    Retention,
    Subject,
    forget_conversation,
    mentions,
    months_before,
    needles,
    new_pseudonym,
    purge_job,
    same_conversation,
    scrub,
)
from tests.fakes.memory import MemoryAuditLog, MemoryConversationRefs

NOW = datetime(2026, 3, 31, 3, 0, tzinfo=UTC)


def test_months_are_calendar_months() -> None:
    assert months_before(NOW, 1) == datetime(2026, 2, 28, 3, 0, tzinfo=UTC)
    assert months_before(NOW, 24) == datetime(2024, 3, 31, 3, 0, tzinfo=UTC)
    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 25) == datetime(2024, 2, 29, tzinfo=UTC)


def test_cutoffs_follow_the_retention_settings() -> None:
    cut = Cutoffs.at(NOW, Retention(participation_months=12, rsvp_days=10, draft_days=3))
    assert cut.participations == datetime(2025, 3, 31, 3, 0, tzinfo=UTC)
    assert cut.rsvps == NOW - timedelta(days=10)
    assert cut.drafts == NOW - timedelta(days=3)
    assert cut.sent == NOW - timedelta(days=90)
    assert cut.audit == cut.event_payloads == cut.poll_comments == datetime(2024, 3, 31, 3, 0, tzinfo=UTC)


def test_retention_defaults_are_the_settings_defaults() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert Retention.from_settings(settings) == Retention()
    changed = Settings(_env_file=None, retention_participation_months=6, inbound_keep_hours=24)  # type: ignore[call-arg]
    assert Retention.from_settings(changed) == Retention(participation_months=6, inbound_hours=24)


def test_a_subject_has_a_teams_id_and_the_ledger_keys_of_it() -> None:
    with pytest.raises(ValueError, match="Teams user id"):
        Subject("")
    assert Subject("29:a", "AAD-X").participant_keys == ("aad-x", "teams:29:a")
    assert Subject("29:a").participant_keys == ("teams:29:a",)
    assert Subject("29:a", "AAD-X").ids == ("29:a", "AAD-X")


def test_needles_are_ids_and_names_long_enough_longest_first() -> None:
    found = needles(Subject("29:a-long-id", "AAD-X1"), ["Ville Väisänen", "Vi", "", " Ville "])
    assert found == ("Ville Väisänen", "29:a-long-id", "AAD-X1", "aad-x1", "Ville")


def test_scrub_replaces_every_occurrence_keys_included_and_nothing_else() -> None:
    found = needles(Subject("29:ville"), ["Ville Väisänen", "Ville"])
    value: dict[str, Any] = {
        "user": "29:ville",
        "note": "thanks Ville Väisänen and Ville",
        "members": ["29:ville", "29:aino", 3],
        "29:ville": {"deep": [True, None, "Ville"]},
        "count": 2,
    }
    assert mentions(value, found)
    cleaned = scrub(value, found, "forgotten-user-1")
    assert cleaned == {
        "user": "forgotten-user-1",
        "note": "thanks forgotten-user-1 and forgotten-user-1",
        "members": ["forgotten-user-1", "29:aino", 3],
        "forgotten-user-1": {"deep": [True, None, "forgotten-user-1"]},
        "count": 2,
    }
    assert not mentions(cleaned, found)
    assert value["user"] == "29:ville"  # the input is not changed
    assert not mentions({"a": ["29:aino"], "n": 1}, found)


def test_pseudonyms_are_random() -> None:
    first, second = new_pseudonym(), new_pseudonym()
    assert first.startswith("forgotten-user-")
    assert first != second


def test_the_purge_job_is_one_per_date() -> None:
    job = purge_job(NOW.date(), NOW)
    assert (job.kind, job.dedupe_key, job.payload, job.due_at) == (
        PURGE,
        "privacy-purge:2026-03-31",
        {"date": "2026-03-31"},
        NOW,
    )


def test_the_download_is_plain_json_with_every_section() -> None:
    tie = NetworkTie(1, "Digisumpit", "Europe/Helsinki", NOW, "Ville")
    took_part = ParticipationHeld(
        5, 1, "Digisumpit", "Europe/Helsinki", NOW, Source.CHECKIN | Source.ATTENDANCE_REPORT,
        NOW, NOW, 55, "Ville V", "v@kunta.fi", "tenant", False,
    )  # fmt: skip
    data = PersonalData(Subject("29:v", "aad", "Ville"), coordinates=(tie,), participations=(took_part,))
    assert data.names == ("Ville", "Ville V")
    assert not data.empty
    assert PersonalData(Subject("29:v")).empty
    out = json.loads(json.dumps(data.to_json(NOW, Retention())))
    assert set(out) == {
        "generated_at", "controller_note", "you", "networks_coordinated", "networks_followed", "rsvps",
        "participations", "pending_personal_reminders", "conversations", "session_requests", "audit_log",
        "meeting_events", "poll_answers", "retention",
    }  # fmt: skip
    assert out["participations"][0]["sources"] == ["checkin", "attendance_report"]
    assert out["participations"][0]["session_starts_at"] == "2026-03-31T03:00:00+00:00"
    assert out["retention"]["processed_message_ids_hours"] == 48


class Networks:
    """Just enough of a NetworkStore for forget_conversation."""

    def __init__(self, *networks: Network) -> None:
        self.saved = {n.id: n for n in networks}

    async def all(self, statuses: Any = None) -> list[Network]:
        return list(self.saved.values())

    async def save(self, network: Network) -> None:
        self.saved[network.id] = network


def network(network_id: int, home: str | None) -> Network:
    return Network(
        id=network_id,
        slug=f"n{network_id}",
        name=f"N{network_id}",
        lang="fi",
        cadence=Cadence.from_code("weekly"),
        kind=NetworkKind.CONTINUOUS,
        status=NetworkStatus.ACTIVE,
        timezone="Europe/Helsinki",
        created_at=NOW,
        home_conversation_id=home,
    )


def test_a_channel_thread_is_part_of_its_channel() -> None:
    assert same_conversation("19:c@thread.tacv2;messageid=1", "19:c@thread.tacv2")
    assert same_conversation("19:c@thread.tacv2", "19:c@thread.tacv2")
    assert not same_conversation("19:c@thread.tacv2x", "19:c@thread.tacv2")
    assert not same_conversation("19:c@thread.tacv2", "19:c@thread.tacv2;messageid=1")


async def test_forgetting_a_conversation_unhomes_its_networks_and_is_repeatable() -> None:
    refs = MemoryConversationRefs()
    audit = MemoryAuditLog()
    networks = Networks(network(1, "19:gone"), network(2, "19:other"), network(3, "19:gone;messageid=7"))
    clock = FakeClock(NOW)
    unhomed = await forget_conversation("19:gone", refs=refs, networks=networks, clock=clock, audit=audit)  # type: ignore[arg-type]
    assert unhomed == [1, 3]
    assert [n.home_conversation_id for n in networks.saved.values()] == [None, "19:other", None]
    assert [e["action"] for e in await audit.entries("network:1")] == ["network.unhomed"]
    again = await forget_conversation("19:gone", refs=refs, networks=networks, clock=clock)  # type: ignore[arg-type]
    assert again == []


class RecordingStore:
    """A PrivacyStore that records the cutoffs it is given."""

    def __init__(self) -> None:
        self.calls: dict[str, tuple[datetime, ...]] = {}

    def __getattr__(self, name: str) -> Any:
        async def record(*moments: datetime) -> int:
            self.calls[name] = moments
            return 1

        return record


async def test_the_purge_asks_the_store_with_the_cutoffs_of_now() -> None:
    store = RecordingStore()
    clock = FakeClock(NOW)
    privacy = Privacy(
        store,
        MemoryConversationRefs(),
        Networks(),
        MemoryAuditLog(),
        clock,
        replace(Retention(), sent_days=7),
    )  # type: ignore[arg-type]
    await privacy.handlers()[PURGE]({"date": "2026-03-31"})
    assert store.calls == {
        "anonymise_participations": (datetime(2024, 3, 31, 3, 0, tzinfo=UTC),),
        "purge_audit": (datetime(2024, 3, 31, 3, 0, tzinfo=UTC),),
        "purge_sent": (NOW - timedelta(days=7), NOW),
        "purge_rsvps": (NOW - timedelta(days=90),),
        "purge_drafts": (NOW - timedelta(days=30),),
        "clear_event_payloads": (datetime(2024, 3, 31, 3, 0, tzinfo=UTC),),
        "purge_poll_comments": (datetime(2024, 3, 31, 3, 0, tzinfo=UTC),),
    }
