"""The public web pages and the coordinator report, as HTML strings.

Plain Python with ``html.escape`` around everything that comes from people or the database; the
page frame is ``web/templates/base.html`` (``string.Template``). Texts come from the gettext
catalogs (``dialogs/locales``), so the pages speak fi, sv and en like the bot does.

Public pages show only public facts about a network: what it does, how to join, when it meets.
Never who takes part or who coordinates it; how many took part in past sessions only when the
network's coordinators have turned counts on (``network edit NAME counts on``).
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_date

from dialogs.i18n import N_, Translator
from dialogs.session_cards import cadence_text, minutes_text, status_text, when_text
from dialogs.turn import LANGS, Lang
from domain.networks import Network, NetworkStatus
from domain.participation import NetworkFigures
from domain.polls import DONT_KNOW, OPTION_LABELS, QUESTION_TEXTS, SCALE, QuestionResult
from domain.sessions import Session, SessionStatus
from web import charts

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
BASE = Template((TEMPLATES / "base.html").read_text(encoding="utf-8"))
NATIVE_NAMES: Mapping[Lang, str] = {"fi": "Suomi", "sv": "Svenska", "en": "English"}
URL = re.compile(r"https://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")

# The privacy notice, section by section: (heading, paragraphs), as catalog ids. The bot's
# privacy command has the full notice with the retention periods of the settings; when the
# composition root passes it in (WebDeps.privacy_notice), /privacy shows that card instead.
PRIVACY_INTRO = N_(
    "Tapaamo is a Microsoft Teams bot that helps open online networks meet: it announces "
    "sessions, keeps a record of who took part, and runs short anonymous feedback polls."
)
PRIVACY_NOTICE: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        N_("What is kept"),
        (
            N_("Networks: their name, description, how to join, and their coordinators' names."),
            N_("Sessions: time, topic and join link."),
            N_(
                "Participation: for each session, the name, Teams identifiers and organisation "
                "(e-mail domain or tenant) of each person who took part, and when they joined and "
                "left. It comes from check-ins, Teams meeting events and attendance reports."
            ),
            N_("Who said they are coming to a session, and who follows a network's announcements."),
            N_(
                "Feedback: answers to polls, without who gave them. When a poll closes, nothing "
                "can link an answer to a person any more."
            ),
            N_("A log of what coordinators did to their networks."),
        ),
    ),
    (
        N_("Why"),
        (
            N_(
                "To announce sessions and remind those coming, to give each network's coordinators "
                "its participation figures for evaluation and reporting, and to collect feedback."
            ),
        ),
    ),
    (
        N_("How long"),
        (
            N_(
                "Who took part in a session is kept by name for a limited time, then only as "
                "counts. When a network ends, the names are removed from its records at once."
            ),
            N_("Technical records of Teams messages are deleted after two days."),
        ),
    ),
    (
        N_("Who sees it"),
        (
            N_(
                "A network's coordinators see who took part in its sessions and can download it "
                "for their organisation's records. Everyone else sees only the network's public "
                "page: what it does, when it meets and how to join."
            ),
            N_(
                "Feedback is shown only as counts and percentages, and only when at least five "
                "people answered."
            ),
        ),
    ),
    (
        N_("See and erase your data"),
        (
            N_(
                "You can see the data kept about you and ask for it to be erased: write "
                "\u201cmydata\u201d or \u201cforgetme\u201d to Tapaamo in a personal chat in Teams."
            ),
            N_("These pages set no cookies and track no one."),
        ),
    ),
)
TERMS: tuple[str, ...] = (
    N_(
        "These pages show public information about open online networks: what they do, when "
        "they meet and how to join."
    ),
    N_(
        "Anyone may join a network's sessions. Be respectful of the other participants; a "
        "network's coordinators may remove anyone who disrupts a session."
    ),
    N_("Times and links can change: the network's calendar and its announcements in Teams show the latest."),
    N_(
        "Report links are for the network's coordinators only: do not share them. They stop "
        "working by themselves."
    ),
    N_("Questions about a network go to its coordinators."),
)


# --------------------------------------------------------------------------------------------
# Language


def accepted_langs(header: str) -> list[Lang]:
    """Our languages in the order an Accept-Language header prefers them (q=0 left out)."""
    ranked: list[tuple[float, int, Lang]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        prefix = tag.strip().split("-")[0].lower()
        if prefix in LANGS and quality > 0:
            ranked.append((-quality, index, prefix))
    seen: list[Lang] = []
    for _, _, lang in sorted(ranked):
        if lang not in seen:
            seen.append(lang)
    return seen


def negotiate(query: str | None, accept_language: str, default: Lang) -> tuple[Lang, bool]:
    """``?lang=`` first, then Accept-Language, else ``default``; and whether ?lang= chose it."""
    if query in LANGS:
        return query, True
    preferred = accepted_langs(accept_language)
    return (preferred[0] if preferred else default), False


# --------------------------------------------------------------------------------------------
# The frame of every page


@dataclass(frozen=True, slots=True)
class Site:
    """What every page needs: the language, where the pages live, and the page's own path."""

    tr: Translator
    public_url: str
    path: str  # this page's path below the base, e.g. "/n/digisumpit"
    explicit: bool = False  # the language came from ?lang=, so links carry it on

    @property
    def lang(self) -> Lang:
        return self.tr.lang

    @property
    def base(self) -> str:
        """The path prefix of the pages ("" when the bot is at the root of its host)."""
        return urlsplit(self.public_url).path.rstrip("/")

    def url(self, path: str) -> str:
        """A link to another page, in this page's language when the reader chose it."""
        suffix = f"?lang={self.lang}" if self.explicit else ""
        return f"{self.base}{path}{suffix}"

    def absolute(self, path: str) -> str:
        return f"{self.public_url.rstrip('/')}{path}"


