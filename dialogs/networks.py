"""network create|info|edit|pause|resume|end|coordinators, and networks: running a network by chat."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import cast

from pydantic import BaseModel, ConfigDict

from dialogs import session_cards
from dialogs.args import split_args, take_keyword
from dialogs.common import MissingParts, person, services
from dialogs.i18n import N_
from dialogs.router import Command, Context, Router
from dialogs.session_cards import note_card
from dialogs.turn import ActionResult, CardReply, Lang, Reply, TextReply, User
from domain.errors import UserError
from domain.networks import Network, NetworkStatus, check_text, fold, parse_cadence
from domain.sessions import Person
from domain.when import parse_limit

USAGE: dict[Lang, str] = {
    "en": 'network create "Name" weekly [lang fi|sv|en] [fixed-term until 30.6.2027]',
    "fi": 'verkosto luo "Nimi" viikoittain [kieli fi|sv|en] [määräaikainen asti 30.6.2027]',
    "sv": 'nätverk skapa "Namn" veckovis [språk fi|sv|en] [tidsbegränsat till 30.6.2027]',
}
MENU: dict[Lang, str] = {
    "en": "network create|info|edit|pause|resume|end|coordinators NAME",
    "fi": "verkosto luo|tiedot|muokkaa|tauko|jatka|lopeta|koordinaattorit NIMI",
    "sv": "nätverk skapa|visa|ändra|pausa|återuppta|avsluta|koordinatorer NAMN",
}
EDIT_USAGE: dict[Lang, str] = {
    "en": 'network edit NAME description|join|cadence|lang|name|ends "..." | counts on|off',
    "fi": 'verkosto muokkaa NIMI kuvaus|liittyminen|tahti|kieli|nimi|päättyy "..." | määrät päälle|pois',
    "sv": 'nätverk ändra NAMN beskrivning|anslutning|takt|språk|namn|slutar "..." | antal på|av',
}
COUNTS_USAGE: dict[Lang, str] = {
    "en": "network edit NAME counts on|off",
    "fi": "verkosto muokkaa NIMI määrät päälle|pois",
    "sv": "nätverk ändra NAMN antal på|av",
}
COORDINATORS_USAGE: dict[Lang, str] = {
    "en": "network coordinators add|remove NAME @person",
    "fi": "verkosto koordinaattorit lisää|poista NIMI @henkilö",
    "sv": "nätverk koordinatorer lägg-till|ta-bort NAMN @person",
}
NAME_WORD: dict[Lang, str] = {"en": "NAME", "fi": "NIMI", "sv": "NAMN"}
# "ends" with one of these takes the end date away: the network goes on with no end.
NO_END_WORDS = {"none", "no", "never", "-", "ei", "ei-koskaan", "ingen", "inget", "aldrig"}
SUBCOMMANDS: dict[str, tuple[str, ...]] = {
    "create": ("create", "new", "luo", "uusi", "skapa", "ny"),
    "info": ("info", "tiedot", "visa"),
    "edit": ("edit", "muokkaa", "ändra"),
    "pause": ("pause", "tauko", "pausa"),
    "resume": ("resume", "jatka", "återuppta", "fortsätt"),
    "end": ("end", "lopeta", "päätä", "avsluta"),
    "coordinators": (
        "coordinators",
        "coordinator",
        "koordinaattorit",
        "koordinaattori",
        "koordinatorer",
        "koordinator",
    ),
}
FIELDS: dict[str, tuple[str, ...]] = {
    "description": ("description", "kuvaus", "beskrivning"),
    "join": ("join", "liittyminen", "anslutning"),
    "cadence": ("cadence", "tahti", "takt"),
    "lang": ("lang", "language", "kieli", "språk"),
    "name": ("name", "nimi", "namn"),
    "ends": ("ends", "päättyy", "slutar"),
    "counts": ("counts", "määrät", "antal"),
}
ON_WORDS = {"on", "yes", "päälle", "päällä", "kyllä", "på", "ja"}
OFF_WORDS = {"off", "no", "pois", "ei", "av", "nej"}
LANG_WORDS = {"lang", "language", "kieli", "språk"}
FIXED_TERM_WORDS = {"fixed-term", "fixed", "määräaikainen", "tidsbegränsat", "tidsbegränsad"}
JOIN_WORDS = {"join", "liittyminen", "anslutning"}
ADD_WORDS = {"add", "lisää", "lägg", "lägg-till"}
REMOVE_WORDS = {"remove", "poista", "ta", "ta-bort"}


class BadLanguage(UserError):
    message_id = N_("The language must be fi, sv or en.")


class UnknownField(UserError):
    message_id = N_("A network has no \u201c{field}\u201d to change. Use: {usage}")


class NeedMention(UserError):
    message_id = N_("Mention the person with @, e.g. {usage}")


class BadEndDate(UserError):
    message_id = N_("The end date must be a future date such as 30.6.2027.")


class FollowPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    network: int
    follow: bool
    session: int | None = None


def _sub(word: str) -> str | None:
    folded = fold(word)
    for name, aliases in SUBCOMMANDS.items():
        if folded in {fold(a) for a in aliases}:
            return name
    return None


def _lang(value: str) -> Lang:
    value = value.casefold()
    if value not in ("fi", "sv", "en"):
        raise BadLanguage()
    return cast(Lang, value)


def _on_off(ctx: Context, value: str) -> bool:
    word = fold(value)
    if word in {fold(w) for w in ON_WORDS}:
        return True
    if word in {fold(w) for w in OFF_WORDS}:
        return False
    raise MissingParts(usage=COUNTS_USAGE[ctx.lang])


def _end_date(ctx: Context, tokens: list[str]) -> date | None:
    text = " ".join(tokens)
    until, _count = parse_limit(f"until {text}", lang="en", tz=services(ctx).timezone, now=ctx.clock.now())
    if until is None or until <= ctx.clock.now().date():
        raise BadEndDate()
    return until


async def network_command(ctx: Context, args: str) -> Sequence[Reply]:
    tokens = split_args(args)
    sub = _sub(tokens[0]) if tokens else None
    if sub is None:
        # "verkosto" alone or with an unknown word: every subcommand, then how to create one
        raise MissingParts(usage=f"{MENU[ctx.lang]} \u2013 {USAGE[ctx.lang]}")
    rest = tokens[1:]
    if sub == "create":
        return await _create(ctx, rest)
    if not rest:
        raise MissingParts(usage=f"{tokens[0]} {NAME_WORD[ctx.lang]}")
    planning = services(ctx).planning
    if sub == "coordinators":
        return await _coordinators(ctx, rest)
    # An ended network is still found where that makes sense (its card, "has already ended").
    network = await planning.find(rest[0], include_ended=sub in ("info", "pause", "resume", "end"))
    me = person(ctx.turn)
    if sub == "info":
        return [await _network_card(ctx, network)]
    if sub in ("pause", "resume", "end"):
        status = {"pause": NetworkStatus.PAUSED, "resume": NetworkStatus.ACTIVE, "end": NetworkStatus.ENDED}[
            sub
        ]
        await planning.set_status(network, me, status)
        text = {
            "pause": ctx.tr._(
                "{network} is paused. Nothing new is announced until it is resumed.", network=network.name
            ),
            "resume": ctx.tr._("{network} is active again.", network=network.name),
            "end": ctx.tr._(
                "{network} has ended; its upcoming sessions are cancelled.", network=network.name
            ),
        }[sub]
        return [TextReply(text)]
    return await _edit(ctx, network, rest[1:])


async def _create(ctx: Context, tokens: list[str]) -> Sequence[Reply]:
    if len(tokens) < 2:
        raise MissingParts(usage=USAGE[ctx.lang])
    name, rest = tokens[0], tokens[1:]
    lang_value = take_keyword(rest, LANG_WORDS)
    lang = _lang(lang_value) if lang_value else ctx.lang
    join_text = take_keyword(rest, JOIN_WORDS) or ""
    ends_on = None
    flag_at = next((i for i, word in enumerate(rest) if word.casefold() in FIXED_TERM_WORDS), None)
    if flag_at is not None:
        rest.pop(flag_at)
        ends_on = _end_date(ctx, _take_date_words(rest, flag_at))
    if not rest:
        raise MissingParts(usage=USAGE[ctx.lang])
    cadence = parse_cadence(" ".join(rest))
    turn = ctx.turn
    home = turn.conversation_id if turn.conversation_kind != "personal" else None
    network = await services(ctx).planning.create(
        name=name,
        cadence=cadence,
        lang=lang,
        creator=person(turn),
        home_conversation_id=home,
        ends_on=ends_on,
        join_text=join_text,
    )
    if home is not None and network.home_conversation_id != home:
        await _remember_channel(ctx, home, network.home_conversation_id)
    tr = ctx.tr
    lines = [
        tr._("{network} is created and you coordinate it.", network=network.name),
        tr._("Its sessions are announced in this conversation."),
        tr._(
            "Next: schedule a session, e.g. {example}",
            example=SCHEDULE_EXAMPLE[ctx.lang].format(name=network.name),
        ),
    ]
    return [CardReply(note_card(tr, network.name, lines))]


async def _remember_channel(ctx: Context, thread: str, channel: str | None) -> None:
    """Keep a reference to the channel itself, from the thread's: posts to it start new threads.

    A channel's message arrives in its thread's conversation ("…;messageid=…"), the only
    reference the turn stored; announcements go to the channel, so they need one of their own."""
    refs = services(ctx).refs
    ref = await refs.get(thread)
    if ref is None or channel is None:
        return
    conversation = {**(ref.reference.get("conversation") or {}), "id": channel}
    await refs.upsert(
        replace(ref, conversation_id=channel, reference={**ref.reference, "conversation": conversation})
    )


SCHEDULE_EXAMPLE: dict[Lang, str] = {
    "en": 'schedule "{name}" "every thursday 14:00"',
    "fi": 'sovi "{name}" "joka torstai klo 14"',
    "sv": 'planera "{name}" "varje torsdag kl 14"',
}
UNTIL_WORDS = {"until", "asti", "saakka", "till", "tills"}


def _take_date_words(rest: list[str], at: int) -> list[str]:
    """After "fixed-term" (which stood at ``at``): [until] DATE [asti]; take and return the date."""
    taken: list[str] = []
    while at < len(rest) and rest[at].casefold() in UNTIL_WORDS:
        rest.pop(at)
    if at < len(rest):
        taken.append(rest.pop(at))
    while at < len(rest) and rest[at].casefold() in UNTIL_WORDS:
        rest.pop(at)
    return taken


async def _edit(ctx: Context, network: Network, tokens: list[str]) -> Sequence[Reply]:
    # The network found once by the command: looking it up again by a name could, after a
    # rename, reach another network.
    usage = EDIT_USAGE[ctx.lang]
    if len(tokens) < 2:
        raise MissingParts(usage=usage)
    field = next((f for f, aliases in FIELDS.items() if fold(tokens[0]) in {fold(a) for a in aliases}), None)
    if field is None:
        raise UnknownField(field=tokens[0], usage=usage)
    value = " ".join(tokens[1:])
    planning = services(ctx).planning
    me = person(ctx.turn)
    if field == "description":
        network = await planning.edit(network, me, description=check_text(value))
    elif field == "join":
        network = await planning.edit(network, me, join_text=check_text(value))
    elif field == "cadence":
        network = await planning.edit(network, me, cadence=parse_cadence(value))
    elif field == "lang":
        network = await planning.edit(network, me, lang=_lang(value))
    elif field == "name":
        network = await planning.edit(network, me, name=value)
    elif field == "counts":
        network = await planning.edit(network, me, public_counts=_on_off(ctx, value))
        text = (
            ctx.tr._(
                "The public page of {network} now shows how many took part in its past sessions, never who.",
                network=network.name,
            )
            if network.public_counts
            else ctx.tr._(
                "The public page of {network} no longer shows participant counts.", network=network.name
            )
        )
        return [TextReply(text)]
    elif fold(value) in NO_END_WORDS:
        network = await planning.edit(network, me, ends_on=None)
    else:
        network = await planning.edit(network, me, ends_on=_end_date(ctx, tokens[1:]))
    return [await _network_card(ctx, network, ctx.tr._("{network} is updated.", network=network.name))]


async def _network_card(ctx: Context, network: Network, updated: str | None = None) -> CardReply:
    """The network's card with its next session; ``updated`` says above it what just changed."""
    svc = services(ctx)
    upcoming = (await svc.sessions.next_sessions(ctx.clock.now())).get(network.id)
    return CardReply(session_cards.network_card(ctx.tr, network, upcoming, svc.public_url, updated=updated))


