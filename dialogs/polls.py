"""Feedback polls: the one-tap poll card, answers, results like the survey's (Lkm, %), settings."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dialogs import cards
from dialogs.args import split_args
from dialogs.common import MissingParts, person, services
from dialogs.i18n import N_, Catalogs, Translator
from dialogs.router import Command, Context, Router
from dialogs.services import Services
from dialogs.session_cards import note_card, when_text
from dialogs.turn import ActionResult, CardReply, Reply, Turn
from domain.networks import Network, fold
from domain.participation import participant_key
from domain.polls import (
    DONT_KNOW,
    OPTION_LABELS,
    OPTIONS,
    POLL_CLOSE,
    POLL_OPENED,
    QUESTION_TEXTS,
    SCALE,
    BadVote,
    NoPoll,
    NotThisConversation,
    Poll,
    PollClosed,
    QuestionResult,
    check_home,
)
from domain.sessions import Session, parse_session_ref

log = logging.getLogger(__name__)

CLOSE_WORDS = {"close", "sulje", "stäng", "stang"}
COMMENT_WORDS = {"comment", "comments", "kommentti", "kommentit", "kommentar", "kommentarer"}


class VotePayload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    poll: int
    q: str = Field(max_length=32)
    o: int


class PollPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    poll: int


class CommentPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    poll: int
    comment: str = Field(default="", max_length=5000)


def user_key(turn: Turn) -> str:
    return participant_key(turn.user.aad_id, turn.user.id)


def poll_card(
    tr: Translator,
    network: Network,
    session: Session,
    poll: Poll,
    *,
    mine: dict[str, int] | None = None,
    live: Sequence[QuestionResult] = (),
) -> dict[str, Any]:
    """The poll as everyone sees it; with ``mine``, as one voter sees their own answers."""
    body: list[cards.Element] = [
        {"type": "TextBlock", "text": network.name, "weight": "Bolder", "size": "Small", "isSubtle": True},
        cards.title(tr._("How was the session?")),
        cards.text(
            when_text(tr, session.starts_at, network.timezone)
            + (f" \u2013 {session.topic}" if session.topic else ""),
            subtle=True,
        ),
    ]
    live_by_question = {r.question: r for r in live}
    for question in poll.questions:
        body.append(
            {"type": "TextBlock", "text": tr._(QUESTION_TEXTS[question]), "wrap": True, "weight": "Bolder"}
        )
        chosen = (mine or {}).get(question)
        buttons = []
        for option in OPTIONS:
            label = (
                tr._(OPTION_LABELS[option])
                if option == DONT_KNOW
                else f"{option} {tr._(OPTION_LABELS[option])}"
            )
            button = cards.execute(label, "poll.vote", {"poll": poll.id, "q": question, "o": option})
            if chosen == option:
                button["style"] = "positive"
                button["title"] = "\u2714 " + label
            buttons.append(button)
        body.append({"type": "ActionSet", "actions": buttons})
        if chosen is not None:
            body.append(
                cards.text(
                    tr._(
                        "Your answer: {answer}. You can change it until the poll closes.",
                        answer=tr._(OPTION_LABELS[chosen]),
                    ),
                    subtle=True,
                    size="Small",
                )
            )
        result = live_by_question.get(question)
        if result is not None and result.shown:
            body.append(
                cards.text(
                    tr.n_("{n} answer so far", "{n} answers so far", result.answers),
                    subtle=True,
                    size="Small",
                )
            )
    closes = tr.datetime(poll.closes_at, network.timezone, "d.M. HH:mm")
    body.append(
        cards.text(
            tr._("Anonymous: nobody sees who answered what. The poll closes {when}.", when=closes),
            subtle=True,
            size="Small",
        )
    )
    actions: list[cards.Element] = []
    if poll.comments:
        body.append(
            {
                "type": "Input.Text",
                "id": "comment",
                "label": tr._("Comment (optional, anonymous)"),
                "isMultiline": True,
                "maxLength": 1000,
            }
        )
        actions.append(cards.execute(tr._("Send comment"), "poll.comment", {"poll": poll.id}))
    refresh = {"action": {"type": "Action.Execute", "verb": "poll.view", "data": {"poll": poll.id}}}
    return cards.card(
        body, lang=tr.lang, fallback=tr._("How was the session?"), actions=actions, refresh=refresh
    )


def results_card(
    tr: Translator,
    network: Network,
    session: Session,
    results: Sequence[QuestionResult],
    comments: Sequence[str],
) -> dict[str, Any]:
    body: list[cards.Element] = [
        {"type": "TextBlock", "text": network.name, "weight": "Bolder", "size": "Small", "isSubtle": True},
        cards.title(tr._("Feedback results")),
        cards.text(when_text(tr, session.starts_at, network.timezone), subtle=True),
    ]
    shown_any = False
    for result in results:
        body.append(
            {
                "type": "TextBlock",
                "text": tr._(QUESTION_TEXTS[result.question]),
                "wrap": True,
                "weight": "Bolder",
            }
        )
        if not result.shown:
            body.append(
                cards.text(
                    tr.n_(
                        "Too few answers to show ({n}; at least 5 are needed).",
                        "Too few answers to show ({n}; at least 5 are needed).",
                        result.answers,
                    )
                )
            )
            continue
        shown_any = True
        rows = [_row([tr._("Answer"), tr._("Count"), "%"], bold=True)]
        for option in (*SCALE, DONT_KNOW):
            label = (
                tr._(OPTION_LABELS[option])
                if option == DONT_KNOW
                else f"{option} {tr._(OPTION_LABELS[option])}"
            )
            rows.append(
                _row([label, tr.number(result.counts.get(option, 0)), tr.percent(result.share(option))])
            )
        body += rows
        summary = tr.n_("{n} answer", "{n} answers", result.answers)
        if result.mean is not None:
            summary += " \u00b7 " + tr._(
                "mean {mean} on the 1\u20135 scale", mean=tr.number(round(result.mean, 2), 2)
            )
        body.append(cards.text(summary, subtle=True))
    if shown_any and comments:
        body.append({"type": "TextBlock", "text": tr._("Comments"), "weight": "Bolder", "wrap": True})
        body += [cards.text(f"\u201c{comment}\u201d") for comment in comments[:30]]
    return cards.card(body, lang=tr.lang, fallback=tr._("Feedback results"))


def _row(cells: Sequence[str], bold: bool = False) -> cards.Element:
    widths = (4, 1, 1)
    return {
        "type": "ColumnSet",
        "spacing": "None",
        "columns": [
            {
                "type": "Column",
                "width": width,
                "items": [
                    {
                        "type": "TextBlock",
                        "text": cell,
                        "wrap": True,
                        "weight": "Bolder" if bold else "Default",
                    }
                ],
            }
            for cell, width in zip(cells, widths, strict=True)
        ],
    }


CONTEXT_SECONDS = 30.0  # how long a poll card may show a network's name or a session's time unchanged


async def _context(svc: Services, poll: Poll) -> tuple[Network, Session]:
    """The poll's network and session; kept briefly, since a vote burst asks for them per tap."""
    cached = svc.cache.get(("poll-context", poll.id))
    if cached is not None and cached[0] > time.monotonic():
        return cached[1], cached[2]
    session = await svc.planning.session(poll.session_id)
    network = await svc.planning.networks.get(poll.network_id)
    assert network is not None
    if len(svc.cache) > 1000:
        svc.cache.clear()
    svc.cache[("poll-context", poll.id)] = (time.monotonic() + CONTEXT_SECONDS, network, session)
    return network, session


