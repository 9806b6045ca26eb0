"""Property-based tests (hypothesis): bad input never breaks the bot or writes what it refuses.

Method: one app per property runs in process (tests/support/harness.py: dev mode, SQLite file,
FakeClock, fake Bot Connector) on an event loop of the test's own, seeded through /api/messages
with a network, a session, an opened poll, an RSVP and a check-in so that random input can reach
real objects. Hypothesis then sends generated activities through POST /api/messages with the
aiohttp TestClient; every example is checked on its own HTTP answer, the bot's replies at the
connector, and (for card actions) the row counts of every table read directly with SQL. Settings:
``derandomize=True`` (the same examples on every run, so CI is stable), ``deadline=None``, no
example database, ~150-200 examples each. To search further, run with RELIABILITY_EXAMPLES=1500
RELIABILITY_DERANDOMIZE=0 (that is how the out-of-range ids below were found).

  (a) any text as a message -- st.text, registered command words (every language) with random
      arguments, curly and unbalanced quotes, emoji, mentions markup, 5,000-character strings --
      in any of the three locales, from the coordinator or anyone, in a group or personal chat:
      the answer is 200, and the bot replies with at most a few messages that are localised (a
      card's ``lang`` is a language we speak, an unknown word gets the catalog's own sentence in
      the locale's language) and never contain a traceback, a Python error, an unfilled
      ``{placeholder}`` or the "something went wrong" apology that a failed turn sends;
  (b) ``parse_when`` (and ``parse_limit``, ``parse_duration``) raise nothing but UserError for any
      text, in any language, at any moment, in any time zone we accept;
  (c) every card action verb read from the router, with random payloads (arbitrary JSON, the
      verb's own field names with values of every type, huge and negative numbers, nesting,
      non-object data): the answer is 200 with a card or a message, never the apology; and when the
      answer is a refusal (a message instead of a card) no row of any table changed but the
      inbound ledger's own. A deterministic companion gives every verb's numeric fields 2**63 and
      -2**63-1, which once made SQLite raise (now refused as a stale card).
"""

from __future__ import annotations

import asyncio
import os
import re
import string
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from sqlalchemy import text

from bot.app import PARTS
from bot.ratelimit import RateLimiter, Window
from dialogs.i18n import Catalogs
from dialogs.router import Router, fold
from domain.clock import FakeClock
from domain.errors import BadPayload, UserError
from domain.when import parse_duration, parse_limit, parse_when
from tests.support.harness import Harness, cards_of, running_bot, user