def el(name: str, content: str = "", **attrs: str | None) -> str:
    """An element: ``content`` is HTML already (escape text first); attribute values are escaped.
    ``class_`` is class, and underscores in other names become dashes (``aria_label``)."""
    rendered = "".join(
        f' {key.rstrip("_").replace("_", "-")}="{escape(value, quote=True)}"'
        for key, value in attrs.items()
        if value is not None
    )
    return f"<{name}{rendered}>{content}</{name}>"


def p(text: str, **attrs: str | None) -> str:
    return el("p", escape(text), **attrs)


def section(ident: str, heading: str, *content: str) -> str:
    """A region of the page, named by its h2."""
    inner = "\n".join([el("h2", escape(heading), id=ident), *content])
    return el("section", f"\n{inner}\n", aria_labelledby=ident)


def layout(site: Site, title: str, body: str, *, private: bool = False) -> str:
    tr = site.tr
    langs = []
    for lang in LANGS:
        link = el(
            "a",
            NATIVE_NAMES[lang],
            href=f"{site.base}{site.path}?lang={lang}",
            lang=lang,
            hreflang=lang,
            aria_current="true" if lang == site.lang else None,
        )
        langs.append(el("li", link))
    meta = ""
    if private:
        meta = '<meta name="robots" content="noindex, nofollow">\n'
        meta += '<meta name="referrer" content="no-referrer">\n'
    footer = (
        ("/", tr._("All networks")),
        ("/privacy", tr._("Privacy notice")),
        ("/terms", tr._("Terms of use")),
    )
    return BASE.substitute(
        lang=site.lang,
        title=escape(f"{title} \u2013 Tapaamo"),
        meta=meta,
        static=escape(f"{site.base}/static", quote=True),
        skip=escape(tr._("Skip to content")),
        home=escape(site.url("/"), quote=True),
        lang_label=escape(tr._("Language"), quote=True),
        langs="\n".join(langs),
        body=body,
        footer_label=escape(tr._("About these pages"), quote=True),
        footer_links="\n".join(el("li", el("a", escape(text), href=site.url(path))) for path, text in footer),
        footer_text=escape(tr._("Tapaamo helps open online networks meet in Microsoft Teams.")),
    )


def rich(text: str) -> str:
    """People's text as paragraphs (blank lines) and line breaks, with https links clickable."""
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n", text.strip()) if part.strip()]
    out = []
    for paragraph in paragraphs:
        parts: list[str] = []
        last = 0
        for match in URL.finditer(paragraph):
            parts.append(escape(paragraph[last : match.start()]))
            parts.append(el("a", escape(match.group()), href=match.group()))
            last = match.end()
        parts.append(escape(paragraph[last:]))
        out.append(el("p", "".join(parts).replace("\n", "<br>\n")))
    return "\n".join(out)


