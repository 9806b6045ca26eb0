"""The public pages, the calendar feed and the coordinator report, through the running app.

Networks and sessions are made the way a coordinator makes them, by chat through /api/messages;
the pages are then fetched over HTTP from the same app. Time is a FakeClock (Monday 5 January
2026, 11:00 in Helsinki), so "expired" is the clock moved past a link's 24 hours.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel import Locale
from dateutil.rrule import rrulestr
from icalendar import Calendar
from PIL import Image

from bot.app import PARTS
from dialogs.i18n import Catalogs
from domain.clock import FakeClock
from domain.polls import Feedback
from storage.poll_repos import SqlPollStore
from storage.repositories import SqlJobStore
from tests.support.harness import Harness, cards_of, running_bot, user
from web.pages import accepted_langs, negotiate
from web.signing import sign

HELSINKI = ZoneInfo("Europe/Helsinki")
CATALOGS = Catalogs()
FI, SV, EN = CATALOGS["fi"], CATALOGS["sv"], CATALOGS["en"]
JOIN = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_web%40thread.v2/0"
DESCRIPTION = "Digisumpit kokoaa kuntien digikehittäjät yhteen."
JOIN_TEXT = "Tule mukaan suoraan Teamsissa, ilmoittautumista ei tarvita."
CHECKED_IN = (2, 3, 4, 5, 6, 7)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, FakeClock()) as harness:
        yield harness


# --- seeding through the chat ----------------------------------------------------------------


async def confirm(bot: Harness, command: str) -> None:
    [card] = cards_of(await bot.say(command))
    draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", draft)
    await bot.run_jobs()


async def seed_network(bot: Harness) -> None:
    """Digisumpit (fi, weekly) with a description, how to join and a weekly series on Thursdays;
    Kaffe med Uffe (sv, monthly) with one session; Paussi (paused)."""
    await bot.say('network create "Digisumpit" weekly lang fi')
    await bot.say(f'network edit Digisumpit description "{DESCRIPTION}"')
    await bot.say(f'network edit Digisumpit join "{JOIN_TEXT}"')
    await confirm(bot, f'schedule Digisumpit "every thursday 14:00" link {JOIN}')
    await bot.say('network create "Kaffe med Uffe" monthly lang sv', conversation="19:kaffe")
    await confirm(bot, 'schedule "Kaffe med Uffe" "next friday 10:00"')
    await bot.say('network create "Paussi" monthly lang fi', conversation="19:paussi")
    await bot.say("network pause Paussi", conversation="19:paussi")


async def session_ids(bot: Harness, slug: str) -> list[int]:
    parts = bot.app[PARTS]
    [network] = [n for n in await parts.web.networks.all() if n.slug == slug]
    return [s.id for s in await parts.web.sessions.for_network(network.id)]


async def held_session_with_feedback(bot: Harness, voters: int = 6) -> None:
    """Digisumpit with a session today at 12:00, six check-ins and ``voters`` poll answers."""
    await bot.say('network create "Digisumpit" weekly lang fi')
    await confirm(bot, f'schedule Digisumpit "today 12:00" link {JOIN}')
    await check_in_and_vote(bot, voters)


async def check_in_and_vote(bot: Harness, voters: int) -> None:
    """At Digisumpit's session today at 12:00: a follower, check-ins of users 2–7, and
    ``voters`` of them answering its feedback poll, which has closed by the end."""
    await bot.say("follow Digisumpit", sender=user(9, "Ville Follower"))
    bot.clock.advance(timedelta(minutes=55))
    for n in CHECKED_IN:
        await bot.say("here", sender=user(n, f"Person {n} Surname"))
    await bot.advance(timedelta(hours=3))  # the session ends; 10 minutes later its poll opens
    [poll] = poll_cards(bot)
    options = [5, 4, 4, 3, 0, 5][:voters]
    for n, option in zip(CHECKED_IN, options, strict=False):
        await bot.click("poll.vote", vote_data(poll, option), sender=user(n))
    await bot.advance(timedelta(hours=73))


def poll_cards(bot: Harness) -> list[dict[str, Any]]:
    """The feedback poll cards the bot has sent, oldest first."""
    return [
        card
        for r in bot.connector.received
        if r.kind == "send"
        for card in cards_of([r.activity])
        if "poll.vote" in str(card)
    ]


def vote_data(card: dict[str, Any], option: int) -> dict[str, Any]:
    for block in card["body"]:
        if block.get("type") == "ActionSet":
            for action in block["actions"]:
                if action["data"]["o"] == option:
                    return dict(action["data"])
    raise AssertionError("no such option")


def with_feedback(bot: Harness) -> None:
    """Give the web routes the Feedback service, as bot/app.py does once it is wired."""
    parts = bot.app[PARTS]
    feedback = Feedback(
        SqlPollStore(parts.database), parts.web.sessions, SqlJobStore(parts.database, bot.clock), bot.clock
    )
    parts.web = replace(parts.web, feedback=feedback)


async def report_path(bot: Harness) -> str:
    [card] = cards_of(await bot.say("report Digisumpit"))
    url = next(a["url"] for a in card["actions"] if a["type"] == "Action.OpenUrl")
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


async def get(bot: Harness, path: str, lang: str | None = None) -> tuple[int, str]:
    headers = {"Accept-Language": lang} if lang else {}
    response = await bot.client.get(path, headers=headers)
    return response.status, await response.text()


def html_lang(page: str) -> str:
    found = re.search(r'<html lang="(\w+)">', page)
    assert found, page[:200]
    return found.group(1)


def visible_text(page: str) -> str:
    return re.sub(r"<[^>]+>", " ", page)


# --- language --------------------------------------------------------------------------------


def test_accept_language_is_read_by_quality() -> None:
    assert accepted_langs("de-DE, sv-FI;q=0.5, en;q=0.8, fi;q=0") == ["en", "sv"]
    assert accepted_langs("fi-FI,fi;q=0.9,en-US;q=0.8") == ["fi", "en"]
    assert accepted_langs("*") == []
    assert negotiate("sv", "fi-FI", "en") == ("sv", True)
    assert negotiate("de", "fi-FI", "en") == ("fi", False)
    assert negotiate(None, "", "sv") == ("sv", False)


# --- the index and the network pages ---------------------------------------------------------


async def test_index_lists_the_active_networks_in_three_languages(bot: Harness) -> None:
    await seed_network(bot)
    pages = {}
    for lang, header in (("fi", "fi-FI,fi;q=0.9"), ("sv", "sv-FI,sv;q=0.9,en;q=0.5"), ("en", "en-GB")):
        status, page = await get(bot, "/", header)
        assert status == 200
        assert html_lang(page) == lang
        pages[lang] = page
    fi, sv, en = pages["fi"], pages["sv"], pages["en"]
    for page in pages.values():
        assert 'href="/n/digisumpit"' in page
        assert 'href="/n/kaffe-med-uffe"' in page
        assert "Paussi" not in page  # paused: not on the index
    # Cadence and language in the reader's language; the next session with its time.
    assert FI._("weekly") in fi
    assert SV._("weekly") in sv
    assert "weekly" in en
    assert Locale.parse("fi").languages["sv"] in fi
    assert "Swedish" in en
    assert "finska" in sv
    assert "8.1.2026 14:00" in fi
    assert "Thursday 8 January 2026 14:00" in en
    assert 'datetime="2026-01-08T14:00:00+02:00"' in en
    assert FI._("Next session") in fi
    assert SV._("Next session") in sv
    assert "Next session" in en
    # ?lang= wins over Accept-Language; without either the index is in Finnish.
    status, page = await get(bot, "/?lang=en", "sv-FI")
    assert html_lang(page) == "en"
    assert 'href="/n/digisumpit?lang=en"' in page
    assert html_lang((await get(bot, "/"))[1]) == "fi"
    # The language switcher keeps the page and says which language is on.
    assert 'href="/?lang=sv" lang="sv" hreflang="sv" aria-current="true"' in sv


async def test_network_page_tells_what_it_does_how_to_join_and_when(bot: Harness) -> None:
    await seed_network(bot)
    ids = await session_ids(bot, "digisumpit")
    status, page = await get(bot, "/n/digisumpit")
    assert status == 200
    assert html_lang(page) == "fi"  # no Accept-Language: the network's language
    assert "<h1>Digisumpit</h1>" in page
    assert DESCRIPTION in page
    assert JOIN_TEXT in page
    assert FI._("How to join") in page
    assert page.count(f'href="{JOIN}"') == 10  # the next ten sessions, each with its join link
    assert f'href="/ics/session/{ids[0]}.ics"' in page
    assert "webcal://127.0.0.1:3978/ics/network/digisumpit.ics" in page
    assert "<code>http://127.0.0.1:3978/ics/network/digisumpit.ics</code>" in page
    # The reader's language for the page; the network's own texts keep their lang attribute.
    _, sv = await get(bot, "/n/digisumpit", "sv-SE,sv;q=0.9")
    assert html_lang(sv) == "sv"
    assert "Torsdag 8.1.2026 14:00" in sv
    assert SV._("weekly") in sv
    assert f'<div class="lead" lang="fi">\n<p>{DESCRIPTION}</p>' in sv
    _, en = await get(bot, "/n/digisumpit?lang=en", "sv-SE")
    assert html_lang(en) == "en"
    assert "Thursday 8 January 2026 14:00" in en
    assert "How to join" in en
    assert 'href="/?lang=en"' in en  # a chosen language goes along to the next page
    # A Swedish network defaults to Swedish; a paused one says so.
    _, kaffe = await get(bot, "/n/kaffe-med-uffe")
    assert html_lang(kaffe) == "sv"
    assert "Fredag 9.1.2026 10:00" in kaffe
    status, paused = await get(bot, "/n/paussi?lang=en")
    assert status == 200
    assert "taking a break" in paused


async def test_a_cancelled_session_is_marked_and_has_no_join_link(bot: Harness) -> None:
    await seed_network(bot)
    ids = await session_ids(bot, "digisumpit")
    await bot.say(f"cancel #{ids[0]}")
    _, page = await get(bot, "/n/digisumpit?lang=en")
    [first] = [item for item in page.split("<li>") if "Thursday 8 January" in item]
    assert "Cancelled" in first
    assert JOIN not in first
    assert ".ics" not in first
    assert page.count(f'href="{JOIN}"') == 9


async def test_public_pages_name_no_one_and_count_no_one(bot: Harness) -> None:
    await seed_network(bot)
    await confirm(bot, 'schedule Digisumpit "today 12:00"')
    bot.clock.advance(timedelta(minutes=65))  # 12:05: under way
    for n in (2, 3, 4):
        [reply] = await bot.say("here", sender=user(n, f"Secret Person{n}"))
        assert "checked in" in reply["text"]
    ids = await session_ids(bot, "digisumpit")
    await bot.click("session.rsvp", {"session": ids[-1], "coming": True}, sender=user(5, "Secret Rsvp"))
    await bot.say("follow Digisumpit", sender=user(6, "Secret Follower"))
    for path in ("/", "/n/digisumpit", "/n/digisumpit?lang=en", "/ics/network/digisumpit.ics"):
        status, page = await get(bot, path)
        assert status == 200
        assert "Secret" not in page, path
        assert "Aino Coordinator" not in page, path  # not even the coordinator's name
        assert "aad-" not in page, path
        assert "29:user" not in page, path
    _, en = await get(bot, "/n/digisumpit?lang=en")
    assert "Happening now" in en
    assert not re.search(r"\b\d+ (people|coming|participants?)\b", visible_text(en))


async def test_unknown_and_ended_networks_get_a_localized_404(bot: Harness) -> None:
    await seed_network(bot)
    await bot.say("network end Paussi", conversation="19:paussi")
    for path, lang, text in (
        ("/n/ei-ole", "fi-FI", FI._("Page not found")),
        ("/n/finns-inte", "sv-FI", SV._("Page not found")),
        ("/n/paussi?lang=en", None, "Page not found"),
    ):
        status, page = await get(bot, path, lang)
        assert status == 404
        assert text in page
        assert 'href="/' in page
    assert html_lang((await get(bot, "/n/finns-inte", "sv-FI"))[1]) == "sv"


async def test_privacy_and_terms(bot: Harness) -> None:
    status, page = await get(bot, "/privacy", "en")
    assert status == 200
    assert html_lang(page) == "en"
    for heading in ("What is kept", "Why", "How long", "Who sees it"):
        assert f"<h2>{heading}</h2>" in page
    status, page = await get(bot, "/terms?lang=sv")
    assert status == 200
    assert html_lang(page) == "sv"
    assert SV._("Terms of use") in page
    assert (await get(bot, "/privacy", "fi"))[1].count(FI._("What is kept")) == 1
    # With the bot's own privacy card wired in, the page shows that card's words.
    parts = bot.app[PARTS]

    def notice(tr: Any) -> dict[str, Any]:
        return {
            "type": "AdaptiveCard",
            "body": [
                {"type": "TextBlock", "text": f"Privacy ({tr.lang})", "style": "heading", "weight": "Bolder"},
                {"type": "TextBlock", "text": "How long", "weight": "Bolder"},
                {"type": "TextBlock", "text": "\u2022 Names: 24 months <then counts>"},
                {"type": "TextBlock", "text": "\u2022 Audit log: 24 months"},
                {"type": "TextBlock", "text": "Ask us."},
            ],
        }

    parts.web = replace(parts.web, privacy_notice=notice)
    _, page = await get(bot, "/privacy?lang=sv")
    assert "<h1>Privacy (sv)</h1>" in page
    assert "<h2>How long</h2>" in page
    assert "<ul><li>Names: 24 months &lt;then counts&gt;</li><li>Audit log: 24 months</li></ul>" in page
    assert "<p>Ask us.</p>" in page


async def test_pages_carry_security_headers_and_the_stylesheet_is_served(bot: Harness) -> None:
    response = await bot.client.get("/")
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["Content-Language"] == "fi"
    assert "Accept-Language" in response.headers["Vary"]
    css = await bot.client.get("/static/site.css")
    assert css.status == 200
    assert css.content_type == "text/css"
    assert ":focus-visible" in await css.text()


# --- the calendar feed -----------------------------------------------------------------------


def expand(feed: Calendar, horizon: datetime | None = None) -> dict[str, set[datetime]]:
    """Every event of the feed as a calendar app shows it: each series' RRULE expanded with
    dateutil (up to its UNTIL or COUNT, else up to ``horizon``), minus its EXDATEs, with the
    overrides' times in place of the occurrences they replace."""
    events = list(feed.walk("VEVENT"))
    shown: dict[str, set[datetime]] = {}
    for master in (e for e in events if "RRULE" in e):
        series = str(master["UID"])
        start = master.decoded("DTSTART")
        rule = rrulestr(master["RRULE"].to_ical().decode(), dtstart=start)
        exdates = master.get("EXDATE", [])
        excluded = {d.dt for x in (exdates if isinstance(exdates, list) else [exdates]) for d in x.dts}
        overrides = {e.decoded("RECURRENCE-ID"): e.decoded("DTSTART") for e in events if "RECURRENCE-ID" in e}
        bounded = "UNTIL" in master["RRULE"] or "COUNT" in master["RRULE"]
        assert bounded or horizon is not None, "an open series needs a horizon"
        moments = list(rule) if bounded or horizon is None else rule.between(start, horizon, inc=True)
        shown[series] = {overrides.get(m, m) for m in moments if m not in excluded}
    for event in events:
        if "RRULE" not in event and "RECURRENCE-ID" not in event and str(event["STATUS"]) != "CANCELLED":
            shown.setdefault(str(event["UID"]), set()).add(event.decoded("DTSTART"))
    return shown


