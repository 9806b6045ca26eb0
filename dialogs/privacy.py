"""mydata | forgetme | privacy: a person sees, downloads and erases what Tapaamo holds on them.

``mydata`` and ``forgetme`` answer only in a personal chat: in a team or group chat the card
would show one person's data to everyone there, and anyone could press its buttons.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from dialogs import cards
from dialogs.i18n import N_, Translator
from dialogs.router import Command, Context, Router
from dialogs.session_cards import note_card
from dialogs.turn import ActionResult, CardReply, Lang, Reply, Turn
from domain.clock import Clock
from domain.errors import BadPayload, UserError
from domain.participation import Source
from domain.polls import MIN_SHOWN
from domain.privacy import ForgetOutcome, PersonalData, Privacy, Retention, Subject

MAX_LINES = 15  # per section of the card; the download has everything
CONFIRM_MINUTES = 15  # how long a forgetme card's "Forget me" button works

MYDATA: dict[Lang, tuple[str, ...]] = {
    "en": ("mydata", "my-data"),
    "fi": ("omattiedot",),
    "sv": ("minadata",),
}
FORGETME: dict[Lang, tuple[str, ...]] = {
    "en": ("forgetme", "forget-me"),
    "fi": ("unohdaminut",),
    "sv": ("glömmig",),
}
PRIVACY: dict[Lang, tuple[str, ...]] = {"en": ("privacy",), "fi": ("tietosuoja",), "sv": ("dataskydd",)}

SOURCE_NAMES: dict[Source, str] = {
    Source.CHECKIN: N_("check-in"),
    Source.MEETING_EVENT: N_("Teams meeting event"),
    Source.ATTENDANCE_REPORT: N_("Teams attendance report"),
    Source.COORDINATOR: N_("added by a coordinator"),
}


class OnlyInPersonalChat(UserError):
    message_id = N_(
        "For your privacy, ask me this in a personal chat: "
        "open a chat with Tapaamo and type \u201c{command}\u201d there."
    )


class NotYourConfirmation(UserError):
    message_id = N_(
        "This button erases the data of the person who asked for it. To erase yours, type "
        "\u201c{command}\u201d in your own chat with Tapaamo."
    )


class ConfirmationExpired(UserError):
    message_id = N_(
        "This confirmation has expired and nothing was erased. Type \u201c{command}\u201d again if you "
        "still want to be forgotten."
    )


class MyDataLinks(Protocol):
    """Expiring links to a person's data as JSON (web/privacy_routes.py); ``signing_key`` is the
    app's, and also signs the forgetme confirmation."""

    minutes: int
    signing_key: bytes

    def mydata(self, subject: Subject, lang: str = "") -> str: ...


class ForgetPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    lang: Literal["fi", "sv", "en"] | None = None  # the card's: the answer is in it too


class ForgetConfirmPayload(BaseModel):
    """The "Forget me" button: whose confirmation it is, until when, signed by the app."""

    model_config = ConfigDict(extra="ignore")
    u: str = ""
    exp: int = 0
    sig: str = ""
    lang: Literal["fi", "sv", "en"] | None = None  # the card's: the answer is in it too


class ForgetConfirmations:
    """Signs and checks the "Forget me" button's payload: it erases only the person who asked,
    and only for :data:`CONFIRM_MINUTES` (an old card in a chat history must not erase anyone)."""

    def __init__(self, key: bytes, clock: Clock, minutes: int = CONFIRM_MINUTES) -> None:
        self._key = key
        self._clock = clock
        self._minutes = minutes

    def _mac(self, user_id: str, expires: int) -> str:
        message = f"privacy.forget|{user_id}|{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def payload(self, subject: Subject) -> dict[str, Any]:
        expires = int((self._clock.now() + timedelta(minutes=self._minutes)).timestamp())
        return {"u": subject.user_id, "exp": expires, "sig": self._mac(subject.user_id, expires)}

    def check(self, payload: ForgetConfirmPayload, subject: Subject, command: str) -> None:
        """Raises a UserError unless ``subject`` may erase themselves with this payload now;
        ``command`` is the forgetme word to tell them to type."""
        expected = self._mac(payload.u, payload.exp).encode()
        if not payload.u or not hmac.compare_digest(payload.sig.encode(), expected):
            raise BadPayload()
        if payload.u != subject.user_id:
            raise NotYourConfirmation(command=command)
        if payload.exp < self._clock.now().timestamp():
            raise ConfirmationExpired(command=command)


