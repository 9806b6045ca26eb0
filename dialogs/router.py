"""The command and card-action tables: text in, handler out.

Each feature module registers its commands (with fi/sv/en aliases) and card verbs here; the
edge calls :meth:`Router.handle_message` and :meth:`Router.handle_action`.
"""

from __future__ import annotations

import difflib
import logging
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from dialogs.i18n import Catalogs, Translator
from dialogs.turn import LANGS, ActionResult, Lang, Reply, TextReply, Turn
from domain.clock import Clock
from domain.errors import BadPayload, UnknownCommand, UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler gets: the turn, the language to answer in, and the app's services."""

    turn: Turn
    lang: Lang
    tr: Translator
    clock: Clock
    services: Any  # dialogs.services.Services; Any here to keep this module free of a cycle
    catalogs: Catalogs

    def for_lang(self, lang: Lang) -> Translator:
        """A translator of another language, e.g. the network's for a card everyone sees."""
        return self.catalogs[lang]


CommandHandler = Callable[[Context, str], Awaitable[Sequence[Reply]]]
ActionHandler = Callable[[Context, Any], Awaitable[ActionResult]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    aliases: Mapping[Lang, tuple[str, ...]]
    handler: CommandHandler
    summary: str  # msgid
    usage: Mapping[Lang, str] = field(default_factory=dict)
    coordinator_only: bool = False

    def usage_in(self, lang: Lang) -> str:
        return self.usage.get(lang) or self.aliases[lang][0]


class CardLang(BaseModel):
    """A card payload that carries the language of the card clicked: the click is answered in it
    (errors included), not in the clicking user's Teams locale. Older cards carry none."""

    lang: Lang | None = None


@dataclass(frozen=True, slots=True)
class Action:
    verb: str
    payload: type[BaseModel]
    handler: ActionHandler


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a word (ä and a compare equal)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


def _fits_a_database(value: Any) -> bool:
    """Whether every integer in a validated payload fits the databases' 64-bit integers."""
    if isinstance(value, int):
        return BIGINT_MIN <= value <= BIGINT_MAX
    if isinstance(value, dict):
        return all(_fits_a_database(item) for item in value.values())
    if isinstance(value, list | tuple | set):
        return all(_fits_a_database(item) for item in value)
    return True


class Router:
    def __init__(self, catalogs: Catalogs, clock: Clock, services: Any) -> None:
        self.catalogs = catalogs
        self.clock = clock
        self.services = services
        self.commands: list[Command] = []
        self._by_alias: dict[str, tuple[Command, Lang | None]] = {}
        self._actions: dict[str, Action] = {}

    def command(self, command: Command) -> None:
        self.commands.append(command)
        langs_of: dict[str, set[Lang]] = {}
        for lang in LANGS:
            for alias in command.aliases.get(lang, ()):
                langs_of.setdefault(fold(alias), set()).add(lang)
        for alias, langs in langs_of.items():
            if alias in self._by_alias:
                raise ValueError(f"alias {alias!r} registered twice")
            # A Finnish or Swedish alias ("apua", "hjälp") also says which language to answer in;
            # English words are what everyone types in Teams, so they leave it to the user's locale.
            only: Lang | None = next(iter(langs)) if len(langs) == 1 and "en" not in langs else None
            self._by_alias[alias] = (command, only)

    def action(self, verb: str, payload: type[BaseModel], handler: ActionHandler) -> None:
        if verb in self._actions:
            raise ValueError(f"verb {verb!r} registered twice")
        self._actions[verb] = Action(verb, payload, handler)

    def context(self, turn: Turn, lang: Lang | None = None) -> Context:
        lang = lang or turn.lang
        return Context(turn, lang, self.catalogs[lang], self.clock, self.services, self.catalogs)

    async def handle_message(self, turn: Turn) -> Sequence[Reply]:
        text = " ".join(turn.text.split())
        if not text:
            return []
        word, _, args = text.partition(" ")
        found = self._by_alias.get(fold(word))
        ctx = self.context(turn, found[1] if found else None)
        try:
            if found is None:
                raise UnknownCommand(command=word[:40])
            return await found[0].handler(ctx, args.strip())
        except UnknownCommand as error:
            return [TextReply(self._unknown(ctx, str(error.params["command"])))]
        except UserError as error:
            # An error saying "Use: {usage}" with no usage of its own shows the command's.
            params = {"usage": found[0].usage_in(ctx.lang), **error.params} if found else error.params
            return [TextReply(ctx.tr._(error.message_id, **params))]

    async def handle_action(self, turn: Turn, verb: str, data: Mapping[str, Any]) -> ActionResult:
        ctx = self.context(turn)
        action = self._actions.get(verb)
        try:
            if action is None:
                raise BadPayload()
            try:
                payload = action.payload.model_validate(data)
            except ValidationError as error:
                log.warning(
                    "refused card payload for %s: %s",
                    verb,
                    error.errors(include_url=False),
                    extra={"activity_id": turn.activity_id},
                )
                raise BadPayload() from error
            if not _fits_a_database(payload.model_dump()):
                # an id beyond 64 bits cannot name a row: SQLite and PostgreSQL would raise, not miss
                log.warning("refused card payload for %s: a number out of range", verb)
                raise BadPayload()
            if isinstance(payload, CardLang) and payload.lang is not None and payload.lang != ctx.lang:
                ctx = self.context(turn, payload.lang)
            return await action.handler(ctx, payload)
        except UserError as error:
            return ActionResult(text=ctx.tr._(error.message_id, **error.params))

    def _unknown(self, ctx: Context, word: str) -> str:
        # The user's own language first ("halp" is "help", not "hjälp"), then any language.
        # Matched folded ("hjalp"), suggested as written ("hjälp").
        own = {fold(a): a for command in self.commands for a in command.aliases.get(ctx.lang, ())}
        written = {
            fold(a): a for command in self.commands for aliases in command.aliases.values() for a in aliases
        }
        close = difflib.get_close_matches(
            fold(word), list(own), n=1, cutoff=0.6
        ) or difflib.get_close_matches(fold(word), list(written), n=1, cutoff=0.6)
        if close and close[0] not in own:
            # "tapaamset" from an en-US Teams: the word is Finnish, so is the answer.
            langs = {
                lang
                for command in self.commands
                for lang, aliases in command.aliases.items()
                if close[0] in {fold(a) for a in aliases}
            }
            if len(langs) == 1:
                ctx = self.context(ctx.turn, langs.pop())
        help_word = self.help_alias(ctx.lang)
        if close:
            return ctx.tr._(
                "I don't know \u201c{command}\u201d. Did you mean \u201c{suggestion}\u201d? "
                "Type \u201c{help}\u201d to see what I can do.",
                command=word,
                suggestion=own.get(close[0]) or written[close[0]],
                help=help_word,
            )
        return ctx.tr._(
            "I don't know \u201c{command}\u201d. Type \u201c{help}\u201d to see what I can do.",
            command=word,
            help=help_word,
        )

    def help_alias(self, lang: Lang) -> str:
        return self.alias("help", lang) or "help"

    def alias(self, name: str, lang: Lang) -> str | None:
        """The first ``lang`` word of the command called ``name``, if it is registered."""
        for command in self.commands:
            if command.name == name:
                return command.aliases[lang][0]
        return None