async def test_the_feed_has_a_series_as_rrule_with_cancellations_as_exdate(bot: Harness) -> None:
    await seed_network(bot)
    ids = await session_ids(bot, "digisumpit")
    await bot.say(f"cancel #{ids[1]}")
    await bot.say(f'move #{ids[2]} "23.1.2026 10:00"')
    response = await bot.client.get("/ics/network/digisumpit.ics")
    assert response.status == 200
    assert response.content_type == "text/calendar"
    feed = Calendar.from_ical(await response.read())
    assert str(feed["X-WR-CALNAME"]) == "Digisumpit"
    assert feed.get("REFRESH-INTERVAL") is not None
    assert [str(tz["TZID"]) for tz in feed.walk("VTIMEZONE")] == ["Europe/Helsinki"]
    parts = bot.app[PARTS]
    [network] = [n for n in await parts.web.networks.all() if n.slug == "digisumpit"]
    sessions = await parts.web.sessions.for_network(network.id)
    series_uid = f"series-{sessions[0].series_id}@tapaamo"
    events = list(feed.walk("VEVENT"))
    [master] = [e for e in events if "RRULE" in e]
    assert str(master["UID"]) == series_uid
    assert dict(master["RRULE"]) == {"FREQ": ["WEEKLY"], "INTERVAL": [1], "BYDAY": ["TH"]}  # no end
    assert master["DTSTART"].params["TZID"] == "Europe/Helsinki"
    assert master.decoded("DTSTART") == datetime(2026, 1, 8, 14, 0, tzinfo=HELSINKI)
    assert master.decoded("DTEND") == datetime(2026, 1, 8, 15, 0, tzinfo=HELSINKI)
    assert str(master["LOCATION"]) == JOIN
    assert DESCRIPTION in str(master["DESCRIPTION"])
    assert JOIN_TEXT in str(master["DESCRIPTION"])
    assert [d.dt for d in master["EXDATE"].dts] == [datetime(2026, 1, 15, 14, 0, tzinfo=HELSINKI)]
    [moved] = [e for e in events if "RECURRENCE-ID" in e]
    assert str(moved["UID"]) == series_uid
    assert moved.decoded("RECURRENCE-ID") == datetime(2026, 1, 22, 14, 0, tzinfo=HELSINKI)
    assert moved.decoded("DTSTART") == datetime(2026, 1, 23, 10, 0, tzinfo=HELSINKI)  # Friday 10:00
    assert int(moved["SEQUENCE"]) == 1  # moved once: calendars replace the old time
    assert len(events) == 2, "no event per session"
    # What a subscribed calendar shows is what is scheduled (up to the sessions made so far).
    scheduled = {s.starts_at for s in sessions if s.status != "cancelled"}
    [shown] = expand(feed, max(scheduled)).values()
    assert shown == scheduled
    # One session's file for "Add to calendar" is a single event of its own.
    response = await bot.client.get(f"/ics/session/{ids[2]}.ics")
    [single] = Calendar.from_ical(await response.read()).walk("VEVENT")
    assert str(single["UID"]) == f"session-{ids[2]}@tapaamo"
    assert single.decoded("DTSTART") == datetime(2026, 1, 23, 8, 0, tzinfo=UTC)
    assert int(single["SEQUENCE"]) == 1
    assert (await bot.client.get("/ics/network/ei-ole.ics")).status == 404