def subject_of(turn: Turn) -> Subject:
    return Subject(turn.user.id, turn.user.aad_id, turn.user.name)


def _personal_only(ctx: Context, aliases: dict[Lang, tuple[str, ...]]) -> None:
    if ctx.turn.conversation_kind != "personal" or not ctx.turn.user.id:
        raise OnlyInPersonalChat(command=aliases[ctx.lang][0])


def _day(moment: datetime, tz: str) -> date:
    """The local day of a moment; the translator writes it as the reader's language does."""
    return moment.astimezone(ZoneInfo(tz)).date()


def _sources(tr: Translator, sources: Source) -> str:
    return ", ".join(tr._(text) for flag, text in SOURCE_NAMES.items() if flag in sources)


def _section(tr: Translator, heading: str, lines: Sequence[str]) -> list[cards.Element]:
    elements: list[cards.Element] = [
        {"type": "TextBlock", "text": heading, "weight": "Bolder", "wrap": True, "spacing": "Medium"}
    ]
    if not lines:
        return [*elements, cards.text(tr._("None."), subtle=True)]
    shown = [cards.text(f"\u2022 {line}") for line in lines[:MAX_LINES]]
    if len(lines) > MAX_LINES:
        more = len(lines) - MAX_LINES
        shown.append(
            cards.text(
                tr.n_("\u2026and {n} more in the download.", "\u2026and {n} more in the download.", more),
                subtle=True,
            )
        )
    return [*elements, *shown]


