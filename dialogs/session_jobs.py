"""Job handlers of sessions: announcements, reminders, card updates, change notices.

Each takes the job's payload (ids only), reads the current state, and posts through the
Notifier under a key of its own, so that a retried job never posts twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from dialogs.i18n import Catalogs
from dialogs.services import Services
from dialogs.session_cards import when_text
from dialogs.sessions import shared_card
from dialogs.turn import lang_of_locale
from domain import planning
from domain.jobs import NewJob
from domain.networks import Network, NetworkStatus
from domain.participation import ATTENDANCE_DELAY, ATTENDANCE_FETCH, ATTENDANCE_RETRIES, ENDED
from domain.ports import AttendanceSource, DeliveryFailed, MeetingProvider, NoReportYet
from domain.sessions import Session, SessionStatus, meeting_external_id

log = logging.getLogger(__name__)

JobHandler = Callable[[dict[str, Any]], Awaitable[None]]


class SessionJobs:
    def __init__(
        self,
        services: Services,
        catalogs: Catalogs,
        attendance: AttendanceSource | None = None,
        meetings: MeetingProvider | None = None,
    ) -> None:
        self.svc = services
        self.catalogs = catalogs
        self.attendance = attendance
        self.meetings = meetings

    def handlers(self) -> Mapping[str, JobHandler]:
        return {
            planning.ANNOUNCE: self.announce,
            planning.REMIND_HOME: self.remind_home,
            planning.REMIND_PERSONAL: self.remind_personal,
            planning.UPDATE_CARD: self.update_card,
            planning.NOTIFY_CHANGE: self.notify_change,
            ENDED: self.ended,
            ATTENDANCE_FETCH: self.fetch_attendance,
        }

    async def ended(self, payload: dict[str, Any]) -> None:
        """After a session: fetch its attendance report when Graph is configured."""
        session = await self.svc.sessions.get(int(payload["session_id"]))
        if session is None or session.status == SessionStatus.CANCELLED:
            return
        await self.svc.feedback.open(session.id)  # one poll per session, however often this runs
        if self.attendance is not None and session.meeting_id:
            # Teams publishes the report some minutes after the meeting, so the fetch waits; while
            # there is none, it asks again after an hour, four and a day (other failures retry).
            await self.svc.jobs.enqueue(
                NewJob(
                    ATTENDANCE_FETCH,
                    {"session_id": session.id},
                    self.svc.planning.clock.now() + ATTENDANCE_DELAY,
                    f"attendance:{session.id}",
                )
            )

    async def fetch_attendance(self, payload: dict[str, Any]) -> None:
        session = await self.svc.sessions.get(int(payload["session_id"]))
        if session is None or self.attendance is None or not session.meeting_id:
            return
        try:
            records = await self.attendance.attendance_records(session.meeting_id)
        except NoReportYet:
            tries = int(payload.get("try", 0))
            if tries >= len(ATTENDANCE_RETRIES):
                log.info("no attendance report of session %s: check-ins and meeting events stand", session.id)
                return
            due = self.svc.planning.clock.now() + ATTENDANCE_RETRIES[tries]
            key = f"attendance:{session.id}:{tries + 1}"
            await self.svc.jobs.enqueue(
                NewJob(ATTENDANCE_FETCH, {"session_id": session.id, "try": tries + 1}, due, key)
            )
            log.info("no attendance report of session %s yet; asking again %s", session.id, due.isoformat())
            return
        merged = await self.svc.ledger.import_report(session.id, records)
        log.info("attendance report of session %s: %d people", session.id, merged)

    async def _load(self, payload: dict[str, Any]) -> tuple[Session, Network] | None:
        session = await self.svc.sessions.get(int(payload["session_id"]))
        if session is None:
            return None
        network = await self.svc.planning.networks.get(session.network_id)
        if network is None or not network.home_conversation_id:
            return None
        return session, network

    async def announce(self, payload: dict[str, Any]) -> None:
        loaded = await self._load(payload)
        if loaded is None:
            return
        session, network = loaded
        if session.status != SessionStatus.SCHEDULED or network.status != NetworkStatus.ACTIVE:
            log.info("announcement skipped: session %s is %s", session.id, session.status)
            return
        if session.ends_at <= self.svc.planning.clock.now():
            log.info("announcement skipped: session %s is over", session.id)  # e.g. moved earlier
            return
        if session.join_url is None and self.meetings is not None:
            session = await self._with_meeting(network, session)
        card = await shared_card(self.catalogs[network.lang], self.svc, network, session)
        assert network.home_conversation_id
        await self.svc.notifier.post(network.home_conversation_id, f"announce:{session.id}", card=card)

    async def _with_meeting(self, network: Network, session: Session) -> Session:
        """No link given: make the Teams meeting now, so that the card can carry its Join button.

        Graph's createOrGet under the session's external id makes this safe to repeat: a job that
        crashed after Graph made the meeting but before its link was saved gets the same meeting
        when it runs again. A refusal that will not pass (no permission, no access policy) is
        logged and the card goes out without Join rather than never; a passing failure retries."""
        assert self.meetings is not None
        subject = f"{network.name}: {session.topic}" if session.topic else network.name
        try:
            meeting = await self.meetings.create_meeting(
                subject=subject,
                start=session.starts_at,
                end=session.ends_at,
                external_id=meeting_external_id(session),
            )
        except DeliveryFailed as error:
            if error.retryable:
                raise
            log.error("no Teams meeting for session %s, announced without Join: %s", session.id, error)
            return session
        await self.svc.sessions.set_meeting(session.id, meeting.meeting_id, meeting.join_url)
        return replace(session, join_url=meeting.join_url, meeting_id=meeting.meeting_id)

    async def update_card(self, payload: dict[str, Any]) -> None:
        loaded = await self._load(payload)
        if loaded is None:
            return
        session, network = loaded
        card = await shared_card(self.catalogs[network.lang], self.svc, network, session)
        assert network.home_conversation_id
        await self.svc.notifier.update(network.home_conversation_id, f"announce:{session.id}", card)

    async def remind_home(self, payload: dict[str, Any]) -> None:
        loaded = await self._load(payload)
        if loaded is None:
            return
        session, network = loaded
        if session.status != SessionStatus.SCHEDULED or network.status != NetworkStatus.ACTIVE:
            return
        tr = self.catalogs[network.lang]
        text = tr._(
            "{network} starts soon: {when}.",
            network=network.name,
            when=when_text(tr, session.starts_at, network.timezone, capital=False),
        )
        if session.topic:
            text += " " + session.topic
        if session.join_url:
            text += " " + tr._("Join: {url}", url=session.join_url)
        stamp = int(session.starts_at.timestamp())
        assert network.home_conversation_id
        await self.svc.notifier.post(
            network.home_conversation_id, f"remind-home:{session.id}:{stamp}", text=text
        )

    async def remind_personal(self, payload: dict[str, Any]) -> None:
        loaded = await self._load(payload)
        if loaded is None:
            return
        session, network = loaded
        if session.status != SessionStatus.SCHEDULED or network.status != NetworkStatus.ACTIVE:
            return
        people = {p.user_id: p for p in await self.svc.sessions.followers(network.id)}
        people.update({p.user_id: p for p in await self.svc.sessions.coming(session.id)})
        stamp = int(session.starts_at.timestamp())
        await self._tell_each(
            [(user_id, f"remind-personal:{session.id}:{stamp}:{user_id}") for user_id in people],
            network,
            session,
            "reminder",
        )

    async def notify_change(self, payload: dict[str, Any]) -> None:
        loaded = await self._load(payload)
        if loaded is None:
            return
        session, network = loaded
        change = str(payload.get("change", "cancelled"))
        stamp = int(session.starts_at.timestamp())
        people = await self.svc.sessions.coming(session.id)
        await self._tell_each(
            [(p.user_id, f"notify:{session.id}:{change}:{stamp}:{p.user_id}") for p in people],
            network,
            session,
            change,
        )

    async def _tell_each(
        self, recipients: list[tuple[str, str]], network: Network, session: Session, what: str
    ) -> None:
        """Tell each person on their own: one refused chat (e.g. 403, app removed) stops nobody else.

        A failure that may pass is raised at the end, so that the job is tried again; the sender's
        keys are per person, so those already told are not told twice."""
        retry: list[str] = []
        for user_id, key in recipients:
            try:
                await self._tell(user_id, key, network, session, what)
            except DeliveryFailed as error:
                log.warning("%s of session %s not delivered to %s: %s", what, session.id, user_id, error)
                if error.retryable:
                    retry.append(user_id)
        if retry:
            raise DeliveryFailed(f"{what} to {len(retry)} people to try again", retryable=True)

    async def _tell(self, user_id: str, key: str, network: Network, session: Session, what: str) -> None:
        """A 1:1 message, only to people who have a personal chat with Tapaamo (Teams allows no other)."""
        conversations = await self.svc.sessions.personal_conversations([user_id])
        conversation_id = conversations.get(user_id)
        if conversation_id is None:
            return
        ref = await self.svc.refs.get(conversation_id)
        tr = self.catalogs[lang_of_locale(ref.locale if ref else None)]
        when = when_text(tr, session.starts_at, network.timezone, capital=False)
        if what == "reminder":
            text = tr._("Reminder: {network} meets tomorrow, {when}.", network=network.name, when=when)
            if session.join_url:
                text += " " + tr._("Join: {url}", url=session.join_url)
        elif what == "moved":
            text = tr._("{network} has moved to {when}.", network=network.name, when=when)
        else:
            text = tr._("{network} on {when} is cancelled.", network=network.name, when=when)
        await self.svc.notifier.post(conversation_id, key, text=text)
