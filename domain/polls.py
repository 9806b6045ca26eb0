"""One-click feedback polls after each session: anonymous, results as count and percent.

A vote row holds the poll, the question, the option and ``voter_key = HMAC(poll secret, user)``,
never the user. When the poll closes its secret is deleted and every voter key is replaced by a
random one, so nobody, not even someone with the database, can link an answer to a person.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from domain.clock import Clock
from domain.errors import UserError
from domain.jobs import NewJob
from domain.networks import bare_conversation_id, fold
from domain.sessions import UnknownSession

if TYPE_CHECKING:  # the ports import this module's types
    from domain.ports import JobStore, PollStore, SessionStore

DONT_KNOW = 0
SCALE = (1, 2, 3, 4, 5)
OPTIONS = (*SCALE, DONT_KNOW)
MIN_SHOWN = 5  # smaller groups are not shown: a handful of answers could identify people
MAX_QUESTIONS = 3
MAX_COMMENT = 1000

# Question ids and their English wording (the catalogs hold fi and sv; seed 000's survey).
QUESTION_TEXTS: dict[str, str] = {
    "work": "How useful was this session for your work?",
    "municipality": "How useful was this session for your municipality?",
    "communication": "How would you rate the network's communication and flow of information?",
}
DEFAULT_QUESTIONS = ("work",)
# The words a coordinator may type for each question, in every language (matched fold()ed).
QUESTION_WORDS: dict[str, dict[str, str]] = {
    "en": {"work": "work", "municipality": "municipality", "communication": "communication"},
    "fi": {"work": "työ", "municipality": "kunta", "communication": "viestintä"},
    "sv": {"work": "arbete", "municipality": "kommun", "communication": "kommunikation"},
}
_QUESTION_BY_WORD = {
    fold(word): question for words in QUESTION_WORDS.values() for question, word in words.items()
}
OPTION_LABELS: dict[int, str] = {
    1: "Very poorly",
    2: "Fairly poorly",
    3: "Neutral",
    4: "Fairly well",
    5: "Very well",
    DONT_KNOW: "Don't know",
}


class PollStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Poll:
    id: int
    session_id: int
    network_id: int
    questions: tuple[str, ...]
    comments: bool
    status: PollStatus
    opened_at: datetime
    closes_at: datetime
    secret: bytes | None  # None once closed

    @property
    def is_open(self) -> bool:
        return self.status == PollStatus.OPEN and self.secret is not None


@dataclass(frozen=True, slots=True)
class QuestionResult:
    question: str
    answers: int
    counts: dict[int, int]  # option -> count (DONT_KNOW included)
    mean: float | None  # on the 1–5 scale, "don't know" excluded

    def share(self, option: int) -> float:
        return self.counts.get(option, 0) / self.answers if self.answers else 0.0

    @property
    def shown(self) -> bool:
        return self.answers >= MIN_SHOWN


@dataclass(frozen=True, slots=True)
class PollSettings:
    questions: tuple[str, ...] = DEFAULT_QUESTIONS
    comments: bool = False


class PollClosed(UserError):
    message_id = "This poll has closed. Thank you!"


class BadVote(UserError):
    message_id = "That answer is not one of this poll's options. Please use the latest card."


class NotThisConversation(UserError):
    message_id = (
        "That answer belongs to a poll of another conversation, so it was not stored. "
        "Please answer on the poll card in this conversation."
    )


class UnknownQuestion(UserError):
    message_id = "Questions can be: {questions} (at most three)."


class CommentTooLong(UserError):
    message_id = "A comment can have at most {max} characters."


class NoPoll(UserError):
    message_id = "Session #{session} has no feedback poll yet."


def new_secret() -> bytes:
    return secrets.token_bytes(32)


def voter_key(secret: bytes, user_key: str) -> str:
    """The voter's pseudonym in this poll; meaningless without the poll's secret."""
    return hmac.new(secret, user_key.encode(), hashlib.sha256).hexdigest()


def check_vote(poll: Poll, question: str, option: int) -> None:
    if not poll.is_open:
        raise PollClosed()
    if question not in poll.questions or option not in OPTIONS:
        raise BadVote()


def check_home(home_conversation_id: str | None, conversation_id: str) -> None:
    """A poll is answered on its card, which is posted only in its network's home conversation:
    a vote from anywhere else carries another poll's id (a tampered or copied payload)."""
    if home_conversation_id is None or bare_conversation_id(conversation_id) != home_conversation_id:
        raise NotThisConversation()


def check_questions(words: Sequence[str], lang: str = "en") -> tuple[str, ...]:
    """Question ids from the words typed (work, työ, arbete, …); the error lists ``lang``'s words."""
    found = [_QUESTION_BY_WORD.get(fold(w)) for w in words if w.strip()]
    chosen = tuple(dict.fromkeys(q for q in found if q is not None))
    if not chosen or len(chosen) > MAX_QUESTIONS or None in found:
        raise UnknownQuestion(questions=", ".join(QUESTION_WORDS.get(lang, QUESTION_WORDS["en"]).values()))
    return chosen