def mydata_card(
    tr: Translator,
    data: PersonalData,
    *,
    tz: str,
    link: str | None = None,
    link_minutes: int = 0,
) -> dict[str, Any]:
    """Everything held on one person, by kind; the same as the JSON download, shortened."""
    names = ", ".join(data.names) or data.subject.user_id
    body: list[cards.Element] = [
        cards.title(tr._("What Tapaamo holds on you")),
        cards.text(tr._("Kept under your Teams account ({names}).", names=names), subtle=True),
    ]
    body += _section(
        tr,
        tr._("Networks you coordinate"),
        [
            tr._("{network}, since {date}", network=t.network, date=_day(t.since, t.timezone))
            for t in data.coordinates
        ],
    )
    body += _section(
        tr,
        tr._("Networks you follow"),
        [
            tr._("{network}, since {date}", network=t.network, date=_day(t.since, t.timezone))
            for t in data.follows
        ],
    )
    body += _section(
        tr,
        tr._("Sessions you said you would come to"),
        [f"{r.network}, {tr.datetime(r.starts_at, r.timezone)}" for r in data.rsvps],
    )
    body += _section(
        tr,
        tr._("Sessions you took part in"),
        [
            tr._(
                "{network}, {date} (from: {sources})",
                network=p.network,
                date=_day(p.starts_at, p.timezone),
                sources=_sources(tr, p.sources),
            )
            for p in reversed(data.participations)
        ],
    )
    body += _section(
        tr,
        tr._("Reminders waiting to be sent to you"),
        [
            tr._(
                "{network}, {when}: reminder on {date}",
                network=r.network,
                when=tr.datetime(r.starts_at, r.timezone),
                date=_day(r.due_at, r.timezone),
            )
            for r in data.reminders
        ],
    )
    body += _section(
        tr,
        tr._("Your conversations with Tapaamo"),
        [
            tr._("Personal chat, last used {date}", date=_day(c.updated_at, tz))
            if c.kind == "personal"
            else tr._("A team or group chat where you last wrote to me, {date}", date=_day(c.updated_at, tz))
            for c in data.chats
        ],
    )
    body += _section(
        tr,
        tr._("Sessions you asked to schedule"),
        [f"{d.network}, {tr.datetime(d.starts_at, d.timezone)}" for d in data.drafts],
    )
    yours = sum(1 for a in data.audit if a.by_you)
    about = len(data.audit) - yours
    audit_lines = []
    if yours:
        audit_lines.append(
            tr.n_("{n} entry (listed in the download)", "{n} entries (listed in the download)", yours)
        )
    if about:
        audit_lines.append(
            tr.n_(
                "{n} entry by someone else that names you, such as adding you as a coordinator "
                "(listed in the download)",
                "{n} entries by others that name you, such as adding you as a coordinator "
                "(listed in the download)",
                about,
            )
        )
    body += _section(tr, tr._("Audit log entries about you"), audit_lines)
    body += _section(
        tr,
        tr._("Teams meeting events that list you"),
        [
            tr.n_(
                "{n} event, such as joining or leaving a meeting (listed in the download)",
                "{n} events, such as joining or leaving a meeting (listed in the download)",
                len(data.events),
            )
        ]
        if data.events
        else [],
    )
    body.append(
        {
            "type": "TextBlock",
            "text": tr._("Poll answers"),
            "weight": "Bolder",
            "wrap": True,
            "spacing": "Medium",
        }
    )
    body.append(cards.text(poll_answers_text(tr)))
    body.append(
        cards.text(
            tr._("To erase your data, type \u201c{command}\u201d.", command=FORGETME[tr.lang][0]),
            subtle=True,
            size="Small",
        )
    )
    actions: list[cards.Element] = []
    if link:
        body.append(
            cards.text(
                tr._("The download link works for {minutes} minutes.", minutes=link_minutes),
                subtle=True,
                size="Small",
            )
        )
        actions.append(cards.open_url(tr._("Download as JSON"), link))
    return cards.card(body, lang=tr.lang, fallback=tr._("What Tapaamo holds on you"), actions=actions)


def poll_answers_text(tr: Translator) -> str:
    return tr._(
        "Your poll answers cannot be linked to you: each is stored under a code that only the poll "
        "itself can make, and when the poll closes the code is replaced by a random one. So neither "
        "Tapaamo nor anyone else can show which answers were yours."
    )


def confirm_card(tr: Translator, confirm: dict[str, Any] | None = None) -> dict[str, Any]:
    """The forgetme question; ``confirm`` is the signed payload of its "Forget me" button."""
    body = [
        cards.title(tr._("Forget me?")),
        cards.text(
            tr._(
                "Tapaamo will erase what it holds on you: your follows, the sessions you said you "
                "would come to, your coordinator roles and your personal chat with Tapaamo are "
                "removed; the sessions you took part in are kept only as anonymous counts; in the "
                "audit log your name is replaced by a pseudonym."
            )
        ),
        cards.text(tr._("Your poll answers are anonymous already and stay as they are.")),
        cards.text(tr._("This cannot be undone."), subtle=True),
    ]
    actions = [
        cards.execute(
            tr._("Forget me"),
            "privacy.forget_confirm",
            {**(confirm or {}), "lang": tr.lang},
            style="destructive",
        ),
        cards.execute(tr._("Cancel"), "privacy.forget_cancel", {"lang": tr.lang}),
    ]
    return cards.card(body, lang=tr.lang, fallback=tr._("Forget me?"), actions=actions)


