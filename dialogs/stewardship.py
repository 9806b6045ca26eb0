"""Nudges when a network's cadence drops, the lifecycle notices, and the admins' overview."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from dialogs import cards
from dialogs.common import person, services
from dialogs.i18n import N_, Catalogs, Translator
from dialogs.router import Command, Context, Router
from dialogs.services import Services
from dialogs.session_cards import cadence_text, change_card, note_card, when_text
from dialogs.sessions import confirm_and_report
from dialogs.turn import ActionResult, CardReply, Reply, TextReply, lang_of_locale
from domain.cadence import CadenceReport, CadenceStatus
from domain.errors import UserError
from domain.jobs import NewJob
from domain.networks import Coordinator, Network, NetworkStatus, UnknownNetwork, parse_cadence
from domain.planning import Planning
from domain.ports import NetworkStore
from domain.sessions import Draft, Person, SessionStatus
from domain.stewardship import (
    DAILY,
    END,
    ENDING_SOON,
    EVALUATE,
    FADING,
    NUDGE,
    PURGE,
    UNANSWERED_TO_ADMINS,
    Watch,
    cause_of,
    local_date,
)

log = logging.getLogger(__name__)


class NotAdmin(UserError):
    message_id = N_("Only Tapaamo's administrators can do that.")


class NetworkPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    network: int


class SchedulePayload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    network: int
    start: datetime


class SnoozePayload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    network: int
    weeks: Literal[1, 2]


class CadencePayload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    network: int
    cadence: str = ""


def weeks_text(tr: Translator, report: CadenceReport) -> str:
    weeks = report.weeks_since_last
    if weeks is None:
        return tr._("has not met yet")
    if weeks == 0:
        return tr._("last met this week")
    return tr.n_("last met {n} week ago", "last met {n} weeks ago", weeks)


def cause_text(tr: Translator, network: Network, report: CadenceReport, cause: str) -> str:
    facts = tr._(
        "{network} {when}; it usually meets {cadence}.",
        network=network.name,
        when=weeks_text(tr, report),
        cadence=cadence_text(tr, network),
    )
    if cause == FADING:
        return tr._(
            "{network}'s attendance is fading: {recent} on average at its last three sessions, "
            "{year} over the year.",
            network=network.name,
            recent=tr.number(round(report.recent_average or 0, 1)),
            year=tr.number(round(report.year_average or 0, 1)),
        )
    if cause == CadenceStatus.LAPSED.value:
        return facts + " " + tr._("It has missed three or more of its meetings.")
    if cause == CadenceStatus.OVERDUE.value:
        return facts + " " + tr._("Its next session is overdue and none is scheduled.")
    return facts + " " + tr._("Nothing is scheduled yet.")


def nudge_card(
    tr: Translator, network: Network, report: CadenceReport, cause: str, suggestion: datetime
) -> dict[str, Any]:
    body = [
        cards.title(tr._("How is {network} doing?", network=network.name)),
        cards.text(cause_text(tr, network, report, cause)),
        cards.text(
            tr._("Suggested next session: {when}", when=when_text(tr, suggestion, network.timezone)),
            subtle=True,
        ),
    ]
    data = {"network": network.id}
    actions = [
        cards.execute(
            tr._("Schedule it"), "nudge.schedule", {**data, "start": suggestion.isoformat()}, style="positive"
        ),
        cards.execute(tr._("Pick another date"), "nudge.pick", {**data, "start": suggestion.isoformat()}),
        cards.execute(tr._("Snooze 1 week"), "nudge.snooze", {**data, "weeks": 1}),
        cards.execute(tr._("Snooze 2 weeks"), "nudge.snooze", {**data, "weeks": 2}),
        cards.execute(tr._("Pause network"), "nudge.pause", data),
        cards.execute(tr._("Propose ending"), "nudge.end", data, style="destructive"),
    ]
    return cards.card(
        body, lang=tr.lang, fallback=tr._("How is {network} doing?", network=network.name), actions=actions
    )


def end_confirm_card(tr: Translator, network: Network) -> dict[str, Any]:
    body = [
        cards.title(tr._("End {network}?", network=network.name)),
        cards.text(
            tr._(
                "Its upcoming sessions are cancelled, its conversation is told, and the personal data "
                "of its participants is removed; the counts stay."
            )
        ),
    ]
    actions = [
        cards.execute(
            tr._("End the network"), "lifecycle.end_now", {"network": network.id}, style="destructive"
        ),
        cards.execute(tr._("Keep it"), "nudge.keep", {"network": network.id}),
    ]
    return cards.card(
        body, lang=tr.lang, fallback=tr._("End {network}?", network=network.name), actions=actions
    )


def evaluation_card(
    tr: Translator, network: Network, report: CadenceReport, figures: Any, feedback: str
) -> dict[str, Any]:
    pairs = [
        (tr._("Sessions held"), tr.number(report.held_last_12_months)),
        (tr._("Meetings a year"), report.bucket),
        (tr._("Participants"), tr.number(figures.unique_participants)),
        (tr._("New participants"), tr.number(figures.new_in_period)),
        # Returning: took part this year and had taken part before it.
        (
            tr._("Returning participants"),
            tr.number(max(0, figures.unique_participants - figures.new_in_period)),
        ),
        (tr._("Feedback"), feedback),
    ]
    body = [
        cards.title(tr._("Yearly evaluation of {network}", network=network.name)),
        cards.text(tr._("Should the network go on as it is? Here is its year in figures."), subtle=True),
        cards.facts(pairs),
        {
            "type": "Input.ChoiceSet",
            "id": "cadence",
            "label": tr._("New cadence, if it changes"),
            "choices": [
                {"title": tr._("weekly"), "value": "weekly"},
                {"title": tr._("every other week"), "value": "biweekly"},
                {"title": tr._("monthly"), "value": "monthly"},
                {"title": tr._("{n} times a year", n=6), "value": "6/year"},
                {"title": tr._("{n} times a year", n=4), "value": "4/year"},
            ],
            "value": network.cadence.code() if network.cadence.kind != "per_year" else "6/year",
        },
    ]
    data = {"network": network.id}
    actions = [
        cards.execute(tr._("Continue"), "eval.continue", data, style="positive"),
        cards.execute(tr._("Change cadence"), "eval.cadence", data),
        cards.execute(tr._("End the network"), "nudge.end", data, style="destructive"),
    ]
    return cards.card(
        body,
        lang=tr.lang,
        fallback=tr._("Yearly evaluation of {network}", network=network.name),
        actions=actions,
    )


@dataclass
class StewardshipJobs:
    svc: Services
    catalogs: Catalogs
    watch: Watch
    admins: Sequence[str]

    def handlers(self) -> dict[str, Any]:
        return {
            DAILY: self.daily,
            NUDGE: self.nudge,
            ENDING_SOON: self.ending_soon,
            END: self.end,
            EVALUATE: self.evaluate,
            PURGE: self.purge,
        }

    async def daily(self, payload: dict[str, Any]) -> None:
        nudges = await self.watch.daily()
        log.info("cadence evaluated: %d nudges", nudges)

    async def _tell(self, network: Network, key: str, build: Any, people: Sequence[str]) -> int:
        """A card or text 1:1 to each person with a personal chat; the network's home if none has one."""
        conversations = await self.svc.sessions.personal_conversations(list(people))
        sent = 0
        told: set[str] = set()
        for user_id, conversation_id in conversations.items():
            if conversation_id in told:
                continue  # one person listed twice (a coordinator who is also an admin)
            told.add(conversation_id)
            ref = await self.svc.refs.get(conversation_id)
            tr = self.catalogs[lang_of_locale(ref.locale) if ref and ref.locale else network.lang]
            await self.svc.notifier.post(conversation_id, f"{key}:{user_id}", **build(tr))
            sent += 1
        if not sent and network.home_conversation_id:
            await self.svc.notifier.post(
                network.home_conversation_id, f"{key}:home", **build(self.catalogs[network.lang])
            )
            sent = 1
        return sent

    async def nudge(self, payload: dict[str, Any]) -> None:
        network = await self.svc.planning.networks.get(int(payload["network_id"]))
        if network is None or network.status != NetworkStatus.ACTIVE:
            return
        if await self.watch.nudge_later(network, payload) is not None:
            return  # a delayed or retried job out of working hours: it goes at the next working time
        [(_, report)] = await self.watch.reports([network])
        cause = cause_of(report)
        if cause is None:
            return  # the cause went away since the evaluation
        suggestion = await self.watch.suggestion(network)
        now = self.svc.planning.clock.now()
        day = date.fromisoformat(str(payload.get("date") or local_date(now, network.timezone).isoformat()))
        state = await self.watch.sent(network.id, cause, day, network.timezone)
        stamp = day.isoformat()
        people = [c.user_id for c in network.coordinators]
        if state.unanswered > UNANSWERED_TO_ADMINS:
            people += [a for a in self.admins if a not in people]
        await self._tell(
            network,
            f"nudge:{network.id}:{stamp}",
            lambda tr: {"card": nudge_card(tr, network, report, cause, suggestion)},
            people,
        )

    async def ending_soon(self, payload: dict[str, Any]) -> None:
        network = await self.svc.planning.networks.get(int(payload["network_id"]))
        if network is None or network.status == NetworkStatus.ENDED or network.ends_on is None:
            return
        ends = network.ends_on

        def build(tr: Translator) -> dict[str, Any]:
            return {
                "text": tr._(
                    "{network} is a fixed-term network and ends on {date}. On that day its upcoming sessions "
                    "are cancelled and its participants' personal data is removed.",
                    network=network.name,
                    date=tr.date(ends),
                )
            }

        await self._tell(
            network, f"ending-soon:{network.id}", build, [c.user_id for c in network.coordinators]
        )

    async def end(self, payload: dict[str, Any]) -> None:
        network = await self.svc.planning.networks.get(int(payload["network_id"]))
        if network is None:
            return
        if network.status != NetworkStatus.ENDED:
            await self.svc.planning.end_by_itself(network)
        if network.home_conversation_id:
            tr = self.catalogs[network.lang]
            text = tr._("{network} has ended. Thank you to everyone who took part!", network=network.name)
            await self.svc.notifier.post(network.home_conversation_id, f"ended:{network.id}", text=text)
        now = self.svc.planning.clock.now()
        await self.svc.jobs.enqueue(NewJob(PURGE, {"network_id": network.id}, now, f"purge:{network.id}"))

    async def purge(self, payload: dict[str, Any]) -> None:
        network_id = int(payload["network_id"])
        removed = await self.svc.ledger.store.anonymise_network(network_id)
        for follower in await self.svc.sessions.followers(network_id):
            await self.svc.sessions.unfollow(network_id, follower.user_id)
        for session in await self.svc.sessions.for_network(network_id):
            for coming in await self.svc.sessions.coming(session.id):
                await self.svc.sessions.unrsvp(session.id, coming.user_id)
        log.info("network %s purged: %d participations anonymised", network_id, removed)

    async def evaluate(self, payload: dict[str, Any]) -> None:
        network = await self.svc.planning.networks.get(int(payload["network_id"]))
        if network is None or network.status != NetworkStatus.ACTIVE:
            return
        [(_, report)] = await self.watch.reports([network])
        now = self.svc.planning.clock.now()
        figures = await self.svc.ledger.network_figures(network, now - timedelta(days=365), now)
        feedback = await self.svc.feedback.year_summary(network.id, now - timedelta(days=365), now)

        def build(tr: Translator) -> dict[str, Any]:
            text = (
                tr._(
                    "mean {mean} on the 1\u20135 scale ({n} answers)",
                    mean=tr.number(round(feedback[0], 2), 2),
                    n=feedback[1],
                )
                if feedback[0] is not None
                else tr._("no answers")
            )
            return {"card": evaluation_card(tr, network, report, figures, text)}

        await self._tell(
            network,
            f"evaluate:{network.id}:{payload.get('year')}",
            build,
            [c.user_id for c in network.coordinators],
        )


