"""Nudges when a network's cadence drops, the lifecycle notices, and the admins' overview."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from domain.networks import Network, NetworkStatus, UnknownNetwork, parse_cadence
from domain.sessions import Draft
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
        (tr._("Came more than once"), tr.number(figures.came_more_than_once)),
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
        for user_id, conversation_id in conversations.items():
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
        [(_, report)] = await self.watch.reports([network])
        cause = cause_of(report)
        if cause is None:
            return  # the cause went away since the evaluation
        suggestion = await self.watch.suggestion(network)
        state = await self.watch.sent(network.id, cause)
        stamp = self.svc.planning.clock.now().date().isoformat()
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
                    date=f"{ends.day}.{ends.month}.{ends.year}",
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


async def _network(ctx: Context, network_id: int) -> Network:
    svc = services(ctx)
    network = await svc.planning.networks.get(network_id)
    if network is None:
        raise UnknownNetwork(name=f"#{network_id}")
    svc.planning.require_coordinator(network, person(ctx.turn))
    return network


def register(router: Router, watch: Watch | None, admins: Sequence[str]) -> None:
    async def suggested_draft(ctx: Context, payload: SchedulePayload) -> tuple[Network, Draft]:
        """A draft at the nudge's suggested time; pressing any action answers the nudge."""
        network = await _network(ctx, payload.network)
        draft = await services(ctx).planning.draft(
            network,
            person(ctx.turn),
            starts_at=payload.start,
            duration=timedelta(minutes=60),
            topic="",
            join_url=None,
        )
        if watch is not None:
            await watch.answered(network.id)
        return network, draft

    async def schedule(ctx: Context, payload: SchedulePayload) -> ActionResult:
        _, draft = await suggested_draft(ctx, payload)
        return await confirm_and_report(ctx, draft.id)

    async def pick(ctx: Context, payload: SchedulePayload) -> ActionResult:
        network, draft = await suggested_draft(ctx, payload)
        when_value = ctx.tr.datetime(payload.start, network.timezone, "d.M.yyyy HH:mm")
        return ActionResult(card=change_card(ctx.tr, network, draft, when_value))

    async def snooze(ctx: Context, payload: SnoozePayload) -> ActionResult:
        network = await _network(ctx, payload.network)
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
        network = await _network(ctx, payload.network)
        await services(ctx).planning.set_status(network, person(ctx.turn), NetworkStatus.PAUSED)
        if watch is not None:
            await watch.answered(network.id)
        text = ctx.tr._(
            "{network} is paused. Nothing new is announced until it is resumed.", network=network.name
        )
        return ActionResult(card=note_card(ctx.tr, network.name, [text]))

    async def propose_end(ctx: Context, payload: NetworkPayload) -> ActionResult:
        network = await _network(ctx, payload.network)
        if watch is not None:
            await watch.answered(network.id)
        return ActionResult(card=end_confirm_card(ctx.tr, network))

    async def keep(ctx: Context, payload: NetworkPayload) -> ActionResult:
        network = await _network(ctx, payload.network)
        return ActionResult(
            card=note_card(ctx.tr, network.name, [ctx.tr._("{network} goes on.", network=network.name)])
        )

    async def end_now(ctx: Context, payload: NetworkPayload) -> ActionResult:
        network = await _network(ctx, payload.network)
        svc = services(ctx)
        if network.status != NetworkStatus.ENDED:
            await svc.planning.set_status(network, person(ctx.turn), NetworkStatus.ENDED)
            await svc.jobs.enqueue(
                NewJob(END, {"network_id": network.id}, ctx.clock.now(), f"end:{network.id}")
            )
        text = ctx.tr._("{network} has ended; its upcoming sessions are cancelled.", network=network.name)
        return ActionResult(card=note_card(ctx.tr, network.name, [text]))

    async def keep_going(ctx: Context, payload: NetworkPayload) -> ActionResult:
        network = await _network(ctx, payload.network)
        if watch is not None:
            await watch.answered(network.id)
        return ActionResult(
            card=note_card(ctx.tr, network.name, [ctx.tr._("{network} goes on.", network=network.name)])
        )

    async def change_cadence(ctx: Context, payload: CadencePayload) -> ActionResult:
        network = await _network(ctx, payload.network)
        cadence = parse_cadence(payload.cadence or network.cadence.code())
        updated = await services(ctx).planning.edit(network, person(ctx.turn), cadence=cadence)
        text = ctx.tr._(
            "{network} now meets {cadence}.", network=updated.name, cadence=cadence_text(ctx.tr, updated)
        )
        return ActionResult(card=note_card(ctx.tr, network.name, [text]))

    async def overview(ctx: Context, args: str) -> Sequence[Reply]:
        turn = ctx.turn
        if turn.user.id not in admins and (turn.user.aad_id or "") not in admins:
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
        turn = ctx.turn
        if turn.user.id not in admins and (turn.user.aad_id or "") not in admins:
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
        chosen.sort(
            key=lambda item: (STATUS_ORDER[item[1].status], not item[1].fading_attendance, item[0].name)
        )
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