async def _coordinators(ctx: Context, tokens: list[str]) -> Sequence[Reply]:
    usage = COORDINATORS_USAGE[ctx.lang]
    if len(tokens) < 2:
        raise MissingParts(usage=usage)
    verb = fold(tokens[0])
    planning = services(ctx).planning
    network = await planning.find(tokens[1])
    mentioned = [m for m in ctx.turn.mentions if m.id]
    if verb in {fold(w) for w in ADD_WORDS} | {fold(w) for w in REMOVE_WORDS} and not mentioned:
        raise NeedMention(usage=usage)
    me = person(ctx.turn)
    replies: list[Reply] = []
    for user in mentioned:
        other = _person(user)
        who = user.name or user.id
        if verb in {fold(w) for w in ADD_WORDS}:
            await planning.add_coordinator(network, me, other)
            replies.append(
                TextReply(ctx.tr._("{name} now coordinates {network}.", name=user.name, network=network.name))
            )
        elif verb in {fold(w) for w in REMOVE_WORDS}:
            if not await planning.remove_coordinator(network, me, other):
                text = ctx.tr._("{name} is not a coordinator of {network}.", name=who, network=network.name)
                replies.append(TextReply(text))
                continue
            replies.append(
                TextReply(
                    ctx.tr._("{name} no longer coordinates {network}.", name=user.name, network=network.name)
                )
            )
        else:
            raise MissingParts(usage=usage)
    return replies