async def test_a_bounded_series_and_one_off_sessions_expand_to_what_is_scheduled(bot: Harness) -> None:
    await bot.say('network create "Digisumpit" weekly lang fi')
    await confirm(bot, 'schedule Digisumpit "every thursday 14:00" until 26.2.2026')
    await confirm(bot, 'schedule Digisumpit "2.2.2026 9:00"')
    await confirm(bot, 'schedule Digisumpit "3.3.2026 9:00"')
    ids = await session_ids(bot, "digisumpit")
    parts = bot.app[PARTS]
    [network] = [n for n in await parts.web.networks.all() if n.slug == "digisumpit"]
    by_start = {s.starts_at: s.id for s in await parts.web.sessions.for_network(network.id)}
    await bot.say(f"cancel #{by_start[datetime(2026, 2, 12, 12, 0, tzinfo=UTC)]}")
    await bot.say(f"cancel #{by_start[datetime(2026, 3, 3, 7, 0, tzinfo=UTC)]}")
    await bot.say(f'move #{by_start[datetime(2026, 1, 29, 12, 0, tzinfo=UTC)]} "30.1.2026 15:00"')
    feed = Calendar.from_ical(await (await bot.client.get("/ics/network/digisumpit.ics")).read())
    [master] = [e for e in feed.walk("VEVENT") if "RRULE" in e]
    assert master["RRULE"]["UNTIL"] == [datetime(2026, 2, 26, 21, 59, 59, tzinfo=UTC)]  # 23:59:59 local
    sessions = await parts.web.sessions.for_network(network.id)
    assert len(sessions) == len(ids) == 10
    scheduled = {s.starts_at for s in sessions if s.status != "cancelled"}
    shown = expand(feed)
    assert set().union(*shown.values()) == scheduled
    # The cancelled one-off session stays as a cancelled event, as before.
    [cancelled] = [e for e in feed.walk("VEVENT") if str(e["STATUS"]) == "CANCELLED"]
    assert cancelled.decoded("DTSTART") == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)