def _time(tr: Translator, moment: datetime, tz: str) -> str:
    local = moment.astimezone(ZoneInfo(tz))
    return el("time", escape(when_text(tr, moment, tz)), datetime=local.isoformat())


def language_name(tr: Translator, lang: Lang) -> str:
    """The name of a language in the reader's language: Finnish, suomi, finska."""
    return str(tr.locale.languages.get(lang, lang))


def _facts(pairs: Iterable[tuple[str, str]]) -> str:
    """A definition list; values are HTML already."""
    rows = "\n".join(el("dt", escape(term)) + el("dd", value) for term, value in pairs)
    return el("dl", f"\n{rows}\n", class_="facts")


# --------------------------------------------------------------------------------------------
# Public pages


def index_page(site: Site, networks: Sequence[Network], next_sessions: Mapping[int, Session]) -> str:
    tr = site.tr
    title = tr._("Open online networks")
    items = []
    for network in networks:
        upcoming = next_sessions.get(network.id)
        next_text = (
            _time(tr, upcoming.starts_at, network.timezone) if upcoming else escape(tr._("not scheduled"))
        )
        facts = _facts(
            [
                (tr._("Meets"), escape(cadence_text(tr, network))),
                (tr._("Language"), escape(language_name(tr, network.lang))),
                (tr._("Next session"), next_text),
            ]
        )
        teaser = ""
        if network.description:
            short = network.description.strip().split("\n")[0]
            short = short if len(short) <= 200 else short[:199].rstrip() + "\u2026"
            teaser = p(short, lang=network.lang)
        name = el("h2", el("a", escape(network.name), href=site.url(f"/n/{network.slug}")))
        items.append(el("li", f"\n{name}\n{teaser}\n{facts}\n"))
    if items:
        listing = el("ul", "\n" + "\n".join(items) + "\n", class_="cards")
    else:
        listing = p(tr._("No networks yet."))
    intro = tr._(
        "These networks meet regularly online in Microsoft Teams. Anyone can join: "
        "choose a network to see when it meets and how to take part."
    )
    body = "\n".join([el("h1", escape(title)), p(intro, class_="lead"), listing])
    return layout(site, title, body)


def _session_item(site: Site, network: Network, session: Session, now: datetime) -> str:
    tr = site.tr
    cancelled = session.status == SessionStatus.CANCELLED
    lines = [el("h3", _time(tr, session.starts_at, network.timezone))]
    if cancelled:
        lines.append(el("p", el("span", escape(tr._("Cancelled")), class_="badge")))
    elif session.starts_at <= now < session.ends_at:
        lines.append(el("p", el("span", escape(tr._("Happening now")), class_="badge now")))
    if session.topic:
        lines.append(p(session.topic, lang=network.lang))
    length = minutes_text(tr, session.ends_at - session.starts_at)
    lines.append(p(f"{tr._('Length')}: {length}", class_="muted"))
    if not cancelled:
        # The same link text on every session: the hidden date tells a screen reader which one.
        hidden = el(
            "span",
            escape(f" \u2013 {when_text(tr, session.starts_at, network.timezone)}"),
            class_="visually-hidden",
        )
        actions = []
        if session.join_url and session.join_url.startswith("https://"):
            actions.append(
                el("a", escape(tr._("Join")) + hidden, href=session.join_url, class_="button primary")
            )
        calendar = f"{site.base}/ics/session/{session.id}.ics"
        actions.append(
            el("a", escape(tr._("Add to calendar")) + hidden, href=calendar, class_="button secondary")
        )
        lines.append(el("p", " ".join(actions), class_="actions"))
        if not session.join_url:
            # Once it has started, "added before the session" would promise what did not happen.
            missing = (
                tr._("No join link has been added to this session.")
                if session.starts_at <= now
                else tr._("The join link is added before the session.")
            )
            lines.append(p(missing, class_="muted"))
    return el("li", "\n" + "\n".join(lines) + "\n")