def _person(user: User) -> Person:
    return Person(user.id, user.name, user.aad_id)


async def networks_command(ctx: Context, args: str) -> Sequence[Reply]:
    svc = services(ctx)
    networks = await svc.planning.networks.all([NetworkStatus.ACTIVE.value, NetworkStatus.PAUSED.value])
    upcoming = await svc.sessions.next_sessions(ctx.clock.now())
    return [CardReply(session_cards.networks_card(ctx.tr, networks, upcoming, svc.public_url))]


async def follow_action(ctx: Context, payload: FollowPayload) -> ActionResult:
    svc = services(ctx)
    me = person(ctx.turn)
    await svc.planning.set_follow(payload.network, me, payload.follow)
    network = await svc.planning.networks.get(payload.network)
    assert network is not None
    if payload.session is not None:
        from dialogs.sessions import personal_view

        return ActionResult(card=await personal_view(ctx, payload.session))
    tr = ctx.tr
    text = (
        tr._("You follow {network}: you will hear of its sessions.", network=network.name)
        if payload.follow
        else tr._("You no longer follow {network}.", network=network.name)
    )
    return ActionResult(card=note_card(tr, network.name, [text]))


async def follow_command(ctx: Context, args: str, follow: bool) -> Sequence[Reply]:
    tokens = split_args(args)
    if not tokens:
        raise MissingParts()
    svc = services(ctx)
    network = await svc.planning.find(" ".join(tokens))
    await svc.planning.set_follow(network.id, person(ctx.turn), follow)
    if follow:
        text = ctx.tr._("You follow {network}: you will hear of its sessions.", network=network.name)
        if ctx.turn.conversation_kind != "personal":
            text += " " + ctx.tr._("Reminders come in a personal chat with me, if you have one.")
        return [TextReply(text)]
    return [TextReply(ctx.tr._("You no longer follow {network}.", network=network.name))]


