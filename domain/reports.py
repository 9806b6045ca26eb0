"""What a network's report tells, the same in chat and on the report page.

One meaning of "held" for every report: a session that was not cancelled and has started by the
end of the period, with or without recorded attendance (most sessions leave no trace in Teams
events or check-ins); one that Teams reports started, or people checked in to, a few minutes
before its scheduled start counts too. The cadence watch and the yearly evaluation count the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from domain.networks import Network
from domain.participation import NetworkFigures, SessionFigures
from domain.polls import QUESTION_TEXTS, QuestionResult, results
from domain.sessions import SessionStatus

if TYPE_CHECKING:
    from domain.participation import Ledger
    from domain.polls import Feedback

UNKNOWN_ORGANISATION = "?"  # how the ledger's figures name a participation of no known organisation
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # before any network
PUBLIC_PAST_SESSIONS = 5  # past sessions whose counts a network's public page may show


def held_figures(figures: NetworkFigures, end: datetime) -> NetworkFigures:
    """The figures with every session of the period that has started by ``end`` (cancelled ones
    are never in the figures), each marked held, and ``sessions_held`` their number.

    ``f.held`` before this is the ledger's evidence (a meetingStart or attendance), which lets a
    session in its check-in window count once someone is there."""
    held = tuple(replace(f, held=True) for f in figures.sessions if f.starts_at <= end or f.held)
    return replace(figures, sessions=held, sessions_held=len(held))


def top_organisations(figures: NetworkFigures, limit: int = 5) -> list[tuple[str, int]]:
    """The organisations (e-mail domain or tenant) with the most participations in the figures'
    sessions, most first; participations of no known organisation are left out."""
    counts: Counter[str] = Counter()
    for session in figures.sessions:
        counts.update(session.by_organisation)
    counts.pop(UNKNOWN_ORGANISATION, None)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def question_results(votes: Sequence[tuple[str, int]]) -> list[QuestionResult]:
    """Per question asked (the standard questions first, then others by id), its distribution."""
    asked = {question for question, _ in votes}
    ordered = [q for q in QUESTION_TEXTS if q in asked] + sorted(asked - set(QUESTION_TEXTS))
    return results(ordered, votes)


@dataclass(frozen=True, slots=True)
class SessionLine:
    """One session of the period as the report lists it: held (with its figures) or cancelled."""

    starts_at: datetime
    figures: SessionFigures | None  # None: cancelled, not held


@dataclass(frozen=True, slots=True)
class NetworkReport:
    figures: NetworkFigures  # held sessions only, see held_figures
    latest: tuple[SessionLine, ...]  # newest first
    organisations: tuple[tuple[str, int], ...]
    feedback: tuple[QuestionResult, ...]  # of the period's closed polls


async def network_report(
    ledger: Ledger,
    feedback: Feedback | None,
    network: Network,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    strong_share: float = 0.5,
    recent_sessions: int = 10,
    latest: int = 5,
    organisations: int = 5,
) -> NetworkReport:
    """A network's report for a period: figures, the latest sessions held or cancelled, the top
    organisations and the feedback of polls that have closed (an open poll's answers stay hidden)."""
    until = min(end, now)
    figures = held_figures(
        await ledger.network_figures(
            network, start, end, strong_share=strong_share, recent_sessions=recent_sessions
        ),
        until,
    )
    lines = [SessionLine(f.starts_at, f) for f in figures.sessions]
    for session in await ledger.sessions.for_network(network.id, start=start, end=until):
        if session.status == SessionStatus.CANCELLED and start <= session.starts_at <= until:
            lines.append(SessionLine(session.starts_at, None))
    lines.sort(key=lambda line: line.starts_at, reverse=True)
    votes = await feedback.store.network_votes(network.id, start, end) if feedback is not None else []
    return NetworkReport(
        figures=figures,
        latest=tuple(lines[:latest]),
        organisations=tuple(top_organisations(figures, organisations)),
        feedback=tuple(question_results(list(votes))),
    )


async def public_counts(
    ledger: Ledger, network: Network, now: datetime, limit: int = PUBLIC_PAST_SESSIONS
) -> list[tuple[datetime, int]]:
    """(start, number of participants) of the network's latest held sessions, newest first: what
    its public page shows when the coordinators have turned counts on. Never a name."""
    figures = held_figures(await ledger.network_figures(network, EPOCH, now), now)
    return [(f.starts_at, f.participants) for f in reversed(figures.sessions[-limit:])]