async def test_a_cancelled_series_ends_its_rule_at_its_last_session(bot: Harness) -> None:
    await seed_network(bot)
    ids = await session_ids(bot, "digisumpit")
    bot.clock.set(datetime(2026, 1, 16, 9, 0, tzinfo=HELSINKI))  # 8.1. and 15.1. took place
    await bot.say(f"cancel #{ids[2]} all")
    await bot.run_jobs()
    feed = Calendar.from_ical(await (await bot.client.get("/ics/network/digisumpit.ics")).read())
    [master] = [e for e in feed.walk("VEVENT") if "RRULE" in e]
    assert "UNTIL" in master["RRULE"]
    [shown] = expand(feed).values()
    assert shown == {
        datetime(2026, 1, 8, 14, 0, tzinfo=HELSINKI),
        datetime(2026, 1, 15, 14, 0, tzinfo=HELSINKI),
    }


async def test_an_ended_networks_session_file_is_gone(bot: Harness) -> None:
    await seed_network(bot)
    ids = await session_ids(bot, "digisumpit")
    assert (await bot.client.get(f"/ics/session/{ids[0]}.ics")).status == 200
    await bot.say("network end Digisumpit")
    assert (await get(bot, "/n/digisumpit"))[0] == 404
    assert (await bot.client.get(f"/ics/session/{ids[0]}.ics")).status == 404