def _past_counts(site: Site, network: Network, counts: Sequence[tuple[datetime, int]]) -> str:
    """The number of participants of past sessions (the coordinators turned counts on); no names."""
    tr = site.tr
    heading = tr._("Past sessions")
    if not counts:
        return section("past-heading", heading, p(tr._("No sessions held yet.")))
    items = []
    for starts_at, count in counts:
        shown = (
            tr.n_("{n} participant", "{n} participants", count) if count else tr._("no attendance recorded")
        )
        items.append(el("li", f"{_time(tr, starts_at, network.timezone)}: {escape(shown)}"))
    listing = el("ul", "\n" + "\n".join(items) + "\n", class_="past")
    return section("past-heading", heading, listing)


def network_page(
    site: Site,
    network: Network,
    sessions: Sequence[Session],
    now: datetime,
    counts: Sequence[tuple[datetime, int]] | None = None,
) -> str:
    """One network's public page; ``counts`` (start, participants) of its latest held sessions
    only when its coordinators have turned public counts on, else None and no counts shown."""
    tr = site.tr
    parts = [
        el("p", el("a", escape(tr._("All networks")), href=site.url("/")), class_="back"),
        el("h1", escape(network.name)),
    ]
    if network.description:
        parts.append(el("div", f"\n{rich(network.description)}\n", class_="lead", lang=network.lang))
    pairs = [
        (tr._("Meets"), escape(cadence_text(tr, network))),
        (tr._("Language"), escape(language_name(tr, network.lang))),
    ]
    if network.status != NetworkStatus.ACTIVE:
        pairs.append((tr._("Status"), escape(status_text(tr, network.status))))
    if network.ends_on:
        ends = network.ends_on
        shown = tr.date(ends)
        pairs.append((tr._("Ends on"), el("time", shown, datetime=ends.isoformat())))
    parts.append(_facts(pairs))
    if network.status == NetworkStatus.PAUSED:
        paused = tr._("This network is taking a break: no new sessions are planned for now.")
        parts.append(p(paused, class_="note"))

    if network.join_text:
        join = el("div", f"\n{rich(network.join_text)}\n", lang=network.lang)
    else:
        join = p(
            tr._(
                "Anyone can join. Choose a session below and use its join link when it starts; "
                "no registration is needed."
            )
        )
    parts.append(section("join-heading", tr._("How to join"), join))

    items = [_session_item(site, network, s, now) for s in sessions]
    if items:
        listing = el("ol", "\n" + "\n".join(items) + "\n", class_="sessions")
    else:
        listing = p(tr._("No sessions are scheduled yet."))
    parts.append(section("sessions-heading", tr._("Next sessions"), listing))
    if counts is not None and network.public_counts:
        parts.append(_past_counts(site, network, counts))

    feed = site.absolute(f"/ics/network/{network.slug}.ics")
    webcal = re.sub(r"^https?://", "webcal://", feed)
    subscribe = el("a", escape(tr._("Subscribe to the calendar")), href=webcal, class_="button secondary")
    address = escape(tr._("Or add this address to your calendar app as an internet calendar:"))
    parts.append(
        section(
            "calendar-heading",
            tr._("Calendar"),
            p(
                tr._(
                    "Subscribe to the network calendar to see every session, and any change, "
                    "in your own calendar."
                )
            ),
            el("p", subscribe, class_="actions"),
            el("p", f"{address} {el('code', escape(feed))}"),
        )
    )
    return layout(site, network.name, "\n".join(parts))


def privacy_page(site: Site, card: Mapping[str, Any] | None = None) -> str:
    """The privacy notice: the bot's own privacy card when given, else the short notice above."""
    tr = site.tr
    if card is not None:
        title, body = card_html(card)
        return layout(site, title or tr._("Privacy notice"), body)
    title = tr._("Privacy notice")
    parts = [el("h1", escape(title)), p(tr._(PRIVACY_INTRO), class_="lead")]
    for heading, paragraphs in PRIVACY_NOTICE:
        parts.append(el("h2", escape(tr._(heading))))
        if len(paragraphs) > 1:
            parts.append(el("ul", "".join(el("li", escape(tr._(text))) for text in paragraphs)))
        else:
            parts.append(p(tr._(paragraphs[0])))
    return layout(site, title, "\n".join(parts))


BULLET = "\u2022"


