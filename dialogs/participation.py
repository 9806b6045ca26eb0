"""here | paikalla | närvarande, attendance corrections, attach, report and export; meeting events."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from dialogs import cards
from dialogs.args import split_args
from dialogs.common import MissingParts, person, services
from dialogs.i18n import N_, Translator
from dialogs.router import Command, Context, Router
from dialogs.services import Services
from dialogs.session_cards import note_card, when_text
from dialogs.turn import ActionResult, CardReply, Reply, TextReply, Turn, User
from domain.errors import UserError
from domain.networks import Network, fold
from domain.participation import Member, WhichSession, organisation_name
from domain.polls import QUESTION_TEXTS, QuestionResult
from domain.reports import NetworkReport, SessionLine, network_report
from domain.sessions import Session, parse_session_ref

log = logging.getLogger(__name__)

# Matched against fold()ed text, so without accents: "mån" is "man", "päivää" is "paivaa".
PERIOD = re.compile(
    r"^(\d{1,3})\s*(d|days?|pv|paivaa|dagar|dag|m|mo|months?|kk|kuukautta|man|manader|manad"
    r"|y|years?|v|vuotta|ar)$"
)
ADD_WORDS = {"add", "lisää", "lägg", "lägg-till"}
REMOVE_WORDS = {"remove", "poista", "ta", "ta-bort"}


class BadPeriod(UserError):
    message_id = N_("I didn't understand the period \u201c{text}\u201d. Try 90 days, 12 months, 2026 or all.")


class BadFormat(UserError):
    message_id = N_("I can export as CSV or Excel, not \u201c{text}\u201d. Use: {usage}")


# file types a coordinator might ask for instead of csv or xlsx ("vie X pdf")
OTHER_FORMATS = {"pdf", "xls", "excel", "json", "txt", "doc", "docx", "ods", "html", "word"}


class NoUnmatched(UserError):
    message_id = N_("No unmatched meeting events in this conversation.")


class CheckinPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session: int


def member(user: User, turn: Turn | None = None) -> Member:
    return Member(
        user_id=user.id, aad_id=user.aad_id, name=user.name, tenant_id=turn.tenant_id if turn else None
    )


def parse_period(text: str, now: datetime) -> tuple[datetime, datetime]:
    """ "90 days", "12 months", "2026", "all" (default: the last 12 months)."""
    words = fold(text)
    end = now + timedelta(days=1)  # today's sessions count, also one still under way
    if not words:
        return now - timedelta(days=365), end
    if words in ("all", "kaikki", "alla", "allt"):
        return datetime(2000, 1, 1, tzinfo=now.tzinfo), end
    if re.fullmatch(r"20\d\d", words):
        year = int(words)
        return datetime(year, 1, 1, tzinfo=now.tzinfo), datetime(year + 1, 1, 1, tzinfo=now.tzinfo)
    match = PERIOD.match(words)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        days = amount * (1 if unit[0] in "dp" else 30 if unit[0] in "mk" else 365)
        return now - timedelta(days=days), end
    raise BadPeriod(text=text[:40])


async def here_command(ctx: Context, args: str) -> Sequence[Reply]:
    svc = services(ctx)
    turn = ctx.turn
    try:
        session = await svc.ledger.check_in(
            member(turn.user, turn), turn.conversation_id, turn.conversation_kind == "personal"
        )
    except WhichSession as which:
        # The shared session cards show "I'm here" only in a person's refreshed view: offer the
        # open sessions here, each with its own button.
        choices = []
        for open_session in which.sessions:
            network = await svc.planning.networks.get(open_session.network_id)
            assert network is not None
            choices.append((network, open_session))
        return [CardReply(which_session_card(ctx.tr, choices))]
    network = await svc.planning.networks.get(session.network_id)
    assert network is not None
    return [
        TextReply(
            ctx.tr._(
                "Welcome, {name}! You are checked in to {network}.",
                name=turn.user.name or "",
                network=network.name,
            )
        )
    ]


def which_session_card(tr: Translator, choices: Sequence[tuple[Network, Session]]) -> dict[str, Any]:
    """The sessions open for check-in at once, each with its network, topic, time and button."""
    title = tr._("Several sessions are open for check-in")
    body: list[cards.Element] = [cards.title(title), cards.text(tr._("Which one are you at?"))]
    for network, session in choices:
        heading = f"{network.name}: {session.topic}" if session.topic else network.name
        body.append(
            {
                "type": "Container",
                "separator": True,
                "spacing": "Medium",
                "items": [
                    {"type": "TextBlock", "text": heading, "weight": "Bolder", "wrap": True},
                    cards.text(when_text(tr, session.starts_at, network.timezone), subtle=True),
                    {
                        "type": "ActionSet",
                        "actions": [
                            cards.execute(
                                tr._("I'm here"), "session.checkin", {"session": session.id}, style="positive"
                            )
                        ],
                    },
                ],
            }
        )
    return cards.card(body, lang=tr.lang, fallback=title)


async def checkin_action(ctx: Context, payload: CheckinPayload) -> ActionResult:
    svc = services(ctx)
    turn = ctx.turn
    await svc.ledger.check_in_session(payload.session, member(turn.user, turn))
    from dialogs.sessions import personal_view

    return ActionResult(card=await personal_view(ctx, payload.session))


async def attendance_command(ctx: Context, args: str) -> Sequence[Reply]:
    usage = {
        "en": "attendance #12 add|remove @person",
        "fi": "osallistujat #12 lisää|poista @henkilö",
        "sv": "deltagare #12 lägg|ta @person",
    }
    tokens = split_args(args)
    if len(tokens) < 2 or not ctx.turn.mentions:
        raise MissingParts(usage=usage[ctx.lang])
    session_id = parse_session_ref(tokens[0])
    verb = fold(tokens[1])
    add = verb in {fold(w) for w in ADD_WORDS}
    if not add and verb not in {fold(w) for w in REMOVE_WORDS}:
        raise MissingParts(usage=usage[ctx.lang])
    svc = services(ctx)
    names: list[str] = []
    absent: list[str] = []
    for mentioned in ctx.turn.mentions:
        changed = await svc.ledger.correct(session_id, person(ctx.turn), member(mentioned), add)
        (names if changed else absent).append(mentioned.name or mentioned.id)
    lines = []
    if names:
        lines.append(
            ctx.tr._("Added to session #{session}: {names}.", session=session_id, names=", ".join(names))
            if add
            else ctx.tr._(
                "Removed from session #{session}: {names}.", session=session_id, names=", ".join(names)
            )
        )
    if absent:
        lines.append(
            ctx.tr._(
                "Nothing to remove: {names} took no part in session #{session}.",
                session=session_id,
                names=", ".join(absent),
            )
        )
    return [TextReply(" ".join(lines))]


async def attach_command(ctx: Context, args: str) -> Sequence[Reply]:
    tokens = split_args(args)
    if not tokens:
        raise MissingParts(usage={"en": "attach #12", "fi": "liitä #12", "sv": "koppla #12"}[ctx.lang])
    svc = services(ctx)
    session = await svc.planning.session(parse_session_ref(tokens[0]))
    network = await svc.planning.networks.get(session.network_id)
    assert network is not None
    svc.planning.require_coordinator(network, person(ctx.turn))
    count = await svc.ledger.attach(ctx.turn.conversation_id, session.id)
    if not count:
        raise NoUnmatched()
    return [
        TextReply(
            ctx.tr.n_(
                "{n} meeting event is now part of session #{session}.",
                "{n} meeting events are now part of session #{session}.",
                count,
                session=session.id,
            )
        )
    ]


def _session_line(tr: Translator, network: Network, line: SessionLine) -> str:
    when = tr.datetime(line.starts_at, network.timezone, "EEE d.M.yyyy HH:mm")  # compact: five lines
    figure = line.figures
    if figure is None:
        return tr._("{when} \u00b7 cancelled, not held", when=when)
    if not figure.participants:
        return tr._("{when} \u00b7 held, no attendance recorded", when=when)
    return tr.n_(
        "{when} \u00b7 held: {n} participant ({new} new, {returning} returning)",
        "{when} \u00b7 held: {n} participants ({new} new, {returning} returning)",
        figure.participants,
        when=when,
        new=figure.new,
        returning=figure.returning,
    )


def _feedback_value(tr: Translator, result: QuestionResult) -> str:
    if not result.shown:
        answers = tr.n_("{n} answer", "{n} answers", result.answers)
        hidden = tr._("Results are shown from five answers on, so that no one can be recognised.")
        return f"{answers}. {hidden}"
    if result.mean is None:
        return tr._("no answers")
    return tr._(
        "mean {mean} on the 1\u20135 scale ({n} answers)",
        mean=tr.number(round(result.mean, 2), 2),
        n=result.answers,
    )


def _organisation_text(tr: Translator, organisation: str, home_tenant: str | None) -> str:
    name = organisation_name(organisation, home_tenant)
    if name.domain:
        return name.domain
    if name.home:
        return tr._("this organisation")
    return tr._("another organisation (\u2026{tail})", tail=name.tail)


def report_card(
    tr: Translator,
    network: Network,
    report: NetworkReport,
    period: str,
    link: str | None,
    home_tenant: str | None = None,
) -> dict[str, Any]:
    """The report in chat: key figures, the latest sessions (held or not, new and returning),
    the organisations taking part most and the feedback of closed polls; a chart and the page."""
    data = report.figures
    pairs = [
        (tr._("Sessions held"), tr.number(data.sessions_held)),
        (tr._("Participants"), tr.number(data.unique_participants)),
        (tr._("Average per session"), tr.number(round(data.average_per_session, 1))),
        (tr._("Came more than once"), tr.number(data.came_more_than_once)),
        (tr._("New participants"), tr.number(data.new_in_period)),
        (tr._("Strong participants"), tr.number(data.roles.strong)),
        (tr._("Occasional participants"), tr.number(data.roles.occasional)),
        (tr._("Followers who have not attended"), tr.number(data.roles.followers_only)),
    ]
    body: list[cards.Element] = [
        cards.title(tr._("{network}: participation", network=network.name)),
        cards.text(period, subtle=True),
    ]
    if data.sessions_held == 0 and data.unique_participants == 0 and data.roles.followers_only == 0:
        # eight rows of zeros say less than one sentence
        nothing = tr._("No sessions were held in this period, so there is nothing to count yet.")
        body.append(cards.text(nothing))
    else:
        body.append(cards.facts(pairs))

    def heading(text: str) -> None:
        block = {"type": "TextBlock", "text": text, "weight": "Bolder", "wrap": True, "spacing": "Medium"}
        body.append(block)

    if report.latest:
        heading(tr._("Latest sessions"))
        body.extend(cards.text(_session_line(tr, network, line)) for line in report.latest)
    if report.organisations:
        heading(tr._("Organisations taking part most (participations)"))
        body.append(
            cards.facts(
                [
                    (_organisation_text(tr, org, home_tenant), tr.number(count))
                    for org, count in report.organisations
                ]
            )
        )
    if report.feedback:
        heading(tr._("Feedback of closed polls"))
        body.append(
            cards.facts(
                [
                    (
                        tr._(QUESTION_TEXTS[r.question]) if r.question in QUESTION_TEXTS else r.question,
                        _feedback_value(tr, r),
                    )
                    for r in report.feedback
                ]
            )
        )
    if link and data.sessions:
        alt = tr._(
            "Bar chart of {network}: participants per session, new and returning, over {n} sessions.",
            network=network.name,
            n=tr.number(len(data.sessions)),
        )
        body.append({"type": "Image", "url": f"{link}/chart.png", "altText": alt, "size": "Stretch"})
    actions = [cards.open_url(tr._("Open the report"), link)] if link else []
    return cards.card(
        body, lang=tr.lang, fallback=tr._("{network}: participation", network=network.name), actions=actions
    )


def _period_text(tr: Translator, start: datetime, end: datetime, tz: str) -> str:
    return tr._(
        "{start} – {end}", start=tr.datetime(start, tz, "d.M.yyyy"), end=tr.datetime(end, tz, "d.M.yyyy")
    )


async def report_command(ctx: Context, args: str) -> Sequence[Reply]:
    tokens = split_args(args)
    if not tokens:
        raise MissingParts(
            usage={
                "en": "report NAME [12 months|2026|all]",
                "fi": "raportti NIMI [12 kk|2026|kaikki]",
                "sv": "rapport NAMN [12 mån|2026|alla]",
            }[ctx.lang]
        )
    svc = services(ctx)
    network, period_words = await _network_and_rest(ctx, tokens)
    svc.planning.require_coordinator(network, person(ctx.turn))
    now = ctx.clock.now()
    start, end = parse_period(" ".join(period_words), now)
    report = await network_report(
        svc.ledger,
        svc.feedback,
        network,
        start,
        end,
        now,
        strong_share=svc.strong_share,
        recent_sessions=svc.recent_sessions,
    )
    link = svc.links.report(network.id, start, end, lang=ctx.lang) if svc.links else None
    period = _period_text(ctx.tr, start, min(end, now), network.timezone)
    # The network's own organisation is the tenant of its home conversation.
    home = await svc.refs.get(network.home_conversation_id) if network.home_conversation_id else None
    home_tenant = home.tenant_id if home else None
    return [CardReply(report_card(ctx.tr, network, report, period, link, home_tenant))]


async def _network_and_rest(ctx: Context, tokens: list[str]) -> tuple[Network, list[str]]:
    """The network named by the first words (a name may have spaces), and the words after it."""
    planning = services(ctx).planning
    last_error: UserError | None = None
    for length in range(len(tokens), 0, -1):
        try:
            return await planning.find(" ".join(tokens[:length]), include_ended=True), tokens[length:]
        except UserError as error:
            last_error = error if last_error is None or length == 1 else last_error
    assert last_error is not None
    raise last_error


async def export_command(ctx: Context, args: str) -> Sequence[Reply]:
    tokens = split_args(args)
    usage = {
        "en": "export NAME [csv|xlsx] [12 months]",
        "fi": "vie NIMI [csv|xlsx] [12 kk]",
        "sv": "exportera NAMN [csv|xlsx] [12 mån]",
    }[ctx.lang]
    if not tokens:
        raise MissingParts(usage=usage)
    svc = services(ctx)
    fmt = "csv"
    for index, token in enumerate(tokens):
        if token.casefold() in ("csv", "xlsx"):
            fmt = token.casefold()
            del tokens[index]
            break
    for token in tokens[1:]:
        if token.casefold().lstrip(".") in OTHER_FORMATS:
            raise BadFormat(text=token, usage=usage)
    network, period_words = await _network_and_rest(ctx, tokens)
    me = person(ctx.turn)
    svc.planning.require_coordinator(network, me)
    start, end = parse_period(" ".join(period_words), ctx.clock.now())
    assert svc.links is not None
    # The personal link serves names: it names this coordinator (the download checks they still
    # are one) and goes only to their 1:1 chat, never to a group where anyone could open it.
    if ctx.turn.conversation_kind == "personal":
        where: str | None = ctx.turn.conversation_id
    else:
        where = (await svc.sessions.personal_conversations([me.user_id])).get(me.user_id)
    personal = where is not None
    url = svc.links.export(network.id, start, end, fmt, me.user_id if personal else "", ctx.lang)
    await svc.audit.record(
        actor_id=me.user_id,
        action="network.export",
        subject=f"network:{network.id}",
        details={"format": fmt, "personal": personal},
        at=ctx.clock.now(),
    )
    title = ctx.tr._("{network}: export", network=network.name)
    lines = [
        ctx.tr._("Per-session totals and per-organisation counts, with participants' names for coordinators.")
        if personal
        else ctx.tr._("Per-session totals and per-organisation counts, without participants' names."),
        ctx.tr._("The link works for {hours} hours and only for this network.", hours=svc.links.hours),
    ]
    if not personal:
        lines.append(
            ctx.tr._(
                "For a file with participants' names, add Tapaamo as a personal app in Teams and "
                "ask again: names are sent only in your personal chat with Tapaamo."
            )
        )
    card = note_card(ctx.tr, title, lines)
    card["actions"] = [cards.open_url(ctx.tr._("Download {format}", format=fmt.upper()), url)]
    if where is None or where == ctx.turn.conversation_id:
        return [CardReply(card)]
    await svc.notifier.post(where, f"export:{network.id}:{ctx.turn.activity_id}", card=card)
    return [
        TextReply(
            ctx.tr._(
                "I sent the export of {network} to you in our personal chat: it has participants' names.",
                network=network.name,
            )
        )
    ]


def register(router: Router) -> None:
    router.command(
        Command(
            name="here",
            aliases={"en": ("here",), "fi": ("paikalla",), "sv": ("närvarande",)},
            handler=here_command,
            summary=N_("Check in to the session running now (from 15 minutes before it starts)."),
        )
    )
    router.command(
        Command(
            name="report",
            aliases={"en": ("report",), "fi": ("raportti",), "sv": ("rapport",)},
            handler=report_command,
            summary=N_("A network's participation: sessions, participants, new and returning, roles."),
            usage={
                "en": "report NAME [12 months]",
                "fi": "raportti NIMI [12 kk]",
                "sv": "rapport NAMN [12 mån]",
            },
            coordinator_only=True,
        )
    )
    router.command(
        Command(
            name="export",
            aliases={"en": ("export",), "fi": ("vie",), "sv": ("exportera",)},
            handler=export_command,
            summary=N_("Download a network's participation as CSV or Excel, e.g. for a CRM."),
            usage={
                "en": "export NAME [csv|xlsx]",
                "fi": "vie NIMI [csv|xlsx]",
                "sv": "exportera NAMN [csv|xlsx]",
            },
            coordinator_only=True,
        )
    )
    router.command(
        Command(
            name="attendance",
            aliases={"en": ("attendance",), "fi": ("osallistujat",), "sv": ("deltagare",)},
            handler=attendance_command,
            summary=N_("Correct who took part in a session."),
            usage={
                "en": "attendance #12 add|remove @person",
                "fi": "osallistujat #12 lisää|poista @henkilö",
                "sv": "deltagare #12 lägg|ta @person",
            },
            coordinator_only=True,
        )
    )
    router.command(
        Command(
            name="attach",
            aliases={"en": ("attach",), "fi": ("liitä",), "sv": ("koppla",)},
            handler=attach_command,
            summary=N_("Attach this chat's unmatched Teams meeting to a session."),
            usage={"en": "attach #12", "fi": "liitä #12", "sv": "koppla #12"},
            coordinator_only=True,
        )
    )
    router.action("session.checkin", CheckinPayload, checkin_action)


async def on_meeting_event(
    svc: Services,
    now: datetime,
    *,
    name: str,
    event_key: str,
    conversation_id: str,
    meeting_id: str | None,
    join_url: str | None,
    at: datetime | None,
    members: Sequence[Member],
    payload: dict[str, Any],
) -> None:
    """A Teams meeting event: start/end mark the session held; joins and leaves go to the ledger."""
    when = at or now
    if name in ("meetingStart", "meetingEnd"):
        session = await svc.ledger.meeting_event(
            event_key=event_key,
            conversation_id=conversation_id,
            name=name,
            at=when,
            meeting_id=meeting_id,
            join_url=join_url,
            payload=payload,
        )
    else:
        session = await svc.ledger.participants(
            event_key=event_key,
            conversation_id=conversation_id,
            meeting_id=meeting_id,
            members=members,
            at=when,
            joined=name == "participantJoin",
        )
    if session is None:
        log.info("meeting event %s kept unmatched", name, extra={"conversation": conversation_id})
