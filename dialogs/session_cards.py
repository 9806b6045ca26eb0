"""Cards of networks and sessions: pure functions from data to Adaptive Card dicts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import get_day_names, get_timezone_name
from babel.lists import format_list

from dialogs import cards
from dialogs.i18n import N_, Translator
from domain.networks import Network, NetworkStatus
from domain.sessions import Draft, Session, SessionStatus
from domain.when import rule_parts

WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
MAX_REFRESH_USERS = 60  # Teams refreshes a card automatically for at most 60 listed users


def when_text(tr: Translator, moment: datetime, tz: str, *, capital: bool = True) -> str:
    """Weekday, date, time and zone, e.g. "Torstaina 26.11.2026 14:00 (Itä-Euroopan aika)";
    with ``capital=False`` as written inside a sentence ("Peruttu: X, torstaina 26.11.2026 …")."""
    local = moment.astimezone(ZoneInfo(tz))
    zone = get_timezone_name(local, locale=tr.locale)
    text = tr.datetime(moment, tz)
    if capital:
        text = f"{text[:1].upper()}{text[1:]}"
    return f"{text} ({zone})"


def minutes_text(tr: Translator, duration: timedelta) -> str:
    minutes = int(duration.total_seconds() // 60)
    return tr.n_("{n} minute", "{n} minutes", minutes)


ORDINALS = {
    1: N_("first"),
    2: N_("second"),
    3: N_("third"),
    4: N_("fourth"),
    5: N_("fifth"),
    -1: N_("last"),
}


def repeat_text(tr: Translator, rrule: str | None, until: Any = None, count: int | None = None) -> str | None:
    """ "every Monday and Thursday until 27 May 2027" from an RRULE, in the card's language."""
    if not rrule:
        return None
    parts = rule_parts(rrule)
    names = get_day_names("wide", context="stand-alone", locale=tr.locale)
    days = [day for day in parts.get("BYDAY", "").split(",") if day[-2:] in WEEKDAYS]
    weekday = format_list([names[WEEKDAYS[day[-2:]]] for day in days], locale=tr.locale) if days else ""
    try:
        interval = max(1, int(parts.get("INTERVAL", "1")))
    except ValueError:
        interval = 1
    if parts.get("FREQ") == "MONTHLY":
        position = days[0][:-2] if days else ""
        ordinal = ORDINALS.get(int(position)) if position.lstrip("-").isdigit() else None
        if ordinal is None or len(days) != 1:
            text = tr._("monthly") if interval == 1 else tr._("every {n} months", n=interval)
        elif interval == 1:
            text = tr._("the {ordinal} {weekday} of every month", ordinal=tr._(ordinal), weekday=weekday)
        else:
            text = tr._(
                "the {ordinal} {weekday} of every {n} months",
                ordinal=tr._(ordinal),
                weekday=weekday,
                n=interval,
            )
    elif interval == 2:
        text = tr._("every other {weekday}", weekday=weekday)
    elif interval > 2:
        text = tr._("every {n} weeks on {weekday}", n=interval, weekday=weekday)
    else:
        text = tr._("every {weekday}", weekday=weekday)
    if until:
        text += " " + tr._("until {date}", date=until)
    if count:
        text += ", " + tr.n_("{n} time", "{n} times", count)
    return text


def confirm_card(
    tr: Translator, network: Network, draft: Draft, warnings: Sequence[str] = ()
) -> dict[str, Any]:
    pairs = [
        (tr._("Network"), network.name),
        (tr._("When"), when_text(tr, draft.starts_at, network.timezone)),
        (tr._("Length"), minutes_text(tr, draft.duration)),
    ]
    repeats = repeat_text(tr, draft.rrule, draft.until, draft.count)
    if repeats:
        pairs.append((tr._("Repeats"), repeats))
    if draft.topic:
        pairs.append((tr._("Topic"), draft.topic))
    pairs.append((tr._("Join link"), draft.join_url or tr._("none yet")))
    body: list[cards.Element] = [
        cards.title(tr._("Is this right?")),
        cards.facts(pairs),
    ]
    for warning in warnings:
        body.append({"type": "TextBlock", "text": "\u26a0 " + warning, "wrap": True, "color": "Warning"})
    body.append(cards.text(tr._("Nothing is posted before you confirm."), subtle=True, size="Small"))
    # The card's language goes with each click: the answer is in it, not in the Teams locale.
    data = {"draft": draft.id, "lang": tr.lang}
    actions = [
        cards.execute(tr._("Confirm"), "session.confirm", data, style="positive"),
        cards.execute(tr._("Change"), "session.change", data),
        cards.execute(tr._("Discard"), "session.discard", data),
    ]
    return cards.card(body, lang=tr.lang, fallback=tr._("Is this right?"), actions=actions)