def is_admin(ctx: Context, admins: Sequence[str]) -> bool:
    """Administrators are configured by Entra object id or by Teams user id."""
    user = ctx.turn.user
    return user.id in admins or bool(user.aad_id and user.aad_id in admins)


class _AdminView:
    """The network store as an administrator acting on a nudge sees it: as one of each network's
    coordinators, so that the planning rules let them act (and the audit log names them)."""

    def __init__(self, store: NetworkStore, admin: Person) -> None:
        self._store = store
        self._admin = Coordinator(admin.user_id, admin.name, admin.aad_id)

    async def get(self, network_id: int) -> Network | None:
        network = await self._store.get(network_id)
        return (
            None if network is None else replace(network, coordinators=(*network.coordinators, self._admin))
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def _network(ctx: Context, network_id: int, admins: Sequence[str] = ()) -> tuple[Network, Planning]:
    """The network a nudge or evaluation card acts on, and the planning to act with.

    Its coordinators may act, and so may the administrators (the nudge reaches them after three
    unanswered ones); for an administrator the planning treats them as a coordinator."""
    svc = services(ctx)
    network = await svc.planning.networks.get(network_id)
    if network is None:
        raise UnknownNetwork(name=f"#{network_id}")
    who = person(ctx.turn)
    if network.is_coordinator(who.user_id, who.aad_id) or not is_admin(ctx, admins):
        svc.planning.require_coordinator(network, who)
        return network, svc.planning
    planning = copy.copy(svc.planning)
    view = _AdminView(svc.planning.networks, who)
    planning.networks = view
    acting = await view.get(network_id)
    assert acting is not None
    return acting, planning


def register(router: Router, watch: Watch | None, admins: Sequence[str]) -> None:
    async def suggested_draft(
        ctx: Context, payload: SchedulePayload, network: Network, planning: Planning
    ) -> Draft:
        """A draft at the nudge's suggested time; pressing any action answers the nudge."""
        draft = await planning.draft(
            network,
            person(ctx.turn),
            starts_at=payload.start,
            duration=timedelta(minutes=60),
            topic="",
            join_url=None,
        )
        if watch is not None:
            await watch.answered(network.id)
        return draft

    def scheduled_card(ctx: Context, network: Network, start: datetime) -> ActionResult:
        tr = ctx.tr
        lines = [
            tr._("{network}: {when}.", network=network.name, when=when_text(tr, start, network.timezone)),
            tr._(
                "The announcement is posted in the network's home conversation, "
                "with reminders before it starts."
            ),
        ]
        return ActionResult(card=note_card(tr, tr._("Scheduled \u2714"), lines))

    scheduling: dict[tuple[int, datetime], asyncio.Lock] = {}

    async def schedule(ctx: Context, payload: SchedulePayload) -> ActionResult:
        # Two clicks at once (two coordinators) take turns here, so the second finds the first's session.
        key = (payload.network, payload.start)
        lock = scheduling.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                return await schedule_once(ctx, payload)
        finally:
            if not lock.locked():
                scheduling.pop(key, None)

    async def schedule_once(ctx: Context, payload: SchedulePayload) -> ActionResult:
        network, planning = await _network(ctx, payload.network, admins)
        # A second click (another coordinator, or a stale card) finds the session already there.
        for existing in await planning.sessions.for_network(
            network.id, start=payload.start, end=payload.start + timedelta(seconds=1)
        ):
            if existing.starts_at == payload.start and existing.status != SessionStatus.CANCELLED:
                if watch is not None:
                    await watch.answered(network.id)
                return scheduled_card(ctx, network, existing.starts_at)
        draft = await suggested_draft(ctx, payload, network, planning)
        if planning is services(ctx).planning:
            return await confirm_and_report(ctx, draft.id)
        await planning.confirm(draft.id, person(ctx.turn))
        return scheduled_card(ctx, network, payload.start)

    async def pick(ctx: Context, payload: SchedulePayload) -> ActionResult:
        # Only coordinators: the draft's own card (another time, confirm) is theirs to press.
        network, planning = await _network(ctx, payload.network, ())
        draft = await suggested_draft(ctx, payload, network, planning)
        when_value = ctx.tr.datetime(payload.start, network.timezone, "d.M.yyyy HH:mm")
        return ActionResult(card=change_card(ctx.tr, network, draft, when_value))

    async def snooze(ctx: Context, payload: SnoozePayload) -> ActionResult:
        network, _ = await _network(ctx, payload.network, admins)
        if watch is not None:
            await watch.answered(network.id, snooze=timedelta(weeks=payload.weeks))
        text = ctx.tr.n_(
            "I'll ask again about {network} in {n} week.",
            "I'll ask again about {network} in {n} weeks.",
            payload.weeks,
            network=network.name,
        )
        return ActionResult(card=note_card(ctx.tr, network.name, [text]))

    async def pause(ctx: Context, payload: NetworkPayload) -> ActionResult:
        network, planning = await _network(ctx, payload.network, admins)
        await planning.set_status(network, person(ctx.turn), NetworkStatus.PAUSED)
        if watch is not None:
            await watch.answered(network.id)
        text = ctx.tr._(
            "{network} is paused. Nothing new is announced until it is resumed.", network=network.name
        )
        return ActionResult(card=note_card(ctx.tr, network.name, [text]))

    async def propose_end(ctx: Context, payload: NetworkPayload) -> ActionResult:
        network, _ = await _network(ctx, payload.network, admins)
        if watch is not None:
            await watch.answered(network.id)
        return ActionResult(card=end_confirm_card(ctx.tr, network))

    async def keep(ctx: Context, payload: NetworkPayload) -> ActionResult:
        network, _ = await _network(ctx, payload.network, admins)
        return ActionResult(
            card=note_card(ctx.tr, network.name, [ctx.tr._("{network} goes on.", network=network.name)])
        )

    async def end_now(ctx: Context, payload: NetworkPayload) -> ActionResult:
        network, planning = await _network(ctx, payload.network, admins)
        svc = services(ctx)
        if network.status != NetworkStatus.ENDED:
            await planning.set_status(network, person(ctx.turn), NetworkStatus.ENDED)
            await svc.jobs.enqueue(
                NewJob(END, {"network_id": network.id}, ctx.clock.now(), f"end:{network.id}")
            )
        text = ctx.tr._("{network} has ended; its upcoming sessions are cancelled.", network=network.name)
        return ActionResult(card=note_card(ctx.tr, network.name, [text]))

    async def keep_going(ctx: Context, payload: NetworkPayload) -> ActionResult:
        network, _ = await _network(ctx, payload.network, admins)
        if watch is not None:
            await watch.answered(network.id)
        return ActionResult(
            card=note_card(ctx.tr, network.name, [ctx.tr._("{network} goes on.", network=network.name)])
        )

    async def change_cadence(ctx: Context, payload: CadencePayload) -> ActionResult:
        network, planning = await _network(ctx, payload.network, admins)
        cadence = parse_cadence(payload.cadence or network.cadence.code())
        updated = await planning.edit(network, person(ctx.turn), cadence=cadence)
        text = ctx.tr._(
            "{network} now meets {cadence}.", network=updated.name, cadence=cadence_text(ctx.tr, updated)
        )
        return ActionResult(card=note_card(ctx.tr, network.name, [text]))

    async def overview(ctx: Context, args: str) -> Sequence[Reply]:
        if not is_admin(ctx, admins):
            raise NotAdmin()
        if watch is None:
            return []
        reports = await watch.reports(
            await services(ctx).planning.networks.all(
                [NetworkStatus.ACTIVE.value, NetworkStatus.PAUSED.value]
            )
        )
        return [CardReply(overview_card(ctx.tr, reports))]

    async def evaluate_now(ctx: Context, args: str) -> Sequence[Reply]:
        if not is_admin(ctx, admins):
            raise NotAdmin()
        if watch is None:
            return []
        queued = await watch.daily(at_once=True)
        text = ctx.tr.n_(
            "Every network's cadence is evaluated now: {n} nudge is on its way.",
            "Every network's cadence is evaluated now: {n} nudges are on their way.",
            queued,
        )
        return [TextReply(text)]

    router.action("nudge.schedule", SchedulePayload, schedule)
    router.action("nudge.pick", SchedulePayload, pick)
    router.action("nudge.snooze", SnoozePayload, snooze)
    router.action("nudge.pause", NetworkPayload, pause)
    router.action("nudge.end", NetworkPayload, propose_end)
    router.action("nudge.keep", NetworkPayload, keep)
    router.action("lifecycle.end_now", NetworkPayload, end_now)
    router.action("eval.continue", NetworkPayload, keep_going)
    router.action("eval.cadence", CadencePayload, change_cadence)
    router.command(
        Command(
            name="overview",
            aliases={"en": ("overview",), "fi": ("yleiskuva",), "sv": ("översikt",)},
            handler=overview,
            summary=N_("Every network by how often it meets, lapsed and fading first (administrators)."),
            coordinator_only=True,
        )
    )
    router.command(
        Command(
            name="evaluate",
            aliases={"en": ("evaluate",), "fi": ("arvioi",), "sv": ("utvärdera",)},
            handler=evaluate_now,
            summary=N_("Evaluate every network's cadence now and send the nudges due (administrators)."),
            coordinator_only=True,
        )
    )


BUCKET_ORDER = ("<1", "1-2", "3-5", "6-10", ">10")
STATUS_ORDER = {
    CadenceStatus.LAPSED: 0,
    CadenceStatus.OVERDUE: 1,
    CadenceStatus.DUE: 2,
    CadenceStatus.ON_TRACK: 3,
}


def overview_rank(report: CadenceReport) -> tuple[int, int, bool]:
    """Lapsed first, then fading attendance, then the rest by status (overdue, due, on track)."""
    if report.status == CadenceStatus.LAPSED:
        return (0, 0, not report.fading_attendance)
    if report.fading_attendance:
        return (1, STATUS_ORDER[report.status], False)
    return (2, STATUS_ORDER[report.status], True)


def overview_card(tr: Translator, reports: Sequence[tuple[Network, CadenceReport]]) -> dict[str, Any]:
    status_names = {
        CadenceStatus.ON_TRACK: tr._("on track"),
        CadenceStatus.DUE: tr._("due"),
        CadenceStatus.OVERDUE: tr._("overdue"),
        CadenceStatus.LAPSED: tr._("lapsed"),
    }
    body: list[cards.Element] = [cards.title(tr._("Networks by meetings a year"))]
    for bucket in BUCKET_ORDER:
        chosen = [(n, r) for n, r in reports if r.bucket == bucket]
        if not chosen:
            continue
        chosen.sort(key=lambda item: (*overview_rank(item[1]), item[0].name))
        body.append(
            {
                "type": "TextBlock",
                "text": tr._("{bucket} a year ({n})", bucket=bucket, n=len(chosen)),
                "weight": "Bolder",
                "wrap": True,
            }
        )
        for network, report in chosen:
            flags = status_names[report.status]
            if report.fading_attendance:
                flags += ", " + tr._("fading attendance")
            body.append(cards.text(f"**{network.name}** \u2013 {flags}; {weeks_text(tr, report)}"))
    if len(body) == 1:
        body.append(cards.text(tr._("No networks yet."), subtle=True))
    return cards.card(body, lang=tr.lang, fallback=tr._("Networks by meetings a year"))