async def personal_poll(
    ctx: Context, poll: Poll, closed_notice: bool = False, mine: dict[str, int] | None = None
) -> dict[str, Any]:
    svc = services(ctx)
    network, session = await _context(svc, poll)
    tr = ctx.for_lang(network.lang)
    if not poll.is_open:
        results = await svc.feedback.results(poll)
        card = results_card(tr, network, session, results, await svc.feedback.store.comments(poll.id))
        if closed_notice:
            card["body"].insert(
                1,
                {
                    "type": "TextBlock",
                    "text": tr._(PollClosed.message_id),
                    "wrap": True,
                    "color": "Attention",
                },
            )
        return card
    if mine is None:
        mine = await svc.feedback.mine(poll, user_key(ctx.turn))
    live = await svc.feedback.results(poll) if svc.poll_live_counts else []
    return poll_card(tr, network, session, poll, mine=mine, live=live)


async def vote_action(ctx: Context, payload: VotePayload) -> ActionResult:
    svc = services(ctx)
    try:
        poll = await svc.feedback.poll(payload.poll)
        network, _ = await _context(svc, poll)
        check_home(network.home_conversation_id, ctx.turn.conversation_id)
        poll = await svc.feedback.vote(poll, user_key(ctx.turn), payload.q, payload.o)
    except PollClosed:
        closed = await svc.feedback.poll(payload.poll)
        return ActionResult(card=await personal_poll(ctx, closed, closed_notice=True))
    except (BadVote, NotThisConversation) as refused:
        log.warning(
            "refused a vote for poll %s: %s",
            payload.poll,
            type(refused).__name__,
            extra={"activity_id": ctx.turn.activity_id, "conversation": ctx.turn.conversation_id},
        )
        raise
    # With one question the voter's answers are known: the one just given.
    mine = {payload.q: payload.o} if len(poll.questions) == 1 else None
    return ActionResult(card=await personal_poll(ctx, poll, mine=mine))