def change_card(tr: Translator, network: Network, draft: Draft, when_value: str) -> dict[str, Any]:
    minutes = int(draft.duration.total_seconds() // 60)
    body: list[cards.Element] = [
        cards.title(tr._("Change the session of {network}", network=network.name)),
        {
            "type": "Input.Text",
            "id": "when",
            "label": tr._("Date and time"),
            "value": when_value,
            "isRequired": True,
            "errorMessage": tr._("Please give a date and time."),
        },
        {
            "type": "Input.Number",
            "id": "minutes",
            "label": tr._("Length in minutes"),
            "value": minutes,
            "min": 5,
            "max": 720,
        },
        {"type": "Input.Text", "id": "topic", "label": tr._("Topic"), "value": draft.topic, "maxLength": 200},
    ]
    data = {"draft": draft.id, "lang": tr.lang}
    actions = [
        cards.execute(tr._("Show the new time"), "session.redraft", data, style="positive"),
        cards.execute(tr._("Discard"), "session.discard", data),
    ]
    return cards.card(body, lang=tr.lang, fallback=tr._("Change the session"), actions=actions)


def note_card(tr: Translator, title_text: str, lines: Sequence[str]) -> dict[str, Any]:
    body = [cards.title(title_text), *[cards.text(line) for line in lines]]
    return cards.card(body, lang=tr.lang, fallback=title_text)


def session_card(
    tr: Translator,
    network: Network,
    session: Session,
    *,
    coming: int,
    public_url: str,
    refresh_user_ids: Sequence[str] = (),
    me_coming: bool | None = None,
    me_following: bool | None = None,
    repeats: str | None = None,
    checkin_open: bool = False,
) -> dict[str, Any]:
    """The announcement of a session; with ``me_*`` set, the view of one person.

    ``checkin_open``: the check-in window is open (from 15 minutes before the start to the end),
    so the person's view has an "I'm here" button."""
    cancelled = session.status == SessionStatus.CANCELLED
    body: list[cards.Element] = [
        {"type": "TextBlock", "text": network.name, "weight": "Bolder", "size": "Small", "isSubtle": True},
        cards.title(session.topic or tr._("Session of {network}", network=network.name)),
    ]
    if cancelled:
        body.append(
            {
                "type": "TextBlock",
                "text": tr._("Cancelled"),
                "weight": "Bolder",
                "color": "Attention",
                "size": "Large",
            }
        )
    pairs = [
        (tr._("When"), when_text(tr, session.starts_at, network.timezone)),
        (tr._("Length"), minutes_text(tr, session.ends_at - session.starts_at)),
    ]
    if repeats:
        pairs.append((tr._("Repeats"), repeats))
    pairs.append((tr._("Coming"), tr.n_("{n} person", "{n} people", coming)))
    body.append(cards.facts(pairs))
    if network.join_text:
        body.append(cards.text(network.join_text, subtle=True))
    if me_coming is not None:
        mine = tr._("\u2714 You are coming.") if me_coming else tr._("You have not said you are coming.")
        body.append(
            {"type": "TextBlock", "text": mine, "wrap": True, "color": "Good" if me_coming else "Default"}
        )
    actions: list[cards.Element] = []
    if not cancelled:
        if checkin_open:
            actions.append(
                cards.execute(tr._("I'm here"), "session.checkin", {"session": session.id}, style="positive")
            )
        if session.join_url:
            actions.append(cards.open_url(tr._("Join"), session.join_url))
        actions.append(
            cards.open_url(tr._("Add to calendar"), f"{public_url.rstrip('/')}/ics/session/{session.id}.ics")
        )
        if me_coming:
            actions.append(
                cards.execute(
                    tr._("I can't come after all"), "session.rsvp", {"session": session.id, "coming": False}
                )
            )
        else:
            actions.append(
                cards.execute(
                    tr._("I'll come"),
                    "session.rsvp",
                    {"session": session.id, "coming": True},
                    style="positive",
                )
            )
        if me_following:
            actions.append(
                cards.execute(
                    tr._("Unfollow"),
                    "network.follow",
                    {"network": network.id, "follow": False, "session": session.id},
                )
            )
        else:
            actions.append(
                cards.execute(
                    tr._("Follow"),
                    "network.follow",
                    {"network": network.id, "follow": True, "session": session.id},
                )
            )
    refresh = None
    if not cancelled:
        refresh = {
            "action": {"type": "Action.Execute", "verb": "session.view", "data": {"session": session.id}},
            "userIds": list(refresh_user_ids)[:MAX_REFRESH_USERS],
        }
    fallback = f"{network.name}: {session.topic or ''} {when_text(tr, session.starts_at, network.timezone)}"
    return cards.card(body, lang=tr.lang, fallback=fallback.strip(), actions=actions, refresh=refresh)


def sessions_card(
    tr: Translator,
    network: Network,
    upcoming: Sequence[Session],
    recent: Sequence[Session],
    coming: Mapping[int, int],
    took_part: Mapping[int, int] | None = None,
    *,
    more_cancelled: int = 0,
) -> dict[str, Any]:
    """A network's sessions: upcoming ones with how many are coming, past ones with how many took
    part (``took_part``, from the participation ledger) or that they were cancelled."""
    took_part = took_part or {}

    def upcoming_state(session: Session) -> str:
        if session.status == SessionStatus.CANCELLED:
            return tr._("cancelled")
        if session.status == SessionStatus.HELD:  # under way: Teams said the meeting started
            return tr._("held")
        if not coming.get(session.id):
            return ""  # "(0 coming)" on every line is noise; no count says the same
        return tr.n_("{n} coming", "{n} coming", coming[session.id])

    def past_state(session: Session) -> str:
        # A past session not cancelled counts as held, as on the report: most leave no Teams trace.
        if session.status == SessionStatus.CANCELLED:
            return tr._("cancelled")
        count = took_part.get(session.id, 0)
        if count == 0:
            return tr._("held, no participants recorded")
        return tr.n_("held, {n} took part", "held, {n} took part", count)

    def rows(sessions: Sequence[Session], state: Callable[[Session], str]) -> list[cards.Element]:
        result: list[cards.Element] = []
        for session in sessions:
            topic = f" \u2013 {session.topic}" if session.topic else ""
            shown = state(session)
            suffix = f" ({shown})" if shown else ""
            moment = tr.datetime(session.starts_at, network.timezone)
            result.append(cards.text(f"**#{session.id}** {moment}{topic}{suffix}"))
        return result

    body: list[cards.Element] = [cards.title(tr._("Sessions of {network}", network=network.name))]
    body.append({"type": "TextBlock", "text": tr._("Upcoming"), "weight": "Bolder", "wrap": True})
    body += rows(upcoming, upcoming_state) or [cards.text(tr._("Nothing scheduled."), subtle=True)]
    if more_cancelled:
        body.append(
            cards.text(tr.n_("and {n} more cancelled", "and {n} more cancelled", more_cancelled), subtle=True)
        )
    if recent:
        body.append({"type": "TextBlock", "text": tr._("Recent"), "weight": "Bolder", "wrap": True})
        body += rows(recent, past_state)
    return cards.card(body, lang=tr.lang, fallback=tr._("Sessions of {network}", network=network.name))


def status_text(tr: Translator, status: NetworkStatus) -> str:
    return {
        NetworkStatus.ACTIVE: tr._("active"),
        NetworkStatus.PAUSED: tr._("paused"),
        NetworkStatus.ENDED: tr._("ended"),
    }[status]


def cadence_text(tr: Translator, network: Network) -> str:
    cadence = network.cadence
    if cadence.kind == "weekly":
        return tr._("weekly")
    if cadence.kind == "biweekly":
        return tr._("every other week")
    if cadence.kind == "monthly":
        return tr._("monthly")
    if cadence.bucket == "<1":
        return tr._("less than once a year")
    if cadence.bucket == ">10":
        return tr._("more than 10 times a year")
    if cadence.bucket is not None:  # "3-5" as written, with a proper dash
        return tr._("{range} times a year", range=cadence.bucket.replace("-", "\u2013"))
    return tr._("{n} times a year", n=tr.number(cadence.per_year))


def network_card(
    tr: Translator,
    network: Network,
    next_session: Session | None,
    public_url: str,
    *,
    updated: str | None = None,
) -> dict[str, Any]:
    """A network's card; ``updated`` (a change just made) is said above it, so the coordinator
    sees what the card now says."""
    pairs = [
        (tr._("Meets"), cadence_text(tr, network)),
        (tr._("Language"), {"fi": "suomi", "sv": "svenska", "en": "English"}[network.lang]),
        (tr._("Status"), status_text(tr, network.status)),
        (tr._("Coordinators"), network.coordinator_names()),
    ]
    if network.ends_on:
        pairs.append((tr._("Ends on"), tr.date(network.ends_on)))
    pairs.append(
        (
            tr._("Next session"),
            when_text(tr, next_session.starts_at, network.timezone)
            if next_session
            else tr._("not scheduled"),
        )
    )
    body: list[cards.Element] = [cards.title(network.name), cards.facts(pairs)]
    if network.description:
        body.append(cards.text(network.description))
    if network.join_text:
        body.append(cards.text(network.join_text, subtle=True))
    actions = [cards.execute(tr._("Follow"), "network.follow", {"network": network.id, "follow": True})]
    if network.status == NetworkStatus.ENDED:
        actions = []  # nothing more to hear of
    if next_session and next_session.join_url:
        actions.insert(0, cards.open_url(tr._("Join the next session"), next_session.join_url))
    if updated:
        body.insert(0, {"type": "TextBlock", "text": "\u2714 " + updated, "wrap": True, "color": "Good"})
    return cards.card(body, lang=tr.lang, fallback=updated or network.name, actions=actions)


FOLLOW_WORD = {"en": "follow", "fi": "seuraa", "sv": "följ"}


def join_text(tr: Translator, network: Network) -> str:
    """How to join the network: its coordinators' words, else the way every network is joined."""
    if network.join_text:
        return tr._("How to join: {text}", text=network.join_text)
    return tr._(
        "How to join: open to all, with the link in each session's announcement. "
        "To hear of its sessions: {command}",
        command=f"{FOLLOW_WORD[tr.lang]} {network.name}",
    )


def networks_card(
    tr: Translator, networks: Sequence[Network], next_sessions: Mapping[int, Session], public_url: str
) -> dict[str, Any]:
    body: list[cards.Element] = [cards.title(tr._("Networks"))]
    if not networks:
        body.append(
            cards.text(tr._("No networks yet. A coordinator creates one with \u201cnetwork create\u201d."))
        )
    for network in networks:
        upcoming = next_sessions.get(network.id)
        when = (
            when_text(tr, upcoming.starts_at, network.timezone, capital=False)
            if upcoming
            else tr._("not scheduled")
        )
        line = f"**{network.name}** \u2013 {cadence_text(tr, network)}, {status_text(tr, network.status)}. "
        line += tr._("Next: {when}", when=when)
        if upcoming and upcoming.join_url:
            line += f" \u2013 [{tr._('Join')}]({upcoming.join_url})"
        body.append(cards.text(line))
        body.append(cards.text(join_text(tr, network), subtle=True))
    actions: list[cards.Element] = []
    if networks:  # the public pages: every session ahead and a calendar to subscribe to
        index = f"{public_url.rstrip('/')}/?lang={tr.lang}"
        actions.append(cards.open_url(tr._("Network pages and calendars"), index))
    return cards.card(body, lang=tr.lang, fallback=tr._("Networks"), actions=actions)