async def follow(ctx: Context, args: str) -> Sequence[Reply]:
    return await follow_command(ctx, args, True)


async def unfollow(ctx: Context, args: str) -> Sequence[Reply]:
    return await follow_command(ctx, args, False)


def register(router: Router) -> None:
    router.command(
        Command(
            name="networks",
            aliases={"en": ("networks",), "fi": ("verkostot",), "sv": ("nätverken",)},
            handler=networks_command,
            summary=N_("List the networks, their next sessions and how to join."),
        )
    )
    router.command(
        Command(
            name="network",
            aliases={"en": ("network",), "fi": ("verkosto",), "sv": ("nätverk",)},
            handler=network_command,
            summary=N_(
                "Create a network here, or show, edit, pause, resume or end one; "
                "add or remove coordinators with @mentions."
            ),
            usage=USAGE,
            coordinator_only=True,
        )
    )
    router.command(
        Command(
            name="follow",
            aliases={"en": ("follow",), "fi": ("seuraa",), "sv": ("följ",)},
            handler=follow,
            summary=N_("Hear of a network's sessions: announcements and reminders."),
            usage={"en": "follow NAME", "fi": "seuraa NIMI", "sv": "följ NAMN"},
        )
    )
    router.command(
        Command(
            name="unfollow",
            aliases={"en": ("unfollow",), "fi": ("lopeta-seuranta",), "sv": ("sluta-följa",)},
            handler=unfollow,
            summary=N_("Stop following a network."),
            usage={"en": "unfollow NAME", "fi": "lopeta-seuranta NIMI", "sv": "sluta-följa NAMN"},
        )
    )
    router.action("network.follow", FollowPayload, follow_action)