SETTINGS = settings(
    max_examples=int(os.environ.get("RELIABILITY_EXAMPLES", "150")),
    deadline=None,
    derandomize=os.environ.get("RELIABILITY_DERANDOMIZE", "1") == "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
CATALOGS = Catalogs()
LOCALES = ("fi-FI", "sv-SE", "sv-FI", "en-US", "de-DE", "", "xx")
APOLOGY = "Sorry, something went wrong on my side. Please try again in a moment."
APOLOGIES = {CATALOGS[lang]._(APOLOGY) for lang in ("fi", "sv", "en")}
BROKEN = re.compile(r"Traceback|File \"|[A-Za-z]+Error\b|Exception\b|NoneType| object at 0x")
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"
LINK = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_prop%40thread.v2/0"


# --- an app on a loop of the test's own (hypothesis calls the property synchronously) ------------


@contextmanager
def app_running(tmp_path: Path) -> Iterator[tuple[asyncio.AbstractEventLoop, Harness]]:
    loop = asyncio.new_event_loop()
    context = running_bot(tmp_path, FakeClock())
    bot = loop.run_until_complete(context.__aenter__())
    # Hundreds of examples go to one chat within seconds, more than Teams allows; the replies would
    # wait for the windows and then for the jobs. The limits are tested in test_reply_limits.py.
    bot.app[PARTS].endpoint.bot.sender._limiter = RateLimiter(conversation_windows=[Window(1.0, 10**6)])
    try:
        loop.run_until_complete(seed(bot))
        yield loop, bot
    finally:
        loop.run_until_complete(context.__aexit__(None, None, None))
        loop.close()


async def seed(bot: Harness) -> None:
    """A network with two sessions (one open for check-in), an RSVP, a check-in, an open poll."""
    await bot.say('network create "Digisumpit" weekly')
    for when in ("today 12:00", "next friday 10:00"):
        [card] = cards_of(await bot.say(f'schedule Digisumpit "{when}" link {LINK}'))
        draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
        await bot.click("session.confirm", draft)
    await bot.run_jobs()
    await bot.click("session.rsvp", {"session": 1, "coming": True}, sender=user(2))
    bot.clock.advance(timedelta(minutes=50))  # 11:50: session 1 is open for check-in
    await bot.say("here", sender=user(3))
    await bot.say("poll #1")
    await bot.run_jobs()


async def table_counts(bot: Harness) -> dict[str, int]:
    async with bot.app[PARTS].database.read() as session:
        names = (
            await session.scalars(
                text(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' AND name <> 'alembic_version'"
                )
            )
        ).all()
        return {
            name: int((await session.execute(text(f'SELECT count(*) FROM "{name}"'))).scalar() or 0)
            for name in names
        }


def router_of(bot: Harness) -> Router:
    return bot.app[PARTS].endpoint.bot.router


async def post(bot: Harness, activity: dict[str, Any]) -> tuple[int, Any, list[dict[str, Any]]]:
    """The HTTP status, the JSON answer and the replies the bot sent to the connector."""
    before = len(bot.connector.received)
    response = await bot.client.post("/api/messages", json=activity)
    raw = await response.text()
    await bot.app[PARTS].endpoint.drain()
    replies = [r.activity for r in bot.connector.received[before:] if r.kind == "reply"]
    return response.status, (await response.json() if raw else None), replies


def strings_of(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings_of(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings_of(value)


def assert_clean(shown: str, sent: str) -> None:
    """What a person reads: no error text, no apology, no placeholder the catalogs left unfilled."""
    assert shown not in APOLOGIES, f"the turn failed for {sent!r}"
    assert not any(apology in shown for apology in APOLOGIES), f"the turn failed for {sent!r}"
    broken = BROKEN.search(shown)
    assert broken is None or broken.group(0) in sent, (
        f"error text {broken.group(0)!r} for {sent!r}: {shown[:300]}"
    )
    for placeholder in PLACEHOLDER.findall(shown):
        assert placeholder in sent, f"unfilled {placeholder} for {sent!r}: {shown[:300]}"


# --- (a) any text as a message ----------------------------------------------------------------------

QUOTES = ['"', "\u201c", "\u201d", "\u201e", "\u00ab", "\u00bb", "'", "\u2019"]
EMOJI = [
    "\U0001f600",
    "\U0001f389",
    "\U0001f44d\U0001f3fd",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\u2764\ufe0f",
]
WORDS = [
    "Digisumpit",
    "digisumpit",
    "DIGISUMPIT",
    "#1",
    "#2",
    "#0",
    "#-1",
    "#999999999999999999999",
    "#x",
    "today",
    "tomorrow",
    "next",
    "thursday",
    "torstaina",
    "torsdag",
    "every",
    "joka",
    "varje",
    "12:00",
    "klo",
    "14",
    "1.1.2020",
    "31.2.2027",
    "3.12.2026",
    "29.2.2027",
    "60",
    "min",
    "h",
    "1:30",
    "90min",
    "until",
    "asti",
    "till",
    "10",
    "times",
    "kertaa",
    "gånger",
    "0",
    "521",
    "link",
    "linkki",
    LINK,
    "http://",
    "https://",
    "javascript:alert(1)",
    "lang",
    "fi",
    "sv",
    "en",
    "de",
    "fixed-term",
    "weekly",
    "monthly",
    "joka viikko",
    "add",
    "remove",
    "lisää",
    "poista",
    "<at>Tapaamo</at>",
    "<at>User 7</at>",
    "csv",
    "xlsx",
    "all",
    "2026",
    "12 months",
    "close",
    "sulje",
    "comment",
    "work",
    "municipality",
    "description",
    "join",
    "cadence",
    "name",
    "ends",
    "info",
    "edit",
    "pause",
    "resume",
    "end",
    "create",
    "coordinators",
    "\u00a0",
    "\t",
    "\n",
    "&amp;",
    "&lt;b&gt;",
    "<b>bold</b>",
    "\\",
    "%s",
    "{network}",
    "{0}",
    "'; DROP TABLE networks; --",
    "\x00",
    "\u202e",
    "\ufeff",
    "\u0301",
]


def command_words(router: Router) -> list[str]:
    return sorted(
        {alias for command in router.commands for aliases in command.aliases.values() for alias in aliases}
    )


@st.composite
def message_texts(draw: st.DrawFn, commands: list[str]) -> str:
    kind = draw(st.sampled_from(["text", "command", "command", "command", "long", "quotes"]))
    if kind == "text":
        return draw(st.text(max_size=300))
    if kind == "long":
        filler = draw(st.sampled_from([*WORDS, *EMOJI, "\u201c", "x"]))
        return (draw(st.sampled_from([*commands, ""])) + " " + (filler + " ") * 5000)[:5000]
    if kind == "quotes":
        quote = draw(st.sampled_from(QUOTES))
        inside, after = draw(st.text(max_size=40)), draw(st.sampled_from(WORDS))
        return f"{draw(st.sampled_from(commands))} {quote}{inside} {after}"
    word = draw(st.sampled_from(commands))
    word = draw(
        st.sampled_from([word, word.upper(), word.capitalize(), f"<at>Tapaamo</at> {word}", f" {word}\u00a0"])
    )
    pieces = draw(
        st.lists(
            st.one_of(
                st.sampled_from(WORDS),
                st.sampled_from(EMOJI),
                st.sampled_from(QUOTES),
                st.builds(lambda q, t: f"{q}{t}{q}", st.sampled_from(QUOTES), st.text(max_size=30)),
                st.integers(min_value=-(10**30), max_value=10**30).map(str),
                st.text(alphabet=string.printable, max_size=20),
                st.text(max_size=20),
            ),
            max_size=8,
        )
    )
    return " ".join([word, *pieces])


def test_any_text_as_a_message_gets_a_clean_localised_answer(tmp_path: Path) -> None:
    with app_running(tmp_path) as (loop, bot):
        commands = command_words(router_of(bot))

        @SETTINGS
        @given(
            text_=message_texts(commands),
            locale=st.sampled_from(LOCALES),
            sender=st.sampled_from([1, 1, 1, 2, 9]),
            personal=st.booleans(),
        )
        def prop(text_: str, locale: str, sender: int, personal: bool) -> None:
            activity = bot.activity(
                text=text_,
                locale=locale,
                sender=user(sender, "Aino Coordinator" if sender == 1 else None),
                conversation=f"a:personal-{sender}" if personal else "19:group-chat",
                conversation_type="personal" if personal else "groupChat",
                entities=[{"type": "mention", "mentioned": user(7), "text": "<at>User 7</at>"}],
            )
            status, answer, replies = loop.run_until_complete(post(bot, activity))
            assert status == 200, (text_, answer)
            assert answer is None
            assert len(replies) <= 3
            for reply in replies:
                assert reply["type"] == "message"
                assert reply.get("locale") == (locale or None)
                assert reply.get("text") or cards_of([reply]), reply
                for card in cards_of([reply]):
                    assert card.get("lang") in ("fi", "sv", "en")
                assert_clean("\n".join(strings_of(reply)), text_)

        prop()


def test_an_unknown_word_is_answered_in_the_locale_language(tmp_path: Path) -> None:
    """The localisation of (a) made exact: an unknown command word gets the catalog's sentence, in
    the language of the sender's locale (English for any locale we do not speak)."""
    with app_running(tmp_path) as (loop, bot):
        router = router_of(bot)
        known = {
            fold(alias)
            for command in router.commands
            for aliases in command.aliases.values()
            for alias in aliases
        }

        @SETTINGS
        @given(
            word=st.text(alphabet=string.ascii_lowercase + "åäö", min_size=1, max_size=30),
            locale=st.sampled_from(LOCALES),
        )
        def prop(word: str, locale: str) -> None:
            if fold(word) in known:
                return
            activity = bot.activity(text=f"{word} now", locale=locale)
            status, _, replies = loop.run_until_complete(post(bot, activity))
            assert status == 200
            [reply] = replies
            turn_lang = {"fi": "fi", "sv": "sv"}.get(locale.split("-")[0], "en")
            ctx = router.context(bot_turn(activity))
            assert ctx.lang == turn_lang
            assert reply["text"] == router._unknown(ctx, word[:40])

        prop()


def bot_turn(activity: dict[str, Any]) -> Any:
    from bot.teams import to_turn

    return to_turn(activity)


# --- (b) parse_when ------------------------------------------------------------------------------

WHEN_WORDS = [
    "today",
    "tomorrow",
    "tänään",
    "huomenna",
    "idag",
    "imorgon",
    "i",
    "morgon",
    "next",
    "ensi",
    "nästa",
    "every",
    "joka",
    "varje",
    "other",
    "toinen",
    "week",
    "viikko",
    "vecka",
    "month",
    "kuukausi",
    "first",
    "last",
    "monday",
    "thursday",
    "torstaina",
    "torstai",
    "torsdag",
    "torsdagar",
    "sunnuntai",
    "söndag",
    "klo",
    "kl",
    "at",
    "14",
    "14:00",
    "14.00",
    "25:61",
    "0:00",
    "23:59",
    "12",
    "pm",
    "am",
    "1.1.",
    "31.12.",
    "29.2.2028",
    "30.2.2027",
    "1.13.2026",
    "2026-12-03",
    "3/12",
    "12/3/2026",
    "until",
    "asti",
    "till",
    "10",
    "times",
    "kertaa",
    "gånger",
    "0",
    "9999",
    "-1",
    "in",
    "2",
    "days",
    "päivän",
    "päästä",
    "om",
    "dagar",
    "at 14",
    "noon",
    "midnight",
    "\u00a0",
    "\u2013",
    "-",
    ",",
    ".",
    ":",
    "#",
    "1e9",
    "١٢",
    "１４",
]
ZONES = [
    "Europe/Helsinki",
    "Europe/Stockholm",
    "UTC",
    "America/Los_Angeles",
    "Pacific/Kiritimati",
    "Australia/Lord_Howe",
]


@st.composite
def when_texts(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.text(max_size=250))
    words = draw(st.lists(st.sampled_from(WHEN_WORDS), min_size=1, max_size=9))
    return draw(st.sampled_from([" ", "", "  ", ", "])).join(words)


MOMENTS = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


@SETTINGS
@given(text_=when_texts(), lang=st.sampled_from(["fi", "sv", "en"]), tz=st.sampled_from(ZONES), now=MOMENTS)
def test_parse_when_raises_only_user_errors(text_: str, lang: Any, tz: str, now: datetime) -> None:
    for parse in (
        lambda: parse_when(text_, lang=lang, tz=tz, now=now),
        lambda: parse_limit(text_, lang=lang, tz=tz, now=now),
        lambda: parse_duration(text_),
    ):
        with suppress(UserError):
            parse()


# --- (c) card actions with random payloads -----------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
VALUES = st.one_of(
    st.integers(min_value=-3, max_value=4),  # ids of real objects, and near them
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30]),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "1",
            "01",
            "1.0",
            "true",
            "",
            " ",
            "work",
            "salary",
            "fi",
            "de",
            "2026-01-08T10:00:00+02:00",
            "2026-13-45",
            "tomorrow 12:00",
            "0x10",
            "\u0661",
            "NaN",
            "x" * 6000,
        ]
    ),
    st.text(max_size=40),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def payloads(verbs: dict[str, Any]) -> st.SearchStrategy[tuple[str, Any]]:
    def for_verb(verb: str) -> st.SearchStrategy[tuple[str, Any]]:
        fields = list(verbs[verb].payload.model_fields)
        shaped = st.fixed_dictionaries(
            {},
            optional=dict.fromkeys(fields, VALUES) | {"extra": JSON, "": JSON},
        )
        data = st.one_of(
            shaped, shaped, shaped, st.dictionaries(st.text(max_size=10), JSON, max_size=5), JSON
        )
        return st.tuples(st.just(verb), data)

    return st.sampled_from([*sorted(verbs), "no.such.verb", ""]).flatmap(
        lambda verb: for_verb(verb) if verb in verbs else st.tuples(st.just(verb), JSON)
    )


