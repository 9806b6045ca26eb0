"""schedule, sessions, cancel, move, skip; the confirmation card and the session card's buttons."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field

from dialogs import session_cards
from dialogs.args import split_args
from dialogs.common import MissingParts, person, services
from dialogs.i18n import N_, Translator
from dialogs.router import CardLang, Command, Context, Router
from dialogs.services import Services
from dialogs.session_cards import note_card
from dialogs.turn import ActionResult, CardReply, Lang, Reply, TextReply
from domain.errors import UserError
from domain.networks import Network, fold
from domain.sessions import (
    DEFAULT_DURATION,
    Draft,
    DraftGone,
    DraftStatus,
    Session,
    SessionStatus,
    check_link,
    check_topic,
    parse_session_ref,
)
from domain.when import When, parse_duration, parse_limit, parse_when, with_limit, with_rule

USAGE: dict[Lang, str] = {
    "en": 'schedule NAME "next thursday 14:00" [60 min] ["topic"] [link URL] [until 27.5.2027 | 10 times]',
    "fi": 'sovi NIMI "ensi torstaina klo 14" [60 min] ["aihe"] [linkki URL] [asti 27.5.2027 | 10 kertaa]',
    "sv": 'planera NAMN "nästa torsdag kl 14" [60 min] ["ämne"] [länk URL] [till 27.5.2027 | 10 gånger]',
}
LINK_WORDS = {"link", "linkki", "länk"}
UNTIL_WORDS = {"until", "asti", "saakka", "till", "tills"}
ALL_WORDS = {"all", "series", "kaikki", "sarja", "alla", "serien", "hela"}
TIMES_WORDS = {"times", "time", "kertaa", "kerran", "krt", "gånger", "gång", "ggr"}
MAX_WHEN_WORDS = 7
MAX_BARE_MINUTES = 720
MAX_LISTED = 20  # upcoming sessions on the sessions card
MAX_CANCELLED_LISTED = 3  # ... and cancelled ones among them; the rest as a count


class DraftPayload(CardLang):
    model_config = ConfigDict(extra="ignore")
    draft: int


class RedraftPayload(CardLang):
    model_config = ConfigDict(extra="ignore")
    draft: int
    when: str = Field(max_length=200)
    minutes: int | str | None = None
    topic: str = Field(default="", max_length=5000)


class RsvpPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session: int
    coming: bool


class SessionPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    session: int


class NotAWhen(UserError):
    message_id = N_("I couldn't find when the session is. Use: {usage}")


def _parse_when_tokens(ctx: Context, network: Network, tokens: list[str]) -> tuple[When, list[str]]:
    """The date at the start of ``tokens``: a quoted one, or the fewest words that make a date."""
    now = ctx.clock.now()

    def parse(text: str) -> When:
        return parse_when(text, lang=ctx.lang, tz=network.timezone, now=now)

    if " " in tokens[0]:  # it was quoted: it is the whole date
        return parse(tokens[0]), tokens[1:]
    last_error: UserError | None = None
    for length in range(1, min(MAX_WHEN_WORDS, len(tokens)) + 1):
        try:
            return parse(" ".join(tokens[:length])), tokens[length:]
        except UserError as error:
            last_error = error
    if last_error is not None:
        raise last_error
    raise NotAWhen(usage=USAGE[ctx.lang])


def _is_limit(rest: list[str], index: int) -> bool:
    """Whether the words at ``index`` end a series: "until DATE", "DATE asti", "10 times"."""
    if index + 1 >= len(rest):
        return False
    word, following = rest[index].casefold(), rest[index + 1].casefold()
    return (
        word in UNTIL_WORDS
        # "31.3.2027 asti", but not the topic before "asti 31.3.2027" ("Budjetti 2027" asti …)
        or (following in {"asti", "saakka"} and word[:1].isdigit())
        or (word.isdigit() and following in TIMES_WORDS)
    )


def _parse_rest(
    ctx: Context, network: Network, when: When, rest: list[str]
) -> tuple[When, timedelta, str, str | None]:
    """Length, link, series end and topic from the words after the date, in any order.

    A bare number is the length in minutes only where a length can be meant: up to 720 and not
    right after a word of the topic ("Budjetti 2027" is a topic; "90" alone, or "90 min", a length).
    """
    duration = when.length or DEFAULT_DURATION
    link = None
    topic_words: list[str] = []
    index = 0
    while index < len(rest):
        word = rest[index]
        pair = " ".join(rest[index : index + 2])
        after_topic = bool(topic_words) and topic_words[-1] == rest[index - 1]
        if word.casefold() in LINK_WORDS and index + 1 < len(rest):
            link = check_link(rest[index + 1])
            index += 2
        elif word.casefold().startswith(("https://", "http://")):
            link = check_link(word)
            index += 1
        elif _is_limit(rest, index):
            until, count = parse_limit(pair, lang=ctx.lang, tz=network.timezone, now=ctx.clock.now())
            when = with_limit(when, until=until, count=count, lang=ctx.lang, text=pair)
            index += 2
        elif word[:1].isdigit() and index + 1 < len(rest) and (length := parse_duration(pair)) is not None:
            duration = length
            index += 2
        elif word.isdigit() and (after_topic or int(word) > MAX_BARE_MINUTES):
            topic_words.append(word)
            index += 1
        elif word[:1].isdigit() and (length := parse_duration(word)) is not None:
            duration = length
            index += 1
        else:
            topic_words.append(word)
            index += 1
    return when, duration, check_topic(" ".join(topic_words)), link


def _warnings(tr: Translator, when: When) -> list[str]:
    return [tr._(notice.message_id, **_dated(notice.kwargs)) for notice in when.warnings]


def _dated(params: dict[str, str]) -> dict[str, object]:
    """Notice parameters with their ISO dates as dates, so that the translator writes them."""
    result: dict[str, object] = dict(params)
    for key, value in params.items():
        with contextlib.suppress(ValueError):
            result[key] = date.fromisoformat(value) if len(value) == 10 else value
    return result


async def schedule_command(ctx: Context, args: str) -> Sequence[Reply]:
    tokens = split_args(args)
    if len(tokens) < 2:
        raise MissingParts()
    svc = services(ctx)
    network = await svc.planning.find(tokens[0])
    svc.planning.require_coordinator(network, person(ctx.turn))
    when, rest = _parse_when_tokens(ctx, network, tokens[1:])
    when, duration, topic, link = _parse_rest(ctx, network, when, rest)
    draft = await _draft(ctx, network, when, duration, topic, link)
    return [CardReply(session_cards.confirm_card(ctx.tr, network, draft, _warnings(ctx.tr, when)))]


async def _draft(
    ctx: Context, network: Network, when: When, duration: timedelta, topic: str, link: str | None
) -> Draft:
    recurrence = when.recurrence
    return await services(ctx).planning.draft(
        network,
        person(ctx.turn),
        starts_at=when.start,
        duration=duration,
        topic=topic,
        join_url=link,
        rrule=recurrence.rrule if recurrence else None,
        until=recurrence.until if recurrence else None,
        count=recurrence.count if recurrence else None,
        warnings=[notice.message_id for notice in when.warnings],
    )


async def sessions_command(ctx: Context, args: str) -> Sequence[Reply]:
    tokens = split_args(args)
    if not tokens:
        raise MissingParts()
    svc = services(ctx)
    network = await svc.planning.find(" ".join(tokens), include_ended=True)
    now = ctx.clock.now()
    upcoming = await svc.sessions.for_network(network.id, start=now, end=now + timedelta(days=120))
    recent = [
        s
        for s in await svc.sessions.for_network(network.id, start=now - timedelta(days=90), end=now)
        if s.ends_at < now
    ]
    # The next 20 held or planned, and the nearest few cancelled: a cancelled series must not
    # crowd out the sessions that will be held.
    active = [s for s in upcoming if s.status != SessionStatus.CANCELLED][:MAX_LISTED]
    cancelled = [s for s in upcoming if s.status == SessionStatus.CANCELLED]
    more_cancelled = max(0, len(cancelled) - MAX_CANCELLED_LISTED)
    upcoming = sorted(active + cancelled[:MAX_CANCELLED_LISTED], key=lambda s: (s.starts_at, s.id))
    recent = recent[-10:]
    coming = {s.id: len(await svc.sessions.coming(s.id)) for s in upcoming}
    # Past sessions: who took part, from the ledger (RSVPs are intention, not attendance).
    took_part = {
        s.id: len({row.key for row in await svc.ledger.store.for_session(s.id)})
        for s in recent
        if s.status != SessionStatus.CANCELLED
    }
    card = session_cards.sessions_card(
        ctx.tr, network, upcoming, recent, coming, took_part, more_cancelled=more_cancelled
    )
    return [CardReply(card)]


async def cancel_command(ctx: Context, args: str) -> Sequence[Reply]:
    tokens = split_args(args)
    if not tokens:
        raise MissingParts()
    svc = services(ctx)
    if len(tokens) > 1 and fold(tokens[1]) in ALL_WORDS:
        return await _cancel_series(ctx, parse_session_ref(tokens[0]))
    session = await svc.planning.cancel(parse_session_ref(tokens[0]), person(ctx.turn))
    network = await svc.planning.networks.get(session.network_id)
    assert network is not None
    when = session_cards.when_text(ctx.tr, session.starts_at, network.timezone, capital=False)
    return [
        TextReply(
            ctx.tr._("Cancelled: {network}, {when}. Those coming are told.", network=network.name, when=when)
        )
    ]


async def _cancel_series(ctx: Context, session_id: int) -> Sequence[Reply]:
    svc = services(ctx)
    session = await svc.planning.session(session_id)
    cancelled = await svc.planning.cancel_series(session_id, person(ctx.turn))
    network = await svc.planning.networks.get(session.network_id)
    assert network is not None
    text = ctx.tr.n_(
        "Cancelled the series of {network}: {n} coming session. Those coming are told; no more are made.",
        "Cancelled the series of {network}: {n} coming sessions. Those coming are told; no more are made.",
        len(cancelled),
        network=network.name,
    )
    return [TextReply(text)]


MOVE_USAGE: dict[Lang, str] = {
    "en": 'move #12 "friday 10:00"',
    "fi": 'siirrä #12 "perjantaina klo 10"',
    "sv": 'flytta #12 "fredag kl 10"',
}
MAX_SHOWN = 80


class ExtraWordsAfterMove(UserError):
    message_id = N_(
        "I didn't understand \u201c{words}\u201d after the new time. Nothing was moved. Use: {usage}"
    )


class MoveKeepsLength(UserError):
    message_id = N_(
        "Moving keeps the session's length ({minutes} min), so \u201c{words}\u201d can't be applied. "
        "Nothing was moved. Use: {usage}"
    )


def _shown_words(words: Sequence[str]) -> str:
    text = " ".join(" ".join(words).split())
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "\u2026"


def _move_when(ctx: Context, network: Network, session: Session, tokens: list[str]) -> When:
    """The new time from ``tokens``, refusing words after it rather than ignoring them.

    Only a length the schedule command accepts may follow, and only the session's own length:
    a move keeps the length (the stored end moves with the start).
    """
    usage = MOVE_USAGE[ctx.lang]
    when, rest = _parse_when_tokens(ctx, network, tokens)
    if rest and " " not in tokens[0]:
        # The fewest words that make a date may stop short ("10:00" before "am"): the most that do.
        for used in range(min(MAX_WHEN_WORDS, len(tokens)), len(tokens) - len(rest), -1):
            with contextlib.suppress(UserError):
                text = " ".join(tokens[:used])
                when = parse_when(text, lang=ctx.lang, tz=network.timezone, now=ctx.clock.now())
                rest = tokens[used:]
                break
    length = session.ends_at - session.starts_at
    asked = [(when.length, " ".join(tokens))] if when.length is not None else []
    if rest:
        extra = parse_duration(" ".join(rest)) if rest[0][:1].isdigit() else None
        if extra is None:
            raise ExtraWordsAfterMove(words=_shown_words(rest), usage=usage)
        asked.append((extra, " ".join(rest)))
    for duration, words in asked:
        if duration != length:
            minutes = int(length.total_seconds()) // 60
            raise MoveKeepsLength(minutes=minutes, words=_shown_words([words]), usage=usage)
    return when


async def move_command(ctx: Context, args: str) -> Sequence[Reply]:
    tokens = split_args(args)
    if len(tokens) < 2:
        raise MissingParts()
    svc = services(ctx)
    session = await svc.planning.session(parse_session_ref(tokens[0]))
    network = await svc.planning.networks.get(session.network_id)
    assert network is not None
    when = _move_when(ctx, network, session, tokens[1:])
    moved = await svc.planning.move(session.id, person(ctx.turn), when.start)
    text = session_cards.when_text(ctx.tr, moved.starts_at, network.timezone, capital=False)
    reply = ctx.tr._(
        "Moved: {network} is now {when}. Those coming are told.", network=network.name, when=text
    )
    # The same warnings as the schedule command's confirmation card (holiday, night hour, weekday).
    return [TextReply("\n\n".join([reply, *("\u26a0 " + w for w in _warnings(ctx.tr, when))]))]


async def personal_view(ctx: Context, session_id: int) -> dict[str, object]:
    """The session card as one person sees it: whether they are coming and follow the network."""
    svc = services(ctx)
    session = await svc.planning.session(session_id)
    network = await svc.planning.networks.get(session.network_id)
    assert network is not None
    coming = await svc.sessions.coming(session.id)
    me = ctx.turn.user.id
    return await shared_card(
        ctx.for_lang(network.lang),
        svc,
        network,
        session,
        me_coming=any(p.user_id == me for p in coming),
        me_following=await svc.sessions.is_following(network.id, me),
        checkin_open=session.open_for_checkin(ctx.clock.now()),
    )


async def shared_card(
    tr: Translator,
    svc: Services,
    network: Network,
    session: Session,
    *,
    me_coming: bool | None = None,
    me_following: bool | None = None,
    checkin_open: bool = False,
) -> dict[str, object]:
    coming = await svc.sessions.coming(session.id)
    followers = await svc.sessions.followers(network.id)
    refresh_ids = (
        [p.user_id for p in coming]
        + [p.user_id for p in followers]
        + [c.user_id for c in network.coordinators]
    )
    repeats = None
    if session.series_id:
        series = await svc.sessions.get_series(session.series_id)
        if series:
            repeats = session_cards.repeat_text(tr, series.rrule, series.until, series.count)
    return session_cards.session_card(
        tr,
        network,
        session,
        coming=len(coming),
        public_url=svc.public_url,
        refresh_user_ids=list(dict.fromkeys(refresh_ids)),
        me_coming=me_coming,
        me_following=me_following,
        repeats=repeats,
        checkin_open=checkin_open,
    )


async def confirm_action(ctx: Context, payload: DraftPayload) -> ActionResult:
    return await confirm_and_report(ctx, payload.draft)


async def confirm_and_report(ctx: Context, draft_id: int) -> ActionResult:
    """Confirm a draft (idempotently) and answer with what was scheduled."""
    svc = services(ctx)
    confirmed = await svc.planning.confirm(draft_id, person(ctx.turn))
    network = (
        await svc.planning.networks.get(confirmed.sessions[0].network_id) if confirmed.sessions else None
    )
    tr = ctx.tr
    if network is None or not confirmed.sessions:
        return ActionResult(
            card=note_card(tr, tr._("Scheduled"), [tr._("No sessions fall in the coming weeks.")])
        )
    first = confirmed.sessions[0]
    lines = [
        tr._(
            "{network}: {when}.",
            network=network.name,
            when=session_cards.when_text(tr, first.starts_at, network.timezone, capital=False),
        ),
        tr._(
            "The announcement is posted in the network's home conversation, with reminders before it starts."
        ),
    ]
    if confirmed.series:
        repeats = session_cards.repeat_text(
            tr, confirmed.series.rrule, confirmed.series.until, confirmed.series.count
        )
        lines.insert(1, tr._("Repeats {repeats}.", repeats=repeats))
    if confirmed.paused:
        lines[-1] = tr._(
            "{network} is paused: nothing is announced until it is resumed; then the announcement is posted.",
            network=network.name,
        )
    return ActionResult(card=note_card(tr, tr._("Scheduled \u2714"), lines))


async def change_action(ctx: Context, payload: DraftPayload) -> ActionResult:
    svc = services(ctx)
    draft = await svc.sessions.get_draft(payload.draft)
    if draft is None:
        raise DraftGone()
    network = await svc.planning.networks.get(draft.network_id)
    assert network is not None
    svc.planning.require_coordinator(network, person(ctx.turn))
    when_value = ctx.tr.datetime(draft.starts_at, network.timezone, "d.M.yyyy HH:mm")
    return ActionResult(card=session_cards.change_card(ctx.tr, network, draft, when_value))


async def redraft_action(ctx: Context, payload: RedraftPayload) -> ActionResult:
    svc = services(ctx)
    old = await svc.sessions.get_draft(payload.draft)
    if old is None or old.status != DraftStatus.PENDING:
        raise DraftGone()
    network = await svc.planning.networks.get(old.network_id)
    assert network is not None
    svc.planning.require_coordinator(network, person(ctx.turn))
    # Everything is read before the old draft is discarded: a typo leaves it as it was.
    when = parse_when(payload.when, lang=ctx.lang, tz=network.timezone, now=ctx.clock.now())
    new_rule = when.recurrence
    if old.rrule and new_rule is None:
        when = with_rule(when, old.rrule, old.until, old.count, lang=ctx.lang, previous=old.starts_at)
    elif (old.until or old.count) and new_rule and not (new_rule.until or new_rule.count):
        # "joka keskiviikko klo 13" for a series "asti 31.3.2027": a new rule, the same end
        when = with_limit(when, until=old.until, count=old.count, lang=ctx.lang)
    duration = old.duration
    if payload.minutes not in (None, ""):
        duration = parse_duration(str(payload.minutes)) or old.duration
    topic = check_topic(payload.topic)
    await svc.planning.discard(old.id, person(ctx.turn))
    draft = await _draft(ctx, network, when, duration, topic, old.join_url)
    return ActionResult(card=session_cards.confirm_card(ctx.tr, network, draft, _warnings(ctx.tr, when)))


async def discard_action(ctx: Context, payload: DraftPayload) -> ActionResult:
    await services(ctx).planning.discard(payload.draft, person(ctx.turn))
    tr = ctx.tr
    return ActionResult(card=note_card(tr, tr._("Discarded"), [tr._("Nothing was scheduled.")]))


async def rsvp_action(ctx: Context, payload: RsvpPayload) -> ActionResult:
    await services(ctx).planning.set_rsvp(payload.session, person(ctx.turn), payload.coming)
    return ActionResult(card=await personal_view(ctx, payload.session))


async def view_action(ctx: Context, payload: SessionPayload) -> ActionResult:
    return ActionResult(card=await personal_view(ctx, payload.session))


def register(router: Router) -> None:
    router.command(
        Command(
            name="schedule",
            aliases={"en": ("schedule",), "fi": ("sovi", "ajasta"), "sv": ("planera", "boka")},
            handler=schedule_command,
            summary=N_("Schedule a session or a series; you confirm it before it is announced."),
            usage=USAGE,
            coordinator_only=True,
        )
    )
    router.command(
        Command(
            name="sessions",
            aliases={"en": ("sessions",), "fi": ("tapaamiset",), "sv": ("träffar",)},
            handler=sessions_command,
            summary=N_("A network's upcoming and recent sessions, with their numbers."),
            usage={"en": "sessions NAME", "fi": "tapaamiset NIMI", "sv": "träffar NAMN"},
        )
    )
    router.command(
        Command(
            name="cancel",
            aliases={"en": ("cancel", "skip"), "fi": ("peru", "ohita"), "sv": ("avboka", "hoppa")},
            handler=cancel_command,
            summary=N_(
                "Cancel one session (also one occurrence of a series), or with \u201call\u201d "
                "its whole series; its card says so."
            ),
            usage={"en": "cancel #12 [all]", "fi": "peru #12 [kaikki]", "sv": "avboka #12 [alla]"},
            coordinator_only=True,
        )
    )
    router.command(
        Command(
            name="move",
            aliases={"en": ("move",), "fi": ("siirrä",), "sv": ("flytta",)},
            handler=move_command,
            summary=N_("Move a session to another time; those coming are told."),
            usage=MOVE_USAGE,
            coordinator_only=True,
        )
    )
    # A Finnish draft's buttons are answered in Finnish: the payloads carry the card's language.
    router.action("session.confirm", DraftPayload, confirm_action)
    router.action("session.change", DraftPayload, change_action)
    router.action("session.redraft", RedraftPayload, redraft_action)
    router.action("session.discard", DraftPayload, discard_action)
    router.action("session.rsvp", RsvpPayload, rsvp_action)
    router.action("session.view", SessionPayload, view_action)
