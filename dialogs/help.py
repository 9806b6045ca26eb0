"""help | apua | hjälp: what Tapaamo does and every command, in the asker's language."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from dialogs import cards
from dialogs.i18n import N_, Translator
from dialogs.router import Command, Context, Router
from dialogs.turn import LANGS, ActionResult, CardReply, Lang, Reply

LANGUAGE_NAMES: dict[Lang, str] = {"fi": "Suomeksi", "sv": "På svenska", "en": "In English"}


class HelpLanguage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lang: Literal["fi", "sv", "en"]


def help_card(router: Router, tr: Translator) -> dict[str, Any]:
    """The help card: an introduction, the commands (coordinator ones marked), language buttons."""
    lang = tr.lang
    rows: list[cards.Element] = []
    for command in router.commands:
        mark = " \u2605" if command.coordinator_only else ""
        rows.append(
            {
                "type": "ColumnSet",
                "spacing": "Small",
                "columns": [
                    {
                        "type": "Column",
                        "width": 2,
                        "items": [
                            {"type": "TextBlock", "text": f"**{command.usage_in(lang)}**{mark}", "wrap": True}
                        ],
                    },
                    {
                        "type": "Column",
                        "width": 3,
                        "items": [{"type": "TextBlock", "text": tr._(command.summary), "wrap": True}],
                    },
                ],
            }
        )
    body = [
        cards.title(tr._("Tapaamo \u2013 help")),
        cards.text(
            tr._(
                "Tapaamo hosts open online networks: coordinators schedule sessions, anyone can follow "
                "and join them, and each session's participation and feedback are recorded."
            )
        ),
        *rows,
    ]
    if any(command.coordinator_only for command in router.commands):
        body.append(cards.text(tr._("\u2605 for a network's coordinators only."), subtle=True, size="Small"))
    actions = [
        cards.execute(LANGUAGE_NAMES[other], "help.language", {"lang": other})
        for other in LANGS
        if other != lang
    ]
    commands = ", ".join(command.usage_in(lang) for command in router.commands)
    return cards.card(
        body, lang=lang, fallback=tr._("Tapaamo commands: {commands}", commands=commands), actions=actions
    )


def register(router: Router) -> None:
    async def show_help(ctx: Context, args: str) -> Sequence[Reply]:
        return [CardReply(help_card(router, ctx.tr))]

    async def switch_language(ctx: Context, payload: HelpLanguage) -> ActionResult:
        return ActionResult(card=help_card(router, router.catalogs[payload.lang]))

    router.command(
        Command(
            name="help",
            aliases={"en": ("help",), "fi": ("apua", "ohje"), "sv": ("hjälp",)},
            handler=show_help,
            summary=N_("Show this list of commands."),
        )
    )
    router.action("help.language", HelpLanguage, switch_language)