def card_html(card: Mapping[str, Any]) -> tuple[str, str]:
    """An Adaptive Card of text (a notice) as HTML: its heading TextBlock is the h1, bold ones are
    h2, lines starting with a bullet make a list, the rest paragraphs. Returns (title, HTML)."""
    title = ""
    out: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if items:
            out.append(el("ul", "".join(el("li", escape(item)) for item in items)))
            items.clear()

    for block in card.get("body", []):
        if not isinstance(block, dict) or block.get("type") != "TextBlock":
            continue
        text = str(block.get("text", "")).strip()
        if not text:
            continue
        if text.startswith(BULLET):
            items.append(text.removeprefix(BULLET).strip())
            continue
        flush()
        if block.get("style") == "heading" and not title:
            title = text
            out.append(el("h1", escape(text)))
        elif block.get("weight") == "Bolder":
            out.append(el("h2", escape(text)))
        else:
            out.append(p(text))
    flush()
    return title, "\n".join(out)


def terms_page(site: Site) -> str:
    tr = site.tr
    title = tr._("Terms of use")
    parts = [el("h1", escape(title)), *(p(tr._(text)) for text in TERMS)]
    return layout(site, title, "\n".join(parts))


def not_found_page(site: Site) -> str:
    tr = site.tr
    title = tr._("Page not found")
    body = [
        el("h1", escape(title)),
        p(tr._("There is no network at this address. It may have ended or been renamed.")),
        el("p", el("a", escape(tr._("See all networks")), href=site.url("/"))),
    ]
    return layout(site, title, "\n".join(body))


def forbidden_page(site: Site, text: str | None = None) -> str:
    """A signed link that does not work; ``text`` says how to get a new one (a report's by default)."""
    tr = site.tr
    title = tr._("This link does not work")
    text = text or tr._(
        "The link has expired or is not complete. Ask Tapaamo for a new one in Teams: "
        "write \u201creport\u201d and the name of the network."
    )
    return layout(site, title, "\n".join([el("h1", escape(title)), p(text)]), private=True)


# --------------------------------------------------------------------------------------------
# The coordinator report


@dataclass(frozen=True, slots=True)
class ReportInput:
    """What the report shows, gathered by the route."""

    network: Network
    figures: NetworkFigures
    feedback: Sequence[QuestionResult]
    start: datetime
    end: datetime  # already capped at now
    expires: datetime
    csv_url: str
    xlsx_url: str
    chart_url: str  # the PNG of the participation chart
    months: Sequence[tuple[date, int]] = field(default_factory=tuple)


def months_between(start: datetime, end: datetime, tz: str) -> list[date]:
    """The first days of the months from ``start``'s to ``end``'s (local), at most ten years."""
    zone = ZoneInfo(tz)
    first = start.astimezone(zone).date().replace(day=1)
    last = end.astimezone(zone).date().replace(day=1)
    out: list[date] = []
    month = first
    while month <= last and len(out) < 120:
        out.append(month)
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return out


def report_start(network: Network, figures: NetworkFigures, start: datetime) -> datetime:
    """Where the report's period really starts: not before the network (or its first session),
    so that a report of "all" does not draw empty decades."""
    begin = max(start, network.created_at)
    if figures.sessions:
        begin = min(begin, figures.sessions[0].starts_at)
    return begin


def sessions_per_month(
    network: Network, figures: NetworkFigures, start: datetime, end: datetime
) -> list[tuple[date, int]]:
    """Sessions that took place (not cancelled) per month of the period."""
    zone = ZoneInfo(network.timezone)
    counts = Counter(f.starts_at.astimezone(zone).date().replace(day=1) for f in figures.sessions)
    begin = report_start(network, figures, start)
    return [(month, counts.get(month, 0)) for month in months_between(begin, end, network.timezone)]


def _image(svg: bytes, alt: str, caption: str) -> str:
    source = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
    image = el("img", "", src=source, alt=alt).removesuffix("</img>")
    return el("figure", f"\n{image}\n{el('figcaption', escape(caption))}\n")