def results(questions: Sequence[str], votes: Sequence[tuple[str, int]]) -> list[QuestionResult]:
    """Per question: answers, count per option, and the mean on the 1–5 scale."""
    out = []
    for question in questions:
        options = [option for q, option in votes if q == question]
        counts = Counter(options)
        scale = [option for option in options if option != DONT_KNOW]
        out.append(
            QuestionResult(
                question=question,
                answers=len(options),
                counts={option: counts.get(option, 0) for option in OPTIONS},
                mean=sum(scale) / len(scale) if scale else None,
            )
        )
    return out


def closes_at(opened: datetime, hours: float) -> datetime:
    return opened + timedelta(hours=hours)


POLL_OPENED = "poll.opened"  # job: post the poll card
POLL_CLOSE = "poll.close"  # job: close, post results, update the poll card


class Feedback:
    """Opening, answering and closing a session's poll."""

    def __init__(
        self, store: PollStore, sessions: SessionStore, jobs: JobStore, clock: Clock, open_hours: float = 72.0
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.jobs = jobs
        self.clock = clock
        self.open_hours = open_hours

    async def open(self, session_id: int) -> Poll:
        """The session's poll, opened now unless it exists (one per session however often asked)."""
        existing = await self.store.for_session(session_id)
        if existing is not None:
            return existing
        session = await self.sessions.get(session_id)
        if session is None:
            raise UnknownSession(ref=f"#{session_id}")
        settings = await self.store.settings(session.network_id)
        now = self.clock.now()
        poll = await self.store.open(
            Poll(
                id=0,
                session_id=session.id,
                network_id=session.network_id,
                questions=settings.questions,
                comments=settings.comments,
                status=PollStatus.OPEN,
                opened_at=now,
                closes_at=closes_at(now, self.open_hours),
                secret=new_secret(),
            )
        )
        payload = {"poll_id": poll.id}
        await self.jobs.enqueue(NewJob(POLL_OPENED, payload, now, f"poll-post:{poll.id}"))
        await self.jobs.enqueue(NewJob(POLL_CLOSE, payload, poll.closes_at, f"poll-close:{poll.id}"))
        return poll

    async def poll(self, poll_id: int) -> Poll:
        poll = await self.store.get(poll_id)
        if poll is None:
            raise BadVote()
        return poll

    async def vote(self, poll_id: int | Poll, user_key: str, question: str, option: int) -> Poll:
        poll = poll_id if isinstance(poll_id, Poll) else await self.poll(poll_id)
        check_vote(poll, question, option)
        assert poll.secret is not None
        if not await self.store.vote(
            poll.id, question, voter_key(poll.secret, user_key), option, self.clock.now()
        ):
            raise PollClosed()
        return poll

    async def comment(self, poll_id: int, user_key: str, text: str) -> Poll:
        poll = await self.poll(poll_id)
        if not poll.is_open:
            raise PollClosed()
        if not poll.comments:
            raise BadVote()
        cleaned = text.strip()
        if len(cleaned) > MAX_COMMENT:
            raise CommentTooLong(max=MAX_COMMENT)
        if cleaned:
            assert poll.secret is not None
            if not await self.store.comment(
                poll.id, voter_key(poll.secret, user_key), cleaned, self.clock.now()
            ):
                raise PollClosed()
        return poll

    async def mine(self, poll: Poll, user_key: str) -> dict[str, int]:
        if not poll.is_open or poll.secret is None:
            return {}
        return await self.store.my_votes(poll.id, voter_key(poll.secret, user_key))

    async def results(self, poll: Poll) -> list[QuestionResult]:
        return results(poll.questions, await self.store.votes(poll.id))

    async def close_now(self, session_id: int) -> Poll:
        """A coordinator closes the session's poll before its time; the results follow at once."""
        poll = await self.store.for_session(session_id)
        if poll is None:
            raise NoPoll(session=session_id)
        payload = {"poll_id": poll.id}
        await self.jobs.enqueue(NewJob(POLL_CLOSE, payload, self.clock.now(), f"poll-close-now:{poll.id}"))
        return poll

    async def close(self, poll_id: int) -> bool:
        return await self.store.close(poll_id, self.clock.now())

    async def year_summary(self, network_id: int, start: datetime, end: datetime) -> tuple[float | None, int]:
        """The mean (1–5, "don't know" excluded) and number of answers of a network's polls in a period."""
        options = [o for _, o in await self.store.network_votes(network_id, start, end)]
        scale = [o for o in options if o != DONT_KNOW]
        return (sum(scale) / len(scale) if scale else None), len(options)

    async def set_questions(
        self, network_id: int, questions: Sequence[str], comments: bool, lang: str = "en"
    ) -> PollSettings:
        settings = PollSettings(check_questions(questions, lang), comments)
        await self.store.save_settings(network_id, settings)
        return settings