def outcome_card(tr: Translator, outcome: ForgetOutcome) -> dict[str, Any]:
    if outcome.blocked:
        return note_card(
            tr,
            tr._("Nothing was erased"),
            [
                tr._(
                    "You are the last coordinator of {networks}. A network needs a coordinator: "
                    "add another one first (network coordinators add NAME @person), then ask again.",
                    networks=", ".join(outcome.blocked),
                )
            ],
        )
    counts = outcome.counts
    return note_card(
        tr,
        tr._("You are forgotten"),
        [
            tr._("Tapaamo no longer holds your data."),
            tr.n_(
                "{n} participation is kept only as an anonymous count.",
                "{n} participations are kept only as anonymous counts.",
                int(counts.get("participations_anonymised", 0)),
            ),
            tr._(
                "If you use Tapaamo again, for example follow a network, it keeps again what it "
                "needs for that."
            ),
        ],
    )


def privacy_card(tr: Translator, retention: Retention, contact: str = "") -> dict[str, Any]:
    """The privacy notice: what is kept, why, how long, who sees it, and how to see and erase it."""
    r = retention

    def heading(text: str) -> cards.Element:
        return {"type": "TextBlock", "text": text, "weight": "Bolder", "wrap": True, "spacing": "Medium"}

    keep = [
        tr.n_(
            "Who took part in a session, by name: {n} month, then only as counts.",
            "Who took part in a session, by name: {n} months, then only as counts.",
            r.participation_months,
        ),
        tr.n_(
            "Who said they would come: {n} day after the session.",
            "Who said they would come: {n} days after the session.",
            r.rsvp_days,
        ),
        tr.n_(
            "The audit log of coordinators' actions: {n} month.",
            "The audit log of coordinators' actions: {n} months.",
            r.audit_months,
        ),
        tr.n_(
            "Details of Teams meeting events: {n} month.",
            "Details of Teams meeting events: {n} months.",
            r.event_payload_months,
        ),
        tr.n_(
            "Feedback comments: {n} month after the poll closed.",
            "Feedback comments: {n} months after the poll closed.",
            r.poll_comment_months,
        ),
        tr.n_(
            "Session requests awaiting confirmation: {n} day.",
            "Session requests awaiting confirmation: {n} days.",
            r.draft_days,
        ),
        tr.n_(
            "Records of messages Tapaamo sent: {n} day.",
            "Records of messages Tapaamo sent: {n} days.",
            r.sent_days,
        ),
        tr.n_(
            "Finished background tasks: {n} day.", "Finished background tasks: {n} days.", r.done_jobs_days
        ),
        tr.n_(
            "Ids of messages already handled: {n} hour.",
            "Ids of messages already handled: {n} hours.",
            r.inbound_hours,
        ),
        tr._(
            "Follows, coordinator roles and your personal chat with Tapaamo: until you end them, or "
            "ask Tapaamo to forget you."
        ),
    ]
    body: list[cards.Element] = [
        cards.title(tr._("Privacy in Tapaamo")),
        heading(tr._("What is kept")),
        cards.text(
            tr._(
                "Your Teams name and ids when you coordinate or follow a network or say you will "
                "come to a session; the sessions you took part in (from check-ins, Teams meeting "
                "events and attendance reports), with your organisation; and your personal chat "
                "with Tapaamo, so that it can send you reminders."
            )
        ),
        heading(tr._("Why")),
        cards.text(
            tr._(
                "To run the networks: to announce sessions, to remind those who want it, and to "
                "tell coordinators and organisers how their networks do (participation, new and "
                "returning participants)."
            )
        ),
        heading(tr._("How long")),
        *[cards.text(f"\u2022 {line}") for line in keep],
        heading(tr._("Who sees it")),
        cards.text(
            tr._(
                "A network's coordinators see who took part in its sessions, with their "
                "organisations. Everyone else, Tapaamo's administrators included, sees only counts."
            )
        ),
        heading(tr._("Feedback is anonymous")),
        cards.text(poll_answers_text(tr)),
        cards.text(
            tr.n_(
                "Results are shown only from {n} answer, so that no one's answer stands out.",
                "Results are shown only from {n} answers, so that no one's answer stands out.",
                MIN_SHOWN,
            )
        ),
        heading(tr._("See and erase your data")),
        cards.text(
            tr._(
                "In a personal chat with Tapaamo, type \u201c{mydata}\u201d to see everything it "
                "holds on you and download it, and \u201c{forgetme}\u201d to erase it.",
                mydata=MYDATA[tr.lang][0],
                forgetme=FORGETME[tr.lang][0],
            )
        ),
    ]
    if contact:
        body.append(cards.text(tr._("Questions about your data: {contact}", contact=contact)))
    return cards.card(body, lang=tr.lang, fallback=tr._("Privacy in Tapaamo"))


