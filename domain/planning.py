"""Use cases of networks and their sessions: what coordinators and participants can do.

Jobs are the only way anything is posted: a use case stores its facts and enqueues jobs with
dedupe keys, so that repeating it (a redelivered click, a retry after a crash) changes nothing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from domain.clock import Clock
from domain.errors import PastDate, UserError
from domain.jobs import NewJob
from domain.networks import (
    Cadence,
    Coordinator,
    DuplicateName,
    Lang,
    LastCoordinator,
    Network,
    NetworkEnded,
    NetworkKind,
    NetworkStatus,
    NotCoordinator,
    UnknownNetwork,
    UnknownNetworkSuggest,
    bare_conversation_id,
    check_name,
    check_text,
    fold,
    slugify,
)
from domain.participation import ENDED, ENDED_DELAY
from domain.ports import AuditLog, JobStore, NetworkStore, SessionStore
from domain.sessions import (
    HOME_REMINDER_LEAD,
    PERSONAL_REMINDER_LEAD,
    SERIES_HORIZON,
    Draft,
    DraftGone,
    DraftStatus,
    NewSession,
    Person,
    Series,
    Session,
    SessionCancelled,
    SessionOver,
    SessionStatus,
    UnknownSession,
    announce_due,
)
from domain.stewardship import END

# Job kinds, handled in dialogs/session_jobs.py
ANNOUNCE = "session.announce"
REMIND_HOME = "session.remind_home"
REMIND_PERSONAL = "session.remind_personal"
UPDATE_CARD = "session.update_card"
NOTIFY_CHANGE = "session.notify_change"
CARD_UPDATE_WINDOW = timedelta(seconds=2)


class NoHome(UserError):
    message_id = (
        "Create networks in a team channel or a group chat: that is where its sessions are announced."
    )


class NotASeries(UserError):
    message_id = "{ref} is a single session, not part of a series: cancel it with \u201ccancel {ref}\u201d."


class AlreadyEnded(UserError):
    message_id = "{network} has already ended."


class EndedNetworksName(UserError):
    message_id = (
        "There is already a network called \u201c{name}\u201d; it has ended. Please choose another name."
    )


@dataclass(frozen=True, slots=True)
class Confirmed:
    sessions: Sequence[Session]
    series: Series | None
    first_time: bool  # False when the draft had been confirmed before (a repeated click)
    paused: bool = False  # the network is paused: nothing is announced until it resumes


class Planning:
    """Networks, drafts, sessions, RSVPs and follows, over the stores and the job queue."""

    def __init__(
        self,
        networks: NetworkStore,
        sessions: SessionStore,
        jobs: JobStore,
        audit: AuditLog,
        clock: Clock,
        default_timezone: str = "Europe/Helsinki",
        ended_delay: timedelta = ENDED_DELAY,
        home_reminder_lead: timedelta = HOME_REMINDER_LEAD,
    ) -> None:
        self.networks = networks
        self.sessions = sessions
        self.jobs = jobs
        self.audit = audit
        self.clock = clock
        self.default_timezone = default_timezone
        self.ended_delay = ended_delay  # after the scheduled end: the poll opens unless meetingEnd came
        self.home_reminder_lead = home_reminder_lead  # the reminder in the home chat, before the start

    # --- networks -------------------------------------------------------------------------

    async def find(self, name: str, *, include_ended: bool = False) -> Network:
        """The network called ``name`` (case and accents ignored), or an error suggesting one.

        Its present name wins over another network's stored slug (the first name of a network
        renamed since), so that a rename never makes a command reach the wrong network. An ended
        network found by name is NetworkEnded unless ``include_ended``.
        """
        wanted = fold(name.strip().strip("\"'\u201c\u201d"))
        every = await self.networks.all()
        found = _named(every, wanted)
        if found is not None:
            if found.status == NetworkStatus.ENDED and not include_ended:
                raise NetworkEnded(network=found.name)
            return found
        networks = [n for n in every if include_ended or n.status != NetworkStatus.ENDED]
        starting = [n for n in networks if fold(n.name).startswith(wanted)] if wanted else []
        if len(starting) == 1:
            return starting[0]
        close = difflib.get_close_matches(wanted, [fold(n.name) for n in networks], n=1, cutoff=0.6)
        if close:
            suggestion = next(n.name for n in networks if fold(n.name) == close[0])
            raise UnknownNetworkSuggest(name=name, suggestion=suggestion)
        raise UnknownNetwork(name=name)

    async def create(
        self,
        *,
        name: str,
        cadence: Cadence,
        lang: Lang,
        creator: Person,
        home_conversation_id: str | None,
        ends_on: date | None = None,
        join_text: str = "",
    ) -> Network:
        if not home_conversation_id:
            raise NoHome()
        now = self.clock.now()
        every = await self.networks.all()
        self._check_free(every, check_name(name), None)
        network = Network(
            id=0,
            slug=_free_slug(every, slugify(check_name(name))),
            name=check_name(name),
            lang=lang,
            cadence=cadence,
            kind=NetworkKind.FIXED_TERM if ends_on else NetworkKind.CONTINUOUS,
            status=NetworkStatus.ACTIVE,
            timezone=self.default_timezone,
            created_at=now,
            # A channel message's conversation is its thread (";messageid=…"); the home is the
            # channel itself, so that announcements are new posts rather than replies in that thread.
            home_conversation_id=bare_conversation_id(home_conversation_id),
            ends_on=ends_on,
            join_text=check_text(join_text),
        )
        created = await self.networks.add(network, Coordinator(creator.user_id, creator.name, creator.aad_id))
        await self._audit(creator, "network.create", created, {"cadence": cadence.code(), "lang": lang})
        return created

    def require_coordinator(self, network: Network, person: Person) -> None:
        if not network.is_coordinator(person.user_id, person.aad_id):
            raise NotCoordinator(network=network.name, coordinators=network.coordinator_names())

    async def edit(self, network: Network, person: Person, **changes: object) -> Network:
        self.require_coordinator(network, person)
        if network.status == NetworkStatus.ENDED:
            raise NetworkEnded(network=network.name)
        updated = replace(network, **changes)  # type: ignore[arg-type]
        if "name" in changes:
            updated = replace(updated, name=check_name(str(changes["name"])))
            self._check_free(await self.networks.all(), updated.name, network.id)
        if "ends_on" in changes:
            # An end date makes the network fixed-term (it ends by itself then); no date, continuous.
            kind = NetworkKind.FIXED_TERM if updated.ends_on else NetworkKind.CONTINUOUS
            updated = replace(updated, kind=kind)
        await self.networks.save(updated)
        await self._audit(person, "network.edit", network, {k: str(v) for k, v in changes.items()})
        return updated

    async def set_status(self, network: Network, person: Person, status: NetworkStatus) -> Network:
        self.require_coordinator(network, person)
        if network.status == NetworkStatus.ENDED:
            raise AlreadyEnded(network=network.name)
        updated = network.with_status(status)
        await self.networks.save(updated)
        if status == NetworkStatus.ENDED:
            for session in await self.sessions.for_network(network.id, start=self.clock.now()):
                if session.status == SessionStatus.SCHEDULED:
                    await self._cancel(session, reason="ended")
            # The rest as on a fixed-term network's end date: the home conversation is told and
            # the participants' personal data purged (one job per network, whoever ends it).
            await self.jobs.enqueue(end_job(network.id, self.clock.now()))
        if status == NetworkStatus.ACTIVE and network.status == NetworkStatus.PAUSED:
            await self.announce_missed(network)
        await self._audit(person, f"network.{status.value}", network, None)
        return updated

    async def end_by_itself(self, network: Network) -> Network:
        """A fixed-term network reaches its end date: end it as its coordinators would."""
        if network.status == NetworkStatus.ENDED:
            return network
        updated = network.with_status(NetworkStatus.ENDED)
        await self.networks.save(updated)
        for session in await self.sessions.for_network(network.id, start=self.clock.now()):
            if session.status == SessionStatus.SCHEDULED:
                await self._cancel(session, reason="ended")
        await self.audit.record(
            actor_id="tapaamo",
            action="network.ended",
            subject=f"network:{network.id}",
            details=None,
            at=self.clock.now(),
        )
        return updated

    def _check_free(self, networks: Sequence[Network], name: str, own_id: int | None) -> None:
        """DuplicateName when ``name`` reads as another network's present name (punctuation aside).

        Only present names count: a renamed network's first name (kept as its slug, for its
        links) is free again, and find prefers a present name over a slug."""
        key = _words(name)
        for other in networks:
            if other.id != own_id and _words(other.name) == key:
                if other.status == NetworkStatus.ENDED:
                    raise EndedNetworksName(name=other.name)
                raise DuplicateName(name=other.name)

    async def add_coordinator(self, network: Network, person: Person, new: Person) -> bool:
        self.require_coordinator(network, person)
        added = await self.networks.add_coordinator(
            network.id, Coordinator(new.user_id, new.name, new.aad_id), self.clock.now()
        )
        await self._audit(person, "coordinator.add", network, {"user": new.user_id})
        return added

    async def remove_coordinator(self, network: Network, person: Person, old: Person) -> bool:
        self.require_coordinator(network, person)
        if not network.is_coordinator(old.user_id, old.aad_id):
            return False
        if not await self.networks.remove_coordinator(network.id, old.user_id):
            raise LastCoordinator(network=network.name, name=old.name or old.user_id)
        await self._audit(person, "coordinator.remove", network, {"user": old.user_id})
        return True

    # --- drafts and confirmation ----------------------------------------------------------

    async def draft(
        self,
        network: Network,
        person: Person,
        *,
        starts_at: datetime,
        duration: timedelta,
        topic: str,
        join_url: str | None,
        rrule: str | None = None,
        until: date | None = None,
        count: int | None = None,
        warnings: Sequence[str] = (),
    ) -> Draft:
        self.require_coordinator(network, person)
        if network.status == NetworkStatus.ENDED:
            raise NetworkEnded(network=network.name)
        return await self.sessions.add_draft(
            Draft(
                id=0,
                network_id=network.id,
                requested_by=person.user_id,
                starts_at=starts_at,
                duration=duration,
                topic=topic,
                join_url=join_url,
                rrule=rrule,
                until=until,
                count=count,
                status=DraftStatus.PENDING,
                created_at=self.clock.now(),
                warnings=tuple(warnings),
            )
        )

    async def confirm(self, draft_id: int, person: Person) -> Confirmed:
        """Turn a draft into its session(s) and enqueue their announcement and reminders.

        Each step is repeatable: the series and sessions are keyed by the draft, the jobs by the
        session, so a second click or a crash half-way and a retry end in the same state.
        """
        draft = await self.sessions.get_draft(draft_id)
        if draft is None or draft.status == DraftStatus.DISCARDED:
            raise DraftGone()
        network = await self._network(draft.network_id)
        self.require_coordinator(network, person)
        first_time = draft.status == DraftStatus.PENDING
        if first_time:
            # The card may have waited: check again what was checked when the draft was made.
            if network.status == NetworkStatus.ENDED:
                raise NetworkEnded(network=network.name)
            if draft.starts_at <= self.clock.now():
                raise PastDate(when=draft.starts_at.astimezone(ZoneInfo(network.timezone)))
        series = None
        if draft.rrule:
            series = await self.sessions.add_series(
                Series(
                    id=0,
                    network_id=network.id,
                    draft_id=draft.id,
                    rrule=draft.rrule,
                    first_start=draft.starts_at,
                    duration=draft.duration,
                    topic=draft.topic,
                    join_url=draft.join_url,
                    until=draft.until,
                    count=draft.count,
                    timezone=network.timezone,
                )
            )
            sessions = await self.extend_series(series)
        else:
            new = NewSession(
                network_id=network.id,
                starts_at=draft.starts_at,
                ends_at=draft.starts_at + draft.duration,
                topic=draft.topic,
                join_url=draft.join_url,
                draft_id=draft.id,
            )
            sessions = await self.sessions.add_sessions([new], self.clock.now())
            await self._enqueue_for(sessions, first=True)
        if await self.sessions.set_draft_status(draft.id, DraftStatus.PENDING, DraftStatus.CONFIRMED):
            await self._audit(person, "session.confirm", network, {"draft": draft.id})
        return Confirmed(sessions, series, first_time, paused=network.status == NetworkStatus.PAUSED)

    async def discard(self, draft_id: int, person: Person) -> Draft:
        draft = await self.sessions.get_draft(draft_id)
        if draft is None:
            raise DraftGone()
        self.require_coordinator(await self._network(draft.network_id), person)
        if not await self.sessions.set_draft_status(draft.id, DraftStatus.PENDING, DraftStatus.DISCARDED):
            raise DraftGone()
        return draft

    async def extend_series(self, series: Series) -> Sequence[Session]:
        """Make the series' sessions up to the horizon (idempotent), with their jobs."""
        now = self.clock.now()
        zone = ZoneInfo(series.timezone)
        local_first = series.first_start.astimezone(zone).replace(tzinfo=None)
        rule = rrulestr(_rrule_text(series), dtstart=local_first)
        horizon = (now + SERIES_HORIZON).astimezone(zone).replace(tzinfo=None)
        moments = rule.between(local_first, horizon, inc=True)
        if local_first <= horizon and local_first not in moments:
            moments = [local_first, *moments]  # RFC 5545: the first start is always an occurrence
            if series.count:
                moments = moments[: series.count]
        starts = [moment.replace(tzinfo=zone) for moment in moments]
        new = [
            NewSession(
                network_id=series.network_id,
                starts_at=start,
                ends_at=start + series.duration,
                topic=series.topic,
                join_url=series.join_url,
                series_id=series.id,
            )
            for start in starts
            if start + series.duration > now
        ]
        sessions = await self.sessions.add_sessions(new, now)
        await self._enqueue_for(sessions, first=True)
        return sessions

    async def extend_all_series(self) -> int:
        made = 0
        for series in await self.sessions.active_series():
            network = await self.networks.get(series.network_id)
            if network and network.status == NetworkStatus.ACTIVE:
                made += len(await self.extend_series(series))
        return made

    async def announce_missed(self, network: Network) -> int:
        """On resume: announce the upcoming sessions whose announcement fell in the pause.

        The card is posted under the session's key, so a session announced before the pause is
        not announced again; those further ahead keep their own announce jobs."""
        now = self.clock.now()
        stamp = int(now.timestamp())
        jobs = [
            NewJob(ANNOUNCE, {"session_id": session.id}, now, f"announce:{session.id}:resumed:{stamp}")
            for session in await self.sessions.for_network(network.id, start=now)
            if session.status == SessionStatus.SCHEDULED
            and session.ends_at > now
            and announce_due(session.starts_at, now, first=False) <= now
        ]
        for job in jobs:
            await self.jobs.enqueue(job)
        return len(jobs)

    async def _enqueue_for(self, sessions: Sequence[Session], first: bool) -> None:
        now = self.clock.now()
        jobs: list[NewJob] = []
        for index, session in enumerate(sessions):
            if session.status != SessionStatus.SCHEDULED:
                continue
            payload = {"session_id": session.id}
            announce_at = announce_due(session.starts_at, now, first=first and index == 0)
            jobs.append(NewJob(ANNOUNCE, payload, announce_at, f"announce:{session.id}"))
            self_key = f"{session.id}:{int(session.starts_at.timestamp())}"
            home_at = session.starts_at - self.home_reminder_lead
            if home_at > now:
                jobs.append(NewJob(REMIND_HOME, payload, home_at, f"remind-home:{self_key}"))
            personal_at = session.starts_at - PERSONAL_REMINDER_LEAD
            if personal_at > now:
                jobs.append(NewJob(REMIND_PERSONAL, payload, personal_at, f"remind-personal:{self_key}"))
            # After the end (whether or not Teams sends meetingEnd): attendance report, feedback poll.
            jobs.append(NewJob(ENDED, payload, session.ends_at + self.ended_delay, f"ended:{self_key}"))
        # One transaction for them all where the store can (SqlJobStore.enqueue_many): the daily
        # extension re-enqueues every series' jobs up to the horizon, almost all already there.
        enqueue_many = getattr(self.jobs, "enqueue_many", None)
        if enqueue_many is not None:
            await enqueue_many(jobs)
            return
        for job in jobs:
            await self.jobs.enqueue(job)

    # --- sessions -------------------------------------------------------------------------

    async def session(self, session_id: int) -> Session:
        session = await self.sessions.get(session_id)
        if session is None:
            raise UnknownSession(ref=f"#{session_id}")
        return session

    async def cancel(self, session_id: int, person: Person) -> Session:
        session = await self.session(session_id)
        network = await self._network(session.network_id)
        self.require_coordinator(network, person)
        if session.status == SessionStatus.CANCELLED:
            return session
        if session.ends_at <= self.clock.now():
            raise SessionOver()
        cancelled = await self._cancel(session, reason="cancelled")
        await self._audit(person, "session.cancel", network, {"session": session.id})
        return cancelled

    async def cancel_series(self, session_id: int, person: Person) -> Sequence[Session]:
        """Cancel the series of a session: its coming sessions (each as a single cancel does) and
        every later one (none is made any more). Returns the sessions cancelled now."""
        session = await self.session(session_id)
        network = await self._network(session.network_id)
        self.require_coordinator(network, person)
        if session.series_id is None:
            raise NotASeries(ref=f"#{session.id}")
        now = self.clock.now()
        await self.sessions.cancel_series(session.series_id)
        cancelled = [
            await self._cancel(other, reason="cancelled")
            for other in await self.sessions.for_network(network.id, start=now)
            if other.series_id == session.series_id
            and other.status == SessionStatus.SCHEDULED
            and other.starts_at > now
        ]
        await self._audit(person, "series.cancel", network, {"series": session.series_id})
        return cancelled

    async def _cancel(self, session: Session, reason: str) -> Session:
        await self.sessions.set_status(session.id, SessionStatus.CANCELLED)
        stamp = int(session.starts_at.timestamp())
        for kind in ("remind-home", "remind-personal", "ended"):
            await self.jobs.cancel(f"{kind}:{session.id}:{stamp}")
        now = self.clock.now()
        payload = {"session_id": session.id}
        await self.jobs.enqueue(NewJob(UPDATE_CARD, payload, now, f"card:{session.id}:cancelled"))
        await self.jobs.enqueue(
            NewJob(NOTIFY_CHANGE, {**payload, "change": reason}, now, f"notify:{session.id}:cancelled")
        )
        return replace(session, status=SessionStatus.CANCELLED)

    async def move(self, session_id: int, person: Person, starts_at: datetime) -> Session:
        session = await self.session(session_id)
        network = await self._network(session.network_id)
        self.require_coordinator(network, person)
        if session.status == SessionStatus.CANCELLED:
            raise SessionCancelled()
        now = self.clock.now()
        if session.ends_at <= now:
            raise SessionOver()
        duration = session.ends_at - session.starts_at
        old_stamp = int(session.starts_at.timestamp())
        await self.sessions.move(session.id, starts_at, starts_at + duration)
        for kind in ("remind-home", "remind-personal", "ended"):
            await self.jobs.cancel(f"{kind}:{session.id}:{old_stamp}")
        moved = replace(session, starts_at=starts_at, ends_at=starts_at + duration)
        await self._enqueue_for([moved], first=False)
        stamp = int(starts_at.timestamp())
        payload = {"session_id": session.id}
        # Not yet announced: its announcement falls due for the new time (the card is posted once,
        # under the session's key, whichever of the two announce jobs runs first).
        due = announce_due(starts_at, now, first=False)
        await self.jobs.enqueue(NewJob(ANNOUNCE, payload, due, f"announce:{session.id}:{stamp}"))
        await self.jobs.enqueue(NewJob(UPDATE_CARD, payload, now, f"card:{session.id}:moved:{stamp}"))
        await self.jobs.enqueue(
            NewJob(NOTIFY_CHANGE, {**payload, "change": "moved"}, now, f"notify:{session.id}:moved:{stamp}")
        )
        await self._audit(
            person, "session.move", network, {"session": session.id, "to": starts_at.isoformat()}
        )
        return moved

    async def toggle_rsvp(self, session_id: int, person: Person) -> bool:
        """Coming if not yet, not coming if already; returns whether the person is now coming."""
        session = await self.session(session_id)
        if session.status == SessionStatus.CANCELLED:
            raise SessionCancelled()
        if session.ends_at <= self.clock.now():
            raise SessionOver()
        if await self.sessions.rsvp(session.id, person, self.clock.now()):
            coming = True
        else:
            await self.sessions.unrsvp(session.id, person.user_id)
            coming = False
        await self._card_changed(session)
        return coming

    async def set_rsvp(self, session_id: int, person: Person, coming: bool) -> bool:
        """Set (not toggle) a person's RSVP: a repeated click has no further effect."""
        session = await self.session(session_id)
        if session.status == SessionStatus.CANCELLED:
            raise SessionCancelled()
        if session.ends_at <= self.clock.now():
            raise SessionOver()
        if coming:
            changed = await self.sessions.rsvp(session.id, person, self.clock.now())
        else:
            changed = await self.sessions.unrsvp(session.id, person.user_id)
        if changed:
            await self._card_changed(session)
        return coming

    async def set_follow(self, network_id: int, person: Person, follow: bool) -> bool:
        network = await self._network(network_id)
        if follow:
            await self.sessions.follow(network.id, person, self.clock.now())
        else:
            await self.sessions.unfollow(network.id, person.user_id)
        return follow

    async def _card_changed(self, session: Session) -> None:
        # Clicks are coalesced into one card update per window, run when the window has closed
        # and reading the state then: a burst of RSVPs costs a few updates, never a stale count.
        now = self.clock.now()
        window = int(now.timestamp() // CARD_UPDATE_WINDOW.total_seconds())
        due = datetime.fromtimestamp((window + 1) * CARD_UPDATE_WINDOW.total_seconds(), tz=now.tzinfo)
        await self.jobs.enqueue(
            NewJob(UPDATE_CARD, {"session_id": session.id}, due, f"card:{session.id}:w{window}")
        )

    # --- helpers ---------------------------------------------------------------------------

    async def _network(self, network_id: int) -> Network:
        network = await self.networks.get(network_id)
        if network is None:
            raise UnknownNetwork(name=f"#{network_id}")
        return network

    async def _audit(
        self, person: Person, action: str, network: Network, details: dict[str, object] | None
    ) -> None:
        await self.audit.record(
            actor_id=person.user_id,
            action=action,
            subject=f"network:{network.id}",
            details=details,
            at=self.clock.now(),
        )


def end_job(network_id: int, now: datetime) -> NewJob:
    """The job that ends a network: tells its home, updates cards, purges personal data."""
    return NewJob(END, {"network_id": network_id}, now, f"end:{network_id}")


def _named(networks: Sequence[Network], wanted: str) -> Network | None:
    """The network whose name is ``wanted`` (folded), else whose name or slug reads as it."""
    for network in networks:
        if fold(network.name) == wanted:
            return network
    key = _words(wanted)
    for network in networks:
        if _words(network.name) == key:
            return network
    for network in networks:
        if network.slug == wanted:
            return network
    return None


def _words(name: str) -> str:
    """A name's words, folded, without punctuation: "Kaffe-med-Uffe" reads as "kaffe med uffe"."""
    return " ".join(re.findall(r"\w+", fold(name)))


def _free_slug(networks: Sequence[Network], slug: str) -> str:
    """``slug``, or ``slug-2``… when a renamed network keeps it for its links."""
    taken = {n.slug for n in networks}
    candidate, n = slug, 1
    while candidate in taken:
        n += 1
        candidate = f"{slug}-{n}"
    return candidate


def _rrule_text(series: Series) -> str:
    rule = series.rrule
    if series.until and "UNTIL=" not in rule:
        rule += f";UNTIL={series.until:%Y%m%d}T235959"
    if series.count and "COUNT=" not in rule:
        rule += f";COUNT={series.count}"
    return rule if rule.startswith("RRULE:") else f"RRULE:{rule}"