def _table(ident: str, caption: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table with a caption; the first column heads its row, the others are numbers."""
    head = "".join(
        el("th", escape(text), scope="col", class_="num" if index else None)
        for index, text in enumerate(header)
    )
    body = "\n".join(
        el(
            "tr",
            el("th", escape(row[0]), scope="row")
            + "".join(el("td", escape(c), class_="num") for c in row[1:]),
        )
        for row in rows
    )
    caption_html = el("caption", escape(caption), id=ident)
    table = el("table", f"\n{caption_html}\n<thead>{el('tr', head)}</thead>\n<tbody>\n{body}\n</tbody>\n")
    # Scrolls sideways on a narrow screen: focusable, so that a keyboard can scroll it too.
    return el("div", f"\n{table}\n", class_="table-wrap", role="region", aria_labelledby=ident, tabindex="0")


def _bars(network: Network, figures: NetworkFigures) -> list[charts.SessionBar]:
    zone = ZoneInfo(network.timezone)
    bars = []
    for figure in figures.sessions:
        local = figure.starts_at.astimezone(zone)
        bars.append(charts.SessionBar(f"{local.day}.{local.month}.", figure.new, figure.returning))
    return bars


def participation_png(tr: Translator, network: Network, figures: NetworkFigures) -> bytes:
    """The participation chart as a PNG (the report card in Teams shows it)."""
    return charts.participation_chart(
        _bars(network, figures),
        returning_label=tr._("Returning"),
        new_label=tr._("New"),
        axis_label=tr._("Participants"),
        fmt="png",
    )


def participation_alt(tr: Translator, network: Network, figures: NetworkFigures) -> str:
    """The chart's alt text (also for the report card's Image)."""
    return tr._(
        "Bar chart of {network}: participants per session, new and returning, over {n} sessions.",
        network=network.name,
        n=tr.number(len(figures.sessions)),
    )


def _option_label(tr: Translator, option: int) -> str:
    label = tr._(OPTION_LABELS[option])
    return f"{option} {label}" if option in SCALE else label


def _participation_section(tr: Translator, network: Network, figures: NetworkFigures) -> str:
    heading = tr._("Participants per session")
    if not figures.sessions:
        return section("participation-heading", heading, p(tr._("No sessions in this period.")))
    svg = charts.participation_chart(
        _bars(network, figures),
        returning_label=tr._("Returning"),
        new_label=tr._("New"),
        axis_label=tr._("Participants"),
    )
    rows = [
        [
            tr.datetime(f.starts_at, network.timezone, "d.M.yyyy HH:mm"),
            tr.number(f.participants),
            tr.number(f.new),
            tr.number(f.returning),
        ]
        for f in figures.sessions
    ]
    header = [tr._("Session"), tr._("Participants"), tr._("New"), tr._("Returning")]
    return section(
        "participation-heading",
        heading,
        _image(svg, participation_alt(tr, network, figures), tr._("The table below has the same figures.")),
        _table("participation-table", heading, header, rows),
    )


def month_tick(tr: Translator, month: date) -> str:
    """A month under the cadence chart's bar: "Dec 2026", not "Dec 26" (read as the 26th)."""
    return format_date(month, "LLL yyyy", locale=tr.locale)


def _cadence_section(tr: Translator, network: Network, months: Sequence[tuple[date, int]]) -> str:
    heading = tr._("Sessions per month")
    if not months:
        return section("cadence-heading", heading, p(tr._("No sessions in this period.")))
    target = network.cadence.per_year / 12
    shown_target = tr.number(round(target, 1))
    target_text = tr._("Target: {n} a month ({cadence})", n=shown_target, cadence=cadence_text(tr, network))
    svg = charts.cadence_chart(
        [(month_tick(tr, month), count) for month, count in months],
        target,
        sessions_label=tr._("Sessions"),
        target_label=target_text,
        axis_label=tr._("Sessions"),
    )
    alt = tr._(
        "Bar chart: sessions per month over {n} months, against the target of {target} a month.",
        n=tr.number(len(months)),
        target=shown_target,
    )
    rows = [
        [format_date(month, "LLLL yyyy", locale=tr.locale), tr.number(count), shown_target]
        for month, count in months
    ]
    header = [tr._("Month"), tr._("Sessions"), tr._("Target")]
    counted = tr._("Every past session that was not cancelled counts, as in the cadence check.")
    return section(
        "cadence-heading",
        heading,
        _image(svg, alt, f"{target_text}. {counted}"),
        _table("cadence-table", heading, header, rows),
    )


