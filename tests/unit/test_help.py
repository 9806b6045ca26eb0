"""The help and welcome cards: valid Adaptive Cards in every language, with working language buttons."""

from typing import Any

import pytest

from dialogs.turn import LANGS, CardReply
from dialogs.welcome import welcome_card
from tests.support.cards import assert_valid_card
from tests.unit.test_router import make_router, turn

# What a user reads in the first column, by command: its word in the user's language, ★ when
# only a network's coordinators may use it (a sample; every command is checked against its
# registration below).
EXPECTED_ROWS = {
    "fi": {"apua": False, "verkostot": False, "sovi": True, "tapaamiset": False, "raportti": True},
    "sv": {"hjälp": False, "nätverken": False, "planera": True, "träffar": False, "rapport": True},
    "en": {"help": False, "networks": False, "schedule": True, "sessions": False, "report": True},
}
FOOTNOTE = {
    "fi": "★ vain verkoston koordinaattoreille.",
    "sv": "★ endast för nätverkets koordinatorer.",
    "en": "★ for a network's coordinators only.",
}


def first_columns(card: dict[str, Any]) -> list[str]:
    """The command column of each row of the help card, as written (markdown and all)."""
    return [
        element["columns"][0]["items"][0]["text"]
        for element in card["body"]
        if element["type"] == "ColumnSet"
    ]


def command_word(cell: str) -> str:
    """The command a row names: "**sovi NIMI ...** ★" -> "sovi"."""
    return cell.removeprefix("**").split("**")[0].split()[0]


@pytest.mark.parametrize("lang", LANGS)
async def test_help_card_is_valid_and_lists_commands(lang: str) -> None:
    router = make_router()
    card = (await router.handle_message(turn({"fi": "apua", "sv": "hjälp", "en": "help"}[lang])))[0]
    assert isinstance(card, CardReply)
    assert_valid_card(card.card)
    title = card.card["body"][0]["text"]
    assert title == {"fi": "Tapaamo – ohjeet", "sv": "Tapaamo – hjälp", "en": "Tapaamo – help"}[lang]
    buttons = {a["data"]["lang"] for a in card.card["actions"]}
    assert buttons == set(LANGS) - {lang}

    cells = first_columns(card.card)
    shown = {command_word(cell): cell.endswith(" \u2605") for cell in cells}
    for word, starred in EXPECTED_ROWS[lang].items():
        assert word in shown, f"{word!r} missing from the {lang} help: {cells}"
        assert shown[word] is starred, f"{word!r} should {'' if starred else 'not '}be marked ★"
    # Every command, in this language, once, marked exactly when it is for coordinators.
    assert [command_word(cell) for cell in cells] == [c.aliases[lang][0] for c in router.commands]
    assert [cell.endswith(" ★") for cell in cells] == [c.coordinator_only for c in router.commands]
    texts = [element.get("text") for element in card.card["body"]]
    assert FOOTNOTE[lang] in texts


async def test_language_button_swaps_the_card() -> None:
    router = make_router()
    result = await router.handle_action(turn(""), "help.language", {"lang": "sv"})
    assert result.card is not None
    assert result.card["lang"] == "sv"
    assert_valid_card(result.card)


@pytest.mark.parametrize("lang", LANGS)
def test_welcome_card_is_valid(lang: str) -> None:
    router = make_router()
    card = welcome_card(router, router.catalogs[lang])
    assert_valid_card(card)
    assert card["lang"] == lang