async def view_action(ctx: Context, payload: PollPayload) -> ActionResult:
    poll = await services(ctx).feedback.poll(payload.poll)
    return ActionResult(card=await personal_poll(ctx, poll))


async def comment_action(ctx: Context, payload: CommentPayload) -> ActionResult:
    svc = services(ctx)
    network, _ = await _context(svc, await svc.feedback.poll(payload.poll))
    try:
        check_home(network.home_conversation_id, ctx.turn.conversation_id)
    except NotThisConversation:
        log.warning(
            "refused a comment for poll %s from another conversation",
            payload.poll,
            extra={"activity_id": ctx.turn.activity_id, "conversation": ctx.turn.conversation_id},
        )
        raise
    poll = await svc.feedback.comment(payload.poll, user_key(ctx.turn), payload.comment)
    return ActionResult(card=await personal_poll(ctx, poll))


async def poll_command(ctx: Context, args: str) -> Sequence[Reply]:
    tokens = split_args(args)
    if not tokens:
        raise MissingParts(usage={"en": "poll #12", "fi": "kysely #12", "sv": "enkät #12"}[ctx.lang])
    svc = services(ctx)
    session = await svc.planning.session(parse_session_ref(tokens[0]))
    network = await svc.planning.networks.get(session.network_id)
    assert network is not None
    svc.planning.require_coordinator(network, person(ctx.turn))
    if len(tokens) > 1 and fold(tokens[1]) in CLOSE_WORDS:
        poll = await svc.feedback.close_now(session.id)
        text = ctx.tr._("The poll of session #{session} closes now; its results follow.", session=session.id)
        return [CardReply(note_card(ctx.tr, ctx.tr._("Feedback poll"), [text]))]
    poll = await svc.feedback.open(session.id)
    return [
        CardReply(
            note_card(
                ctx.tr,
                ctx.tr._("Feedback poll"),
                [
                    ctx.tr._(
                        "The poll of session #{session} is posted in the network's conversation; "
                        "it closes {when}.",
                        session=session.id,
                        when=ctx.tr.datetime(poll.closes_at, network.timezone, "d.M. HH:mm"),
                    )
                ],
            )
        )
    ]


async def results_command(ctx: Context, args: str) -> Sequence[Reply]:
    tokens = split_args(args)
    if not tokens:
        raise MissingParts(usage={"en": "results #12", "fi": "tulokset #12", "sv": "resultat #12"}[ctx.lang])
    svc = services(ctx)
    session_id = parse_session_ref(tokens[0])
    poll = await svc.feedback.store.for_session(session_id)
    if poll is None:
        raise NoPoll(session=session_id)
    network, session = await _context(svc, poll)
    if poll.is_open:
        return [
            CardReply(
                note_card(
                    ctx.tr,
                    ctx.tr._("Feedback results"),
                    [
                        ctx.tr._(
                            "The poll is still open; results are shown when it closes {when}.",
                            when=ctx.tr.datetime(poll.closes_at, network.timezone, "d.M. HH:mm"),
                        )
                    ],
                )
            )
        ]
    results = await svc.feedback.results(poll)
    return [
        CardReply(results_card(ctx.tr, network, session, results, await svc.feedback.store.comments(poll.id)))
    ]