# --- the coordinator report ------------------------------------------------------------------


def images(page: str) -> list[tuple[str, bytes]]:
    """(alt, SVG) of every chart on the page."""
    found = re.findall(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" alt="([^"]+)">', page)
    return [(alt, base64.b64decode(data)) for data, alt in found]


async def test_the_report_shows_charts_tables_and_downloads(bot: Harness) -> None:
    await held_session_with_feedback(bot)
    with_feedback(bot)
    path = await report_path(bot)
    status, page = await get(bot, path, "fi-FI")
    assert status == 200
    assert html_lang(page) == "en"  # "report" was asked in English: so is the page it links to
    _, page = await get(bot, f"{path}?lang=fi")
    assert html_lang(page) == "fi"
    _, page = await get(bot, f"{path}?lang=en")
    assert html_lang(page) == "en"
    assert '<meta name="robots" content="noindex, nofollow">' in page
    charts = images(page)
    assert len(charts) == 3  # participation, cadence, one feedback question
    for alt, svg in charts:
        assert alt
        assert svg.startswith(b"<?xml")
        assert b"<svg" in svg
        assert b"Matplotlib" in svg
    assert "participants per session, new and returning" in charts[0][0]
    # The same figures as tables: six participants, all new; one session in January.
    row = '<th scope="row">5 Jan 2026 12:00</th><td class="num">6</td><td class="num">6</td>'
    assert row + '<td class="num">0</td>' in page
    assert '<th scope="row">January 2026</th><td class="num">1</td><td class="num">4.3</td>' in page
    # Feedback: 6 answers, 2 × "5 Very well" = 33%.
    assert '<th scope="row">5 Very well</th><td class="num">2</td><td class="num">33%</td>' in page
    assert "How useful was this session for your work?" in page
    # No names, no ids.
    assert "Surname" not in page
    assert "Ville" not in page
    assert "aad-" not in page
    # The downloads are signed export links that the export route serves (totals, no names).
    csv_link = re.search(r'href="(/export/[^"]+)"[^>]*>Download CSV', page)
    assert csv_link
    response = await bot.client.get(csv_link.group(1))
    assert response.status == 200
    body = (await response.read()).decode("utf-8-sig")
    assert "# sessions" in body
    assert "Surname" not in body
    xlsx_link = re.search(r'href="(/export/[^"]+)"[^>]*>Download XLSX', page)
    assert xlsx_link
    assert (await bot.client.get(xlsx_link.group(1))).status == 200
    # The chart as a PNG, for the report card.
    response = await bot.client.get(f"{path}/chart.png")
    assert response.status == 200
    assert response.content_type == "image/png"
    png = await response.read()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"Matplotlib" in png
    assert Image.open(io.BytesIO(png)).size[0] >= 800


async def test_the_report_counts_sessions_held_one_way(bot: Harness) -> None:
    """Three sessions took place, one with check-ins: the summary, the table and the cadence
    chart all say three (and the session that has not started yet is in none of them)."""
    await bot.say('network create "Digisumpit" weekly lang fi')
    for when in ("today 12:00", "6.1.2026 12:00", "7.1.2026 12:00", "8.1.2026 12:00"):
        await confirm(bot, f'schedule Digisumpit "{when}"')
    bot.clock.advance(timedelta(minutes=55))
    for n in CHECKED_IN:
        await bot.say("here", sender=user(n, f"Person {n} Surname"))
    bot.clock.set(datetime(2026, 1, 8, 11, 50, tzinfo=HELSINKI))  # ten minutes before the fourth
    await bot.run_jobs()
    _, page = await get(bot, f"{await report_path(bot)}?lang=en")
    assert "<dt>Sessions held</dt><dd>3</dd>" in page
    rows = re.findall(r'<th scope="row">(\d+ Jan 2026 12:00)</th>', page)
    assert rows == ["5 Jan 2026 12:00", "6 Jan 2026 12:00", "7 Jan 2026 12:00"]
    assert '<th scope="row">January 2026</th><td class="num">3</td>' in page
    assert "over 3 sessions" in images(page)[0][0]


async def test_feedback_of_fewer_than_five_is_not_shown(bot: Harness) -> None:
    await held_session_with_feedback(bot, voters=4)
    with_feedback(bot)
    _, page = await get(bot, f"{await report_path(bot)}?lang=en")
    assert "4 answers. Results are shown from five answers on" in page
    assert len(images(page)) == 2  # participation and cadence only
    assert "Very well" not in page


async def test_the_report_refuses_bad_links_with_a_localized_403(bot: Harness) -> None:
    await held_session_with_feedback(bot, voters=0)
    path = await report_path(bot)
    token = path.rsplit("/", 1)[1]
    body, mac = token.split(".")
    key = bot.app[PARTS].web.signing_key
    claims: dict[str, Any] = {"kind": "export", "network": 1, "from": 0, "to": 2_000_000_000, "fmt": "csv"}
    other_kind = sign(key, claims, bot.clock.now() + timedelta(hours=1))
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    for bad in ("not-a-token", body, f"{flipped}.{mac}", f"{body}.{mac[::-1]}", other_kind):
        status, page = await get(bot, f"/report/{bad}", "sv-FI")
        assert status == 403, bad
        assert html_lang(page) == "sv"
        assert SV._("This link does not work") in page
        assert (await bot.client.get(f"/report/{bad}/chart.png")).status == 403
    assert (await get(bot, path))[0] == 200
    bot.clock.advance(timedelta(hours=24, seconds=1))  # the link was good for 24 hours
    status, page = await get(bot, path, "en")
    assert status == 403
    assert "This link does not work" in page
    assert (await bot.client.get(f"{path}/chart.png")).status == 403