def register(
    router: Router,
    privacy: Privacy | None,
    links: MyDataLinks | None = None,
    *,
    contact: str = "",
    timezone: str = "Europe/Helsinki",
) -> None:
    """The privacy commands and buttons; ``links`` makes the JSON download (none without it).

    ``privacy`` may be None where only the command table is wanted (the app manifest's menus)."""

    # Without the app's key (the manifest's command table) a random one: buttons die with the process.
    confirmations = ForgetConfirmations(
        links.signing_key if links is not None else secrets.token_bytes(32), router.clock
    )

    def service() -> Privacy:
        if privacy is None:
            raise RuntimeError("the privacy commands were registered without the Privacy service")
        return privacy

    async def mydata(ctx: Context, args: str) -> Sequence[Reply]:
        _personal_only(ctx, MYDATA)
        subject = subject_of(ctx.turn)
        data = await service().my_data(subject)
        link = links.mydata(subject, ctx.lang) if links is not None else None
        minutes = links.minutes if links is not None else 0
        return [CardReply(mydata_card(ctx.tr, data, tz=timezone, link=link, link_minutes=minutes))]

    async def forgetme(ctx: Context, args: str) -> Sequence[Reply]:
        _personal_only(ctx, FORGETME)
        # The last coordinator of a network cannot be forgotten: say so now, not after the
        # irreversible-looking "Forget me" was pressed (the erasure checks again, in one transaction).
        subject = subject_of(ctx.turn)
        blocked = await service().blockers(subject)
        if blocked:
            return [CardReply(outcome_card(ctx.tr, ForgetOutcome(blocked=blocked)))]
        return [CardReply(confirm_card(ctx.tr, confirmations.payload(subject)))]

    async def forget_confirm(ctx: Context, payload: ForgetConfirmPayload) -> ActionResult:
        _personal_only(ctx, FORGETME)
        subject = subject_of(ctx.turn)
        confirmations.check(payload, subject, FORGETME[ctx.lang][0])
        outcome = await service().forget(subject)
        return ActionResult(card=outcome_card(ctx.for_lang(payload.lang or ctx.lang), outcome))

    async def forget_cancel(ctx: Context, payload: ForgetPayload) -> ActionResult:
        tr = ctx.for_lang(payload.lang or ctx.lang)
        return ActionResult(
            card=note_card(tr, tr._("Nothing was erased"), [tr._("Tapaamo keeps your data as it was.")])
        )

    async def notice(ctx: Context, args: str) -> Sequence[Reply]:
        retention = privacy.retention if privacy is not None else Retention()
        return [CardReply(privacy_card(ctx.tr, retention, contact))]

    router.command(
        Command(
            name="privacy",
            aliases=PRIVACY,
            handler=notice,
            summary=N_("What Tapaamo keeps about you, why, for how long, and who sees it."),
        )
    )
    router.command(
        Command(
            name="mydata",
            aliases=MYDATA,
            handler=mydata,
            summary=N_("See everything Tapaamo holds on you, and download it (in a personal chat)."),
        )
    )
    router.command(
        Command(
            name="forgetme",
            aliases=FORGETME,
            handler=forgetme,
            summary=N_("Erase what Tapaamo holds on you (in a personal chat)."),
        )
    )
    router.action("privacy.forget_confirm", ForgetConfirmPayload, forget_confirm)
    router.action("privacy.forget_cancel", ForgetPayload, forget_cancel)