def _feedback_section(tr: Translator, feedback: Sequence[QuestionResult]) -> str:
    parts: list[str] = []
    if not feedback:
        parts.append(p(tr._("No feedback in this period.")))
    options = [*SCALE[::-1], DONT_KNOW]
    for index, result in enumerate(feedback):
        question = (
            tr._(QUESTION_TEXTS[result.question]) if result.question in QUESTION_TEXTS else result.question
        )
        parts.append(el("h3", escape(question)))
        answers = tr.n_("{n} answer", "{n} answers", result.answers)
        if not result.shown:
            hidden = tr._("Results are shown from five answers on, so that no one can be recognised.")
            parts.append(p(f"{answers}. {hidden}"))
            continue
        mean = tr.number(round(result.mean, 1)) if result.mean is not None else "\u2013"
        bars = [
            (
                _option_label(tr, option),
                result.counts.get(option, 0),
                f"{tr.number(result.counts.get(option, 0))} ({tr.percent(result.share(option))})",
            )
            for option in options
        ]
        svg = charts.feedback_chart(bars, axis_label=tr._("Answers"))
        alt = tr._(
            "Bar chart of the answers to \u201c{question}\u201d: {answers}, "
            "mean {mean} on a scale of 1 to 5.",
            question=question,
            answers=answers,
            mean=mean,
        )
        parts.append(_image(svg, alt, f"{answers}. {tr._('Mean: {mean}', mean=mean)}"))
        rows = [
            [
                _option_label(tr, option),
                tr.number(result.counts.get(option, 0)),
                tr.percent(result.share(option)),
            ]
            for option in options
        ]
        header = [tr._("Answer"), tr._("Count"), "%"]
        parts.append(_table(f"feedback-table-{index}", question, header, rows))
    return section("feedback-heading", tr._("Feedback"), *parts)


def report_page(site: Site, data: ReportInput) -> str:
    """The coordinator report: figures, charts and tables, no names. Draws the charts (CPU)."""
    tr = site.tr
    network = data.network
    figures = data.figures
    tz = network.timezone
    title = tr._("{network}: participation", network=network.name)
    period = tr._(
        "{start} – {end}",
        start=tr.datetime(data.start, tz, "d.M.yyyy"),
        end=tr.datetime(data.end, tz, "d.M.yyyy"),
    )
    note = tr._(
        "This report is for the coordinators of the network. It names no one. The link works until {when}.",
        when=when_text(tr, data.expires, tz, capital=False),  # inside a sentence
    )
    summary = [
        (tr._("Sessions held"), tr.number(figures.sessions_held)),
        (tr._("Participants"), tr.number(figures.unique_participants)),
        (tr._("Average per session"), tr.number(round(figures.average_per_session, 1))),
        (tr._("Came more than once"), tr.number(figures.came_more_than_once)),
        (tr._("New participants"), tr.number(figures.new_in_period)),
        (tr._("Strong participants"), tr.number(figures.roles.strong)),
        (tr._("Occasional participants"), tr.number(figures.roles.occasional)),
        (tr._("Followers who have not attended"), tr.number(figures.roles.followers_only)),
    ]
    downloads = [
        el(
            "a", escape(tr._("Download {format}", format="CSV")), href=data.csv_url, class_="button secondary"
        ),
        el(
            "a",
            escape(tr._("Download {format}", format="XLSX")),
            href=data.xlsx_url,
            class_="button secondary",
        ),
        el("a", escape(tr._("Chart as an image (PNG)")), href=data.chart_url, class_="button secondary"),
    ]
    parts = [
        el("h1", escape(title)),
        p(period, class_="lead"),
        p(note, class_="note"),
        section("summary-heading", tr._("Summary"), _facts((term, escape(value)) for term, value in summary)),
        _participation_section(tr, network, figures),
        _cadence_section(tr, network, data.months),
        _feedback_section(tr, data.feedback),
        section(
            "download-heading",
            tr._("Download"),
            p(tr._("Per-session totals and per-organisation counts, for a spreadsheet or a CRM.")),
            el("p", " ".join(downloads), class_="actions"),
        ),
    ]
    return layout(site, title, "\n".join(parts), private=True)
