"""Commands are found by any alias in fi/sv/en, answered in the alias's language, and typos get help."""

from typing import Any

from dialogs.app import build_router
from dialogs.i18n import Catalogs
from dialogs.router import Router, fold
from dialogs.services import Services
from dialogs.turn import CardReply, TextReply, Turn, User
from domain.clock import FakeClock
from tests.fakes.memory import MemoryAuditLog, MemoryConversationRefs, MemoryJobStore


def make_router() -> Router:
    # Help and unknown commands touch no store: the network and session services stay unset.
    unused: Any = None
    services = Services(
        refs=MemoryConversationRefs(),
        audit=MemoryAuditLog(),
        jobs=MemoryJobStore(),
        planning=unused,
        sessions=unused,
        notifier=unused,
        ledger=unused,
        feedback=unused,
        public_url="http://127.0.0.1:3978",
        timezone="Europe/Helsinki",
    )
    return build_router(Catalogs(), FakeClock(), services)


def turn(text: str, locale: str = "en-US") -> Turn:
    return Turn(
        activity_id="a1",
        conversation_id="c1",
        conversation_kind="personal",
        user=User("u1", "Aino"),
        locale=locale,
        text=text,
    )


def test_fold_ignores_case_and_accents() -> None:
    assert fold("HJÄLP") == fold("hjalp") == "hjalp"


async def test_each_languages_alias_answers_in_that_language() -> None:
    router = make_router()
    for text, lang in [("help", "en"), ("apua", "fi"), ("hjälp", "sv"), ("HJÄLP", "sv"), ("Apua", "fi")]:
        [reply] = await router.handle_message(turn(text))
        assert isinstance(reply, CardReply)
        assert reply.card["lang"] == lang, text


async def test_help_follows_the_teams_locale() -> None:
    router = make_router()
    [reply] = await router.handle_message(turn("help", locale="sv-FI"))
    assert isinstance(reply, CardReply)
    assert reply.card["lang"] == "sv"


async def test_unknown_command_suggests_the_closest_one_in_the_users_language() -> None:
    router = make_router()
    [reply] = await router.handle_message(turn("halp"))
    assert isinstance(reply, TextReply)
    assert "“help”" in reply.text
    [reply] = await router.handle_message(turn("apuva", locale="fi-FI"))
    assert isinstance(reply, TextReply)
    assert "Tarkoititko ”apua”" in reply.text


async def test_unknown_command_without_a_close_match_points_to_help() -> None:
    router = make_router()
    [reply] = await router.handle_message(turn("xyzzy", locale="sv-SE"))
    assert isinstance(reply, TextReply)
    assert reply.text == "Jag känner inte till ”xyzzy”. Skriv ”hjälp” så ser du vad jag kan."


async def test_empty_text_gets_no_answer() -> None:
    assert await make_router().handle_message(turn("   ")) == []


async def test_a_tampered_or_unknown_action_is_refused_in_the_users_language() -> None:
    router = make_router()
    result = await router.handle_action(turn("", locale="fi-FI"), "help.language", {"lang": "de"})
    assert result.card is None
    assert result.text == "Painikkeen tiedot eivät kelpaa. Käytä uusinta korttia."
    result = await router.handle_action(turn(""), "no.such.verb", {})
    assert result.text == "That button's data was not valid. Please use the latest card."
