"""The privacy cards are valid Adaptive Cards in every language and say what they must."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dialogs.i18n import Catalogs
from dialogs.privacy import MAX_LINES, confirm_card, mydata_card, outcome_card, privacy_card
from dialogs.turn import LANGS
from domain.participation import Source
from domain.privacy import (
    AuditHeld,
    ChatHeld,
    ForgetOutcome,
    NetworkTie,
    ParticipationHeld,
    PersonalData,
    Retention,
    RsvpHeld,
    Subject,
)
from tests.support.cards import assert_valid_card
from tests.support.harness import texts

CATALOGS = Catalogs()
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TZ = "Europe/Helsinki"


def lots_of_data(sessions: int) -> PersonalData:
    return PersonalData(
        Subject("29:v", "aad-v", "Ville"),
        coordinates=(NetworkTie(1, "Digisumpit", TZ, NOW, "Ville"),),
        rsvps=(RsvpHeld(2, 1, "Digisumpit", TZ, NOW, NOW, "Ville"),),
        participations=tuple(
            ParticipationHeld(
                i,
                1,
                "Digisumpit",
                TZ,
                NOW - timedelta(days=7 * i),
                Source.CHECKIN | Source.COORDINATOR,
                NOW,
                NOW,
                60,
                "Ville",
                None,
                None,
                False,
            )
            for i in range(sessions)
        ),
        chats=(ChatHeld("a:1", "personal", "fi-FI", NOW),),
        audit=(AuditHeld(NOW, "session.confirm", "network:1"),),
    )


@pytest.mark.parametrize("lang", LANGS)
def test_every_privacy_card_is_valid(lang: str) -> None:
    tr = CATALOGS[lang]  # type: ignore[index]
    for card in (
        privacy_card(tr, Retention(), "dpo@example.fi"),
        mydata_card(
            tr, lots_of_data(3), tz=TZ, link="https://tapaamo.example.fi/mydata/x.y", link_minutes=60
        ),
        mydata_card(tr, PersonalData(Subject("29:x")), tz=TZ),
        confirm_card(tr),
        outcome_card(tr, ForgetOutcome(blocked=("Digisumpit",))),
        outcome_card(
            tr, ForgetOutcome(pseudonym="forgotten-user-1", counts={"participations_anonymised": 3})
        ),
    ):
        assert_valid_card(card)
        assert card["lang"] == lang


def test_a_long_history_is_shortened_on_the_card_and_whole_in_the_download() -> None:
    tr = CATALOGS["en"]
    card = mydata_card(tr, lots_of_data(40), tz=TZ, link="https://x/mydata/t", link_minutes=30)
    shown = texts(card)
    assert shown.count("(from: check-in, added by a coordinator)") == MAX_LINES
    assert "\u2026and 25 more in the download." in shown
    assert "1 entry (listed in the download)" in shown
    assert "The download link works for 30 minutes." in shown
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Download as JSON", "url": "https://x/mydata/t"}
    ]


def test_the_confirmation_asks_before_erasing() -> None:
    card = confirm_card(CATALOGS["en"])
    assert [(a["verb"], a.get("style")) for a in card["actions"]] == [
        ("privacy.forget_confirm", "destructive"),
        ("privacy.forget_cancel", None),
    ]
    assert "This cannot be undone." in texts(card)


def test_the_notice_without_a_contact_has_no_contact_line() -> None:
    shown = texts(privacy_card(CATALOGS["en"], Retention()))
    assert "Questions about your data" not in shown
    assert "Records of messages Tapaamo sent: 90 days." in shown
    assert "Session requests awaiting confirmation: 30 days." in shown


async def test_the_commands_can_be_listed_without_the_service_and_answer_in_every_language() -> None:
    from dialogs.turn import CardReply, TextReply, Turn, User
    from tests.unit.test_router import make_router, turn

    router = make_router()  # build_router registers them, with no Privacy service here
    names = [command.name for command in router.commands]
    assert names[-3:] == ["privacy", "mydata", "forgetme"]
    for word, lang in (("privacy", "en"), ("tietosuoja", "fi"), ("dataskydd", "sv")):
        [reply] = await router.handle_message(turn(word))
        assert isinstance(reply, CardReply)
        assert reply.card["lang"] == lang
    # In a group chat each alias is known, and asks for a personal chat in its own words.
    for word, asked in (
        ("mydata", "mydata"),
        ("my-data", "mydata"),
        ("omattiedot", "omattiedot"),
        ("minadata", "minadata"),
        ("forgetme", "forgetme"),
        ("unohdaminut", "unohdaminut"),
        ("glömmig", "glömmig"),
        ("GLOMMIG", "glömmig"),
    ):
        group = Turn("a1", "19:group", "groupChat", User("29:u", "U"), "en-US", text=word)
        [reply] = await router.handle_message(group)
        assert isinstance(reply, TextReply)
        # Quoted as the language writes quotes: “…” in English, ”…” in Finnish and Swedish.
        assert f"\u201c{asked}\u201d" in reply.text or f"\u201d{asked}\u201d" in reply.text