def test_every_card_action_with_random_payloads_answers_and_refusals_store_nothing(tmp_path: Path) -> None:
    with app_running(tmp_path) as (loop, bot):
        verbs = dict(router_of(bot)._actions)
        assert len(verbs) >= 15, sorted(verbs)  # read from the router: every registered verb
        tried: set[str] = set()

        @settings(SETTINGS, max_examples=SETTINGS.max_examples * 4 // 3)
        @given(case=payloads(verbs), sender=st.sampled_from([1, 1, 2, 9]), locale=st.sampled_from(LOCALES))
        def prop(case: tuple[str, Any], sender: int, locale: str) -> None:
            verb, data = case
            tried.add(verb)
            activity = bot.activity(
                "invoke",
                name="adaptiveCard/action",
                value={"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
                sender=user(sender, "Aino Coordinator" if sender == 1 else None),
                locale=locale,
            )
            before = loop.run_until_complete(table_counts(bot))
            status, answer, replies = loop.run_until_complete(post(bot, activity))
            after = loop.run_until_complete(table_counts(bot))
            assert status == 200, (verb, data, answer)
            assert answer["statusCode"] == 200
            assert answer["type"] in (CARD, MESSAGE)
            assert answer.get("value"), (verb, data, answer)
            assert replies == []
            assert_clean("\n".join(strings_of(answer["value"])), repr(data))
            changed = {name for name in after if after[name] != before[name]} - {"inbound_activities"}
            if answer["type"] == MESSAGE:  # refused: nothing of it may have been stored
                assert changed == set(), (verb, data, answer["value"], changed)

        # Every verb at least once, however many there are and whatever the random draw.
        for verb in sorted(verbs):
            prop = example(case=(verb, {}), sender=1, locale="fi-FI")(prop)
        prop()
        assert tried >= set(verbs), sorted(set(verbs) - tried)


def plausible(model: type[BaseModel], name: str) -> Any:
    """A value the model accepts for field ``name`` (the other fields left out)."""
    for candidate in (1, True, "work", "fi", "2026-01-08T10:00:00+02:00", ""):
        try:
            model.model_validate({name: candidate})
        except ValidationError as error:
            if any(e["loc"][:1] == (name,) for e in error.errors()):
                continue
        return candidate
    raise AssertionError(f"no plausible value for {model.__name__}.{name}")


def test_numbers_beyond_64_bits_are_refused_by_every_verb(tmp_path: Path) -> None:
    """Method: for every registered verb and each of its fields that takes a number, an otherwise
    plausible payload with that number at 2**63 and at -2**63-1 (JSON has no limit; pydantic's int
    has none; the databases' integers end at 64 bits): each is refused with the "use the latest
    card" message, and no row of any table changes. Found by (c): such an id made SQLite raise
    OverflowError and the turn fail."""
    with app_running(tmp_path) as (loop, bot):
        router = router_of(bot)
        refusal = {CATALOGS[lang]._(BadPayload.message_id) for lang in ("fi", "sv", "en")}
        checked = 0
        for verb, action in sorted(router._actions.items()):
            model = action.payload
            base = {name: plausible(model, name) for name in model.model_fields}
            for name, value in base.items():
                if not isinstance(value, int) or isinstance(value, bool):
                    continue
                for huge in (2**63, -(2**63) - 1):
                    before = loop.run_until_complete(table_counts(bot))
                    activity = bot.activity(
                        "invoke",
                        name="adaptiveCard/action",
                        value={
                            "action": {"type": "Action.Execute", "verb": verb, "data": {**base, name: huge}}
                        },
                    )
                    status, answer, _ = loop.run_until_complete(post(bot, activity))
                    assert (status, answer["type"]) == (200, MESSAGE), (verb, name, answer)
                    assert answer["value"] in refusal, (verb, name, answer)
                    after = loop.run_until_complete(table_counts(bot))
                    assert {n for n in after if after[n] != before[n]} == {"inbound_activities"}
                    checked += 1
        assert checked >= 20


@pytest.mark.parametrize("data", [[], "x", 7, None, [{"poll": 1}]])
def test_an_action_whose_data_is_not_an_object_is_refused(tmp_path: Path, data: Any) -> None:
    """Method: poll.vote with data that is no JSON object at all: a refusal, nothing stored."""
    with app_running(tmp_path) as (loop, bot):
        before = loop.run_until_complete(table_counts(bot))
        activity = bot.activity(
            "invoke",
            name="adaptiveCard/action",
            value={"action": {"type": "Action.Execute", "verb": "poll.vote", "data": data}},
            sender=user(5),
        )
        status, answer, _ = loop.run_until_complete(post(bot, activity))
        assert status == 200
        assert answer["type"] == MESSAGE
        after = loop.run_until_complete(table_counts(bot))
        assert {n for n in after if after[n] != before[n]} == {"inbound_activities"}
