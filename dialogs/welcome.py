"""The card Tapaamo posts when it is added to a team, a group chat or a personal chat."""

from __future__ import annotations

from typing import Any

from dialogs import cards
from dialogs.i18n import Translator
from dialogs.router import Router


def welcome_card(router: Router, tr: Translator, shared: bool = False) -> dict[str, Any]:
    """``shared``: a group chat or channel, where Teams passes a message on only if it @mentions me."""
    help_word = router.help_alias(tr.lang)
    help_text = (
        tr._(
            "Write \u201c@Tapaamo {help}\u201d to see what I can do (here I answer only when mentioned).",
            help=help_word,
        )
        if shared
        else tr._("Type \u201c{help}\u201d to see what I can do.", help=help_word)
    )
    body = [
        cards.title(tr._("Welcome to Tapaamo")),
        cards.text(
            tr._(
                "I help open online networks meet: coordinators schedule sessions here, everyone can "
                "follow and join them, and after each session I ask for one-click feedback."
            )
        ),
        cards.text(help_text, subtle=True),
    ]
    networks_word = router.alias("networks", tr.lang)
    if networks_word is not None:  # a participant's first step: which networks meet, and when
        body.insert(
            2,
            cards.text(
                tr._(
                    "To see the networks and when they meet next, write \u201c@Tapaamo {networks}\u201d.",
                    networks=networks_word,
                )
                if shared
                else tr._(
                    "To see the networks and when they meet next, type \u201c{networks}\u201d.",
                    networks=networks_word,
                )
            ),
        )
    actions = [cards.execute(tr._("Show commands"), "help.language", {"lang": tr.lang})]
    return cards.card(body, lang=tr.lang, fallback=tr._("Welcome to Tapaamo"), actions=actions)