async def questions_command(ctx: Context, args: str) -> Sequence[Reply]:
    usage = {
        "en": "questions NAME work municipality communication [comment]",
        "fi": "kysymykset NIMI työ kunta viestintä [kommentti]",
        "sv": "frågor NAMN arbete kommun kommunikation [kommentar]",
    }
    tokens = split_args(args)
    if not tokens:
        raise MissingParts(usage=usage[ctx.lang])
    svc = services(ctx)
    network = await svc.planning.find(tokens[0])
    svc.planning.require_coordinator(network, person(ctx.turn))
    if len(tokens) == 1:
        # only the name: the questions asked now, and how to change them
        settings = await svc.feedback.store.settings(network.id)
    else:
        words = [w for w in tokens[1:] if w.casefold() not in COMMENT_WORDS]
        comments = len(words) != len(tokens) - 1
        settings = await svc.feedback.set_questions(
            network.id, [w for part in words for w in part.split(",")], comments, ctx.lang
        )
    lines = [ctx.tr._(QUESTION_TEXTS[q]) for q in settings.questions]
    if settings.comments:
        lines.append(ctx.tr._("With an optional anonymous comment."))
    card = note_card(ctx.tr, ctx.tr._("Feedback questions of {network}", network=network.name), lines)
    if len(tokens) == 1:
        card["body"].append(
            cards.text(ctx.tr._("To change them: {usage}", usage=usage[ctx.lang]), subtle=True, size="Small")
        )
    return [CardReply(card)]


def register(router: Router) -> None:
    router.command(
        Command(
            name="poll",
            aliases={"en": ("poll",), "fi": ("kysely",), "sv": ("enkät",)},
            handler=poll_command,
            summary=N_("Open a session's feedback poll now (it also opens by itself after the session)."),
            usage={"en": "poll #12", "fi": "kysely #12", "sv": "enkät #12"},
            coordinator_only=True,
        )
    )
    router.command(
        Command(
            name="results",
            aliases={"en": ("results",), "fi": ("tulokset",), "sv": ("resultat",)},
            handler=results_command,
            summary=N_("A closed poll's results: count and percent per answer."),
            usage={"en": "results #12", "fi": "tulokset #12", "sv": "resultat #12"},
        )
    )
    router.command(
        Command(
            name="questions",
            aliases={"en": ("questions",), "fi": ("kysymykset",), "sv": ("frågor",)},
            handler=questions_command,
            summary=N_("Choose a network's feedback questions (up to three) and an optional comment."),
            usage={
                "en": "questions NAME work municipality [comment]",
                "fi": "kysymykset NIMI työ kunta [kommentti]",
                "sv": "frågor NAMN arbete kommun [kommentar]",
            },
            coordinator_only=True,
        )
    )
    router.action("poll.vote", VotePayload, vote_action)
    router.action("poll.view", PollPayload, view_action)
    router.action("poll.comment", CommentPayload, comment_action)


class PollJobs:
    """Posting a poll card, and closing a poll: results posted, poll card turned into them."""

    def __init__(self, services: Services, catalogs: Catalogs) -> None:
        self.svc = services
        self.catalogs = catalogs

    def handlers(self) -> dict[str, Any]:
        return {POLL_OPENED: self.post, POLL_CLOSE: self.close}

    async def post(self, payload: dict[str, Any]) -> None:
        poll = await self.svc.feedback.poll(int(payload["poll_id"]))
        network, session = await _context(self.svc, poll)
        if not poll.is_open or not network.home_conversation_id:
            return
        card = poll_card(self.catalogs[network.lang], network, session, poll)
        await self.svc.notifier.post(network.home_conversation_id, f"poll:{poll.id}", card=card)

    async def close(self, payload: dict[str, Any]) -> None:
        poll = await self.svc.feedback.poll(int(payload["poll_id"]))
        await self.svc.feedback.close(poll.id)  # a repeated close changes nothing
        network, session = await _context(self.svc, poll)
        if not network.home_conversation_id:
            return
        tr = self.catalogs[network.lang]
        results = await self.svc.feedback.results(poll)
        card = results_card(tr, network, session, results, await self.svc.feedback.store.comments(poll.id))
        await self.svc.notifier.update(network.home_conversation_id, f"poll:{poll.id}", card)
        await self.svc.notifier.post(network.home_conversation_id, f"poll-results:{poll.id}", card=card)
