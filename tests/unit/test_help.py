"""The help and welcome cards: valid Adaptive Cards in every language, with working language buttons."""

import pytest

from dialogs.turn import LANGS, CardReply
from dialogs.welcome import welcome_card
from tests.support.cards import assert_valid_card
from tests.unit.test_router import make_router, turn


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
