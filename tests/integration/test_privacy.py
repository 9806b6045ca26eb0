"""Personal data: see it (mydata), erase it (forgetme), uninstalling forgets a conversation, the
privacy notice, and the daily retention purge.

The bot is driven through /api/messages, wired as bot/app.py wires it: nothing here stands in
for the app's own handling of a removal, its commands, its purge job or its download route.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from dateutil.relativedelta import relativedelta
from sqlalchemy import text

from bot.app import PARTS, Parts, create_app
from bot.settings import Settings
from dialogs.i18n import Catalogs
from domain.clock import FakeClock
from domain.conversations import ConversationRef
from domain.jobs import NewJob
from domain.networks import Coordinator, Network, parse_cadence
from domain.participation import Attendance, MeetingEvent, Source, participant_key
from domain.planning import Planning
from domain.polls import Poll, PollStatus, new_secret, voter_key
from domain.privacy import PURGE, Privacy, Retention, Subject, purge_job
from domain.sessions import Draft, DraftStatus, NewSession, Person, Session
from storage.db import Database
from storage.network_repos import SqlNetworkStore, SqlSessionStore
from storage.participation_repos import SqlParticipationStore
from storage.poll_repos import SqlPollStore
from storage.privacy_repos import SqlPrivacyStore
from storage.repositories import Repositories
from tests.fakes.connector import FakeConnector
from tests.support.cards import assert_valid_card
from tests.support.harness import Harness, cards_of, texts, user

JOIN = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_priv%40thread.v2/0"
VILLE = {"id": "29:1VilleTeamsUserId", "name": "Ville Väisänen", "aadObjectId": "5B0C2E7A-VILLE-AAD"}
VILLE_CHAT = "a:1VillePersonalChat"
AINO_CHAT = "a:1AinoPersonalChat"


def _privacy_of(parts: Parts) -> Privacy:
    services = parts.endpoint.bot.router.services
    return Privacy(
        SqlPrivacyStore(parts.database),
        services.refs,
        services.planning.networks,
        services.audit,
        parts.clock,
        Retention.from_settings(parts.settings),
    )


@asynccontextmanager
async def privacy_bot(tmp_path: Path, clock: FakeClock, **settings: Any) -> AsyncIterator[Harness]:
    """The app as it runs: its own privacy commands, purge job, download route and uninstall handling."""
    async with FakeConnector() as connector:
        config = Settings(
            _env_file=None,  # type: ignore[call-arg]
            env="dev",
            app_id="",
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'tapaamo.db'}",
            **settings,
        )
        app = create_app(config, clock=clock, start_ticker=False)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield Harness(client, connector, clock)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with privacy_bot(tmp_path, FakeClock()) as harness:
        yield harness


def personal(who: dict[str, str], chat: str) -> dict[str, Any]:
    return {"sender": who, "conversation": chat, "conversation_type": "personal"}


def mention(who: dict[str, str]) -> dict[str, Any]:
    return {"entities": [{"type": "mention", "mentioned": who, "text": f"<at>{who['name']}</at>"}]}


def confirm_data(card: dict[str, Any]) -> dict[str, Any]:
    """The signed payload of a forgetme card's "Forget me" button."""
    return next(a["data"] for a in card["actions"] if a["verb"] == "privacy.forget_confirm")


async def forget_me(bot: Harness, who: dict[str, str], chat: str, **kwargs: Any) -> dict[str, Any]:
    """Type forgetme in one's personal chat and press "Forget me"; the invoke's answer."""
    [card] = cards_of(await bot.say("forgetme", **personal(who, chat)))
    return await bot.click("privacy.forget_confirm", confirm_data(card), **personal(who, chat), **kwargs)


async def confirm_schedule(bot: Harness, when: str, sender: dict[str, str]) -> None:
    [card] = cards_of(await bot.say(f'schedule Digisumpit "{when}" link {JOIN}', sender=sender))
    draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", draft, sender=sender)
    await bot.run_jobs()


def session_ids(bot: Harness) -> list[int]:
    found: list[int] = []
    for received in bot.connector.received:
        for card in cards_of([received.activity]):
            for action in card.get("actions", []):
                if action.get("verb") == "session.rsvp" and action["data"]["session"] not in found:
                    found.append(int(action["data"]["session"]))
    return found


def poll_vote(bot: Harness, option: int) -> dict[str, Any]:
    for received in bot.connector.received:
        for card in cards_of([received.activity]):
            for block in card["body"]:
                if block.get("type") == "ActionSet":
                    for action in block["actions"]:
                        if action.get("verb") == "poll.vote" and action["data"]["o"] == option:
                            return dict(action["data"])
    raise AssertionError("no poll card was posted")


async def ville_takes_part(bot: Harness) -> tuple[int, int]:
    """Aino makes a network and Ville a second coordinator; Ville schedules two sessions, follows,
    says he will come to the first, checks in, joins the meeting and answers its poll."""
    await bot.say('network create "Digisumpit" weekly')
    await bot.say("network coordinators add Digisumpit <at>Ville Väisänen</at>", **mention(VILLE))
    await confirm_schedule(bot, "today 12:00", VILLE)
    await confirm_schedule(bot, "8.1.2026 12:00", VILLE)
    first, second = session_ids(bot)
    [followed] = await bot.say("follow Digisumpit", **personal(VILLE, VILLE_CHAT))
    assert "You follow Digisumpit" in followed["text"]
    await bot.click("session.rsvp", {"session": first, "coming": True}, sender=VILLE)
    bot.clock.advance(timedelta(minutes=55))
    [here] = await bot.say("here", sender=VILLE)
    assert "You are checked in to Digisumpit" in here["text"]
    members = {"members": [{"user": {**VILLE, "tenantId": "tenant-1"}, "meeting": {"inMeeting": True}}]}
    await bot.post(
        bot.activity("event", name="application/vnd.microsoft.meetingParticipantJoin", value=members)
    )
    await bot.advance(timedelta(hours=3))  # the session ended; its poll opens
    answered = await bot.click("poll.vote", poll_vote(bot, 4), sender=VILLE)
    assert answered["statusCode"] == 200
    return first, second


async def download(bot: Harness, url: str) -> Any:
    path = url.split("127.0.0.1:3978", 1)[1]
    return await bot.client.get(path)


# --- mydata -----------------------------------------------------------------------------------


async def test_mydata_shows_everything_held_and_downloads_it_as_json(bot: Harness) -> None:
    first, second = await ville_takes_part(bot)
    [answer] = await bot.say("mydata", **personal(VILLE, VILLE_CHAT))
    [card] = cards_of([answer])
    assert_valid_card(card)
    shown = texts(card)
    assert "What Tapaamo holds on you" in shown
    assert "Ville Väisänen" in shown
    assert "Networks you coordinate\n• Digisumpit, since 5 Jan 2026" in shown
    assert "Networks you follow\n• Digisumpit, since 5 Jan 2026" in shown
    assert "Sessions you said you would come to\n• Digisumpit, Monday 5 January 2026 12:00" in shown
    assert "Digisumpit, 5 Jan 2026 (from: check-in, Teams meeting event)" in shown
    assert "Digisumpit, Thursday 8 January 2026 12:00: reminder on 7 Jan 2026" in shown
    assert "Personal chat, last used 5 Jan 2026" in shown
    assert "Sessions you asked to schedule\n• Digisumpit, Monday 5 January 2026 12:00" in shown
    assert "entries (listed in the download)" in shown
    # Entries by others that name him (Aino added him as a coordinator), and the meeting event
    # that lists him: forgetme scrubs them, so mydata shows them.
    assert (
        "1 entry by someone else that names you, such as adding you as a coordinator "
        "(listed in the download)" in shown
    )
    assert (
        "Teams meeting events that list you\n"
        "• 1 event, such as joining or leaving a meeting (listed in the download)" in shown
    )
    assert "Your poll answers cannot be linked to you" in shown
    assert "The download link works for 60 minutes." in shown
    [link] = [a["url"] for a in card["actions"] if a["type"] == "Action.OpenUrl"]
    # The link is opaque: no id can be read from it in an access log, not even decoded.
    token = link.rsplit("/", 1)[1]
    decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for secret in (VILLE["id"], VILLE["aadObjectId"], "1VilleTeamsUserId", "VILLE-AAD"):
        assert secret.casefold() not in link.casefold()
        assert secret.encode() not in decoded
    [again] = cards_of(await bot.say("mydata", **personal(VILLE, VILLE_CHAT)))
    assert link not in json.dumps(again)  # a new token each time: links cannot be matched either

    response = await download(bot, link)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(await response.text())
    assert data["you"] == {
        "teams_user_id": VILLE["id"],
        "entra_object_id": VILLE["aadObjectId"],
        "names_stored": ["Ville Väisänen"],
    }
    assert [n["network"] for n in data["networks_coordinated"]] == ["Digisumpit"]
    assert [n["network"] for n in data["networks_followed"]] == ["Digisumpit"]
    assert [r["session_id"] for r in data["rsvps"]] == [first]
    [took_part] = data["participations"]
    assert took_part["session_id"] == first
    assert took_part["sources"] == ["checkin", "meeting_event"]
    assert [r["session_id"] for r in data["pending_personal_reminders"]] == [second]
    assert {c["conversation_id"] for c in data["conversations"]} >= {VILLE_CHAT}
    assert len(data["session_requests"]) == 2
    assert {"session.confirm"} <= {a["action"] for a in data["audit_log"] if a["by_you"]}
    [about_him] = [a for a in data["audit_log"] if not a["by_you"]]
    assert about_him["action"] == "coordinator.add"
    assert about_him["details"] == {"user": VILLE["id"]}
    [event] = data["meeting_events"]
    assert event["event"] == "participantJoin"
    assert event["session_id"] == first
    assert [(e["user_id"], e["name"]) for e in event["you_as_listed"]] == [(VILLE["id"], VILLE["name"])]
    assert "cannot be linked to you" in data["poll_answers"]
    assert data["retention"]["participation_by_name_months"] == 24

    # Someone else's data is not in it, and a person without data gets an empty card.
    assert "Aino" not in json.dumps(data)
    [empty] = cards_of(await bot.say("omattiedot", **personal(user(3, "Outi Ulkopuolinen"), "a:1Outi")))
    none = Catalogs()["fi"]._("None.")
    assert texts(empty).count(none) == 8  # only the chat it was asked in

    # The link expires, and a tampered or unsigned one is refused.
    token, _, query = link.partition("?")  # ?lang= is the language of a refusal page
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB") + "?" + query
    assert (await download(bot, tampered)).status == 403
    assert (await bot.client.get("/mydata/not-a-token")).status == 403
    bot.clock.advance(timedelta(minutes=61))
    assert (await download(bot, link)).status == 403


async def test_a_link_of_another_kind_is_not_a_data_download(bot: Harness) -> None:
    from web.privacy_routes import seal
    from web.signing import sign

    key = bot.app[PARTS].web.signing_key
    expires = bot.clock.now() + timedelta(hours=1)
    signed = sign(key, {"kind": "mydata", "uid": VILLE["id"]}, expires)  # the old readable form
    sealed = seal(key, {"kind": "export", "uid": VILLE["id"], "exp": int(expires.timestamp())})
    other_key = seal(b"another key", {"kind": "mydata", "uid": VILLE["id"], "exp": int(expires.timestamp())})
    for token in (signed, sealed, other_key):
        assert (await bot.client.get(f"/mydata/{token}")).status == 403


async def test_mydata_and_forgetme_answer_only_in_a_personal_chat(bot: Harness) -> None:
    await bot.say('network create "Digisumpit" weekly')
    for word in ("mydata", "forgetme", "minadata", "unohdaminut"):
        [reply] = await bot.say(word)
        assert "attachments" not in reply
    [reply] = await bot.say("mydata")
    assert reply["text"] == (
        "For your privacy, ask me this in a personal chat: "
        "open a chat with Tapaamo and type \u201cmydata\u201d there."
    )
    refused = await bot.click("privacy.forget_confirm", {})
    assert "personal chat" in refused["value"]
    [info] = cards_of(await bot.say("network info Digisumpit"))
    assert "Aino Coordinator" in texts(info)  # nothing was erased


# --- forgetme ---------------------------------------------------------------------------------


async def every_table(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as the database lists its tables."""
    async with database.read() as session:
        if database.dialect == "sqlite":
            names = (await session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'table'"))).all()
        else:
            names = (
                await session.scalars(
                    text(
                        "SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                    )
                )
            ).all()
        return {
            name: [tuple(row) for row in (await session.execute(text(f'SELECT * FROM "{name}"'))).all()]
            for name in names
        }


def traces(tables: dict[str, list[tuple[Any, ...]]], *needles: str) -> list[str]:
    """Where any needle occurs in any value (case ignored; as written, and as JSON escapes it)."""
    forms = {
        form.casefold()
        for n in needles
        for form in (n, json.dumps(n)[1:-1], json.dumps(n, ensure_ascii=False)[1:-1])
    }
    found = []
    for table, rows in tables.items():
        for row in rows:
            for value in row:
                if isinstance(value, bytes | bytearray | memoryview):
                    continue
                shown = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
                if any(form in shown.casefold() for form in forms):
                    found.append(f"{table}: {row}")
    return found


async def test_forgetme_erases_the_person_from_every_table(bot: Harness) -> None:
    first, second = await ville_takes_part(bot)
    await bot.say("follow Digisumpit", **personal(user(2, "Outi Osallistuja"), "a:1OutiChat"))
    # A day before the second session the personal reminder goes to Ville's chat.
    bot.clock.set(datetime(2026, 1, 7, 10, 0, tzinfo=UTC))
    await bot.run_jobs()
    assert any(r.conversation_id == VILLE_CHAT and r.kind == "send" for r in bot.connector.received)
    database = bot.app[PARTS].database
    ids = (VILLE["id"], VILLE["aadObjectId"], VILLE["name"])
    before = traces(await every_table(database), *ids)
    for table in (
        "coordinators",
        "followers",
        "rsvps",
        "participations",
        "conversation_refs",
        "drafts",
        "audit_log",
        "sent_messages",
        "meeting_events",
        "inbound_activities",
    ):
        assert any(t.startswith(f"{table}:") for t in before), table
    [report] = cards_of(await bot.say("report Digisumpit"))
    counted = texts(report)

    [answer] = await bot.say("glömmig", **personal(VILLE, VILLE_CHAT))
    [confirm] = cards_of([answer])
    assert_valid_card(confirm)
    assert confirm["lang"] == "sv"
    assert {a["verb"] for a in confirm["actions"]} == {"privacy.forget_confirm", "privacy.forget_cancel"}
    body = await bot.click(
        "privacy.forget_confirm", confirm_data(confirm), **personal(VILLE, VILLE_CHAT), locale="en-GB"
    )
    assert_valid_card(body["value"])
    shown = texts(body["value"])
    # Teams in English, but the card was Swedish (he typed glömmig): so is its answer.
    assert "Tapaamo har glömt dig" in shown
    assert "1 deltagande sparas endast som ett anonymt antal." in shown
    await bot.app[PARTS].endpoint.drain()

    left = traces(await every_table(database), *ids)
    assert left == []
    # The counts stay: the same report as before, and Outi is untouched.
    [report] = cards_of(await bot.say("report Digisumpit"))
    assert texts(report) == counted
    outi = await _privacy_of(bot.app[PARTS]).my_data(Subject("29:user-2", "aad-0002"))
    assert [t.network for t in outi.follows] == ["Digisumpit"]
    async with database.read() as session:
        actors = (await session.scalars(text("SELECT DISTINCT actor_id FROM audit_log"))).all()
    pseudonyms = [a for a in actors if a.startswith("forgotten-user-")]
    assert len(pseudonyms) == 1
    # Aino still coordinates, alone.
    [info] = cards_of(await bot.say("network info Digisumpit"))
    assert "Ville" not in texts(info)
    assert second > first


async def test_the_last_coordinator_must_hand_over_first(bot: Harness) -> None:
    await bot.say('network create "Kahvila" weekly', sender=VILLE)
    await bot.say('network create "Digisumpit" weekly', sender=VILLE, conversation="19:other-chat")
    await bot.say("follow Kahvila", **personal(VILLE, VILLE_CHAT))
    # Told at once, with no "Forget me" button to press first.
    [answer] = cards_of(await bot.say("forgetme", **personal(VILLE, VILLE_CHAT)))
    assert_valid_card(answer)
    shown = texts(answer)
    assert "Nothing was erased" in shown
    assert "You are the last coordinator of Digisumpit, Kahvila." in shown
    assert not answer.get("actions")
    [card] = cards_of(await bot.say("mydata", **personal(VILLE, VILLE_CHAT)))
    assert "Networks you follow\n• Kahvila" in texts(card)
    # With a second coordinator for both, it goes through.
    for network, chat in (("Kahvila", "19:group-chat"), ("Digisumpit", "19:other-chat")):
        await bot.say(
            f"network coordinators add {network} <at>Aino</at>",
            sender=VILLE,
            conversation=chat,
            **mention(user(1, "Aino Coordinator")),
        )
    body = await forget_me(bot, VILLE, VILLE_CHAT)
    assert "You are forgotten" in texts(body["value"])
    [info] = cards_of(await bot.say("network info Kahvila"))
    assert "Coordinators\nAino Coordinator" in texts(info)


async def test_an_ended_network_does_not_stop_forgetting(bot: Harness) -> None:
    await bot.say('network create "Kahvila" weekly', sender=VILLE)
    await bot.say("network end Kahvila", sender=VILLE)
    body = await forget_me(bot, VILLE, VILLE_CHAT)
    assert "You are forgotten" in texts(body["value"])
    left = traces(
        await every_table(bot.app[PARTS].database), VILLE["id"], VILLE["aadObjectId"], VILLE["name"]
    )
    assert left == []


async def test_a_forgetme_button_erases_only_who_asked_and_only_for_15_minutes(bot: Harness) -> None:
    await bot.say("network create Kahvila weekly")
    await bot.say("follow Kahvila", **personal(VILLE, VILLE_CHAT))
    [card] = cards_of(await bot.say("unohdaminut", **personal(VILLE, VILLE_CHAT), locale="fi-FI"))
    data = confirm_data(card)
    assert_valid_card(card)
    fi = Catalogs()["fi"]

    # The card forwarded to, or its payload replayed by, someone else erases nothing.
    outi = user(2, "Outi Osallistuja")
    await bot.say("follow Kahvila", **personal(outi, "a:1OutiChat"))
    body = await bot.click("privacy.forget_confirm", data, **personal(outi, "a:1OutiChat"), locale="fi-FI")
    assert body["value"] == fi._(
        "This button erases the data of the person who asked for it. To erase yours, type "
        "\u201c{command}\u201d in your own chat with Tapaamo.",
        command="unohdaminut",
    )
    # Nor does a payload with the user id changed, or an unsigned one.
    for forged in ({**data, "u": outi["id"]}, {"u": VILLE["id"], "exp": data["exp"]}, {}):
        body = await bot.click("privacy.forget_confirm", forged, **personal(VILLE, VILLE_CHAT))
        assert "You are forgotten" not in str(body["value"])

    # An old card in the chat history no longer works.
    bot.clock.advance(timedelta(minutes=16))
    body = await bot.click("privacy.forget_confirm", data, **personal(VILLE, VILLE_CHAT), locale="sv-FI")
    assert body["value"] == Catalogs()["sv"]._(
        "This confirmation has expired and nothing was erased. Type \u201c{command}\u201d again if you "
        "still want to be forgotten.",
        command="glömmig",
    )
    for who, chat in ((VILLE, VILLE_CHAT), (outi, "a:1OutiChat")):
        [mine] = cards_of(await bot.say("mydata", **personal(who, chat)))
        assert "Networks you follow\n• Kahvila" in texts(mine)

    # A fresh one, pressed by the person in time, does.
    body = await forget_me(bot, VILLE, VILLE_CHAT)
    assert "You are forgotten" in texts(body["value"])


async def test_cancelling_keeps_everything(bot: Harness) -> None:
    await bot.say("network create Kahvila weekly")
    await bot.say("follow Kahvila", **personal(VILLE, VILLE_CHAT))
    body = await bot.click("privacy.forget_cancel", {}, **personal(VILLE, VILLE_CHAT))
    assert "Nothing was erased" in texts(body["value"])
    [card] = cards_of(await bot.say("mydata", **personal(VILLE, VILLE_CHAT)))
    assert "Networks you follow\n• Kahvila" in texts(card)


# --- uninstalling -------------------------------------------------------------------------------


async def test_uninstalling_forgets_the_conversation_and_stops_its_jobs(bot: Harness) -> None:
    await bot.say('network create "Digisumpit" weekly')
    await bot.say("follow Digisumpit", **personal(VILLE, VILLE_CHAT))
    [card] = cards_of(await bot.say(f'schedule Digisumpit "every thursday 14:00" link {JOIN}'))
    draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", draft)
    await bot.run_jobs()
    parts = bot.app[PARTS]
    services = parts.endpoint.bot.router.services
    assert await services.refs.get("19:group-chat") is not None
    sent_before = len(bot.connector.for_conversation("19:group-chat"))

    await bot.post(bot.activity("installationUpdate", action="remove"))

    assert await services.refs.get("19:group-chat") is None
    [network] = await services.planning.networks.all()
    assert network.home_conversation_id is None
    # Weeks pass: nothing is posted there any more, and no job dies trying.
    for _ in range(4):
        await bot.advance(timedelta(days=7))
    assert len(bot.connector.for_conversation("19:group-chat")) == sent_before
    counts = await parts.runner.counts()
    assert counts.get("dead", 0) == 0
    entries = await services.audit.entries(f"network:{network.id}")
    assert "network.unhomed" in [e["action"] for e in entries]
    # Removing the bot twice (a redelivery, or conversationUpdate after installationUpdate) is fine.
    removed = bot.activity("conversationUpdate", membersRemoved=[{"id": "28:tapaamo-bot"}])
    await bot.post(removed)


async def test_removing_the_app_from_a_team_forgets_its_channel_threads(bot: Harness) -> None:
    general = "19:TeamGeneral@thread.tacv2"
    in_channel = {"conversation": f"{general};messageid=1700000000000", "conversation_type": "channel"}
    await bot.say('network create "Digisumpit" weekly', **in_channel)
    await bot.say('network create "Kahvila" weekly')  # homed in a group chat: stays
    services = bot.app[PARTS].endpoint.bot.router.services
    assert await services.refs.get(in_channel["conversation"]) is not None
    await bot.post(
        bot.activity(
            "installationUpdate",
            action="remove",
            conversation=general,
            conversation_type="channel",
            channelData={"tenant": {"id": "tenant-1"}, "team": {"id": general}},
        )
    )
    assert await services.refs.get(in_channel["conversation"]) is None
    assert await services.refs.get(general) is None
    homes = {n.name: n.home_conversation_id for n in await services.planning.networks.all()}
    assert homes == {"Digisumpit": None, "Kahvila": "19:group-chat"}
    assert await services.refs.get("19:group-chat") is not None


async def test_removing_the_app_from_a_team_forgets_every_channel_and_stops_their_jobs(bot: Harness) -> None:
    general = "19:TeamGeneral@thread.tacv2"
    second = "19:TeamSecondChannel@thread.tacv2"
    team_data = {"tenant": {"id": "tenant-1"}, "team": {"id": general}}

    def in_channel(channel: str) -> dict[str, Any]:
        return {
            "conversation": f"{channel};messageid=17000000{len(channel)}",
            "conversation_type": "channel",
            "channelData": team_data,
        }

    await bot.say("help", **in_channel(general))
    await bot.say('network create "Digisumpit" weekly', **in_channel(second))
    await bot.say('network create "Kahvila" weekly')  # homed in a group chat: stays
    [card] = cards_of(
        await bot.say(f'schedule Digisumpit "every thursday 14:00" link {JOIN}', **in_channel(second))
    )
    draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", draft, **in_channel(second))
    await bot.run_jobs()
    posted = [r for r in bot.connector.received if r.conversation_id.startswith(second)]
    assert any(r.kind == "send" for r in posted)  # the announcement went to the second channel
    parts = bot.app[PARTS]
    services = parts.endpoint.bot.router.services

    await bot.post(
        bot.activity(
            "installationUpdate",
            action="remove",
            conversation=general,
            conversation_type="channel",
            channelData=team_data,
        )
    )

    for channel in (general, second):
        assert await services.refs.get(in_channel(channel)["conversation"]) is None
    homes = {n.name: n.home_conversation_id for n in await services.planning.networks.all()}
    assert homes == {"Digisumpit": None, "Kahvila": "19:group-chat"}
    for _ in range(4):  # weeks pass: nothing is posted in the team, and no job dies trying
        await bot.advance(timedelta(days=7))
    assert [r for r in bot.connector.received if r.conversation_id.startswith(second)] == posted
    assert (await parts.runner.counts()).get("dead", 0) == 0


async def test_uninstalling_the_personal_app_forgets_the_personal_chat(bot: Harness) -> None:
    await bot.say("networks", **personal(VILLE, VILLE_CHAT))
    refs = bot.app[PARTS].endpoint.bot.router.services.refs
    assert await refs.get(VILLE_CHAT) is not None
    await bot.post(bot.activity("installationUpdate", action="remove", **personal(VILLE, VILLE_CHAT)))
    assert await refs.get(VILLE_CHAT) is None


# --- the privacy notice -----------------------------------------------------------------------


async def test_privacy_notice_tells_what_why_how_long_and_who(tmp_path: Path) -> None:
    async with privacy_bot(
        tmp_path,
        FakeClock(),
        retention_participation_months=18,
        retention_rsvp_days=60,
        privacy_contact="tietosuoja@example.fi",
    ) as bot:
        [answer] = await bot.say("privacy")
        [card] = cards_of([answer])
        assert_valid_card(card)
        shown = texts(card)
        for heading in (
            "What is kept",
            "Why",
            "How long",
            "Who sees it",
            "Feedback is anonymous",
            "See and erase your data",
        ):
            assert f"\n{heading}\n" in shown
        assert "Who took part in a session, by name: 18 months, then only as counts." in shown
        assert "Who said they would come: 60 days after the session." in shown
        assert "The audit log of coordinators' actions: 24 months." in shown
        assert "Ids of messages already handled: 48 hours." in shown
        assert "Results are shown only from 5 answers" in shown
        assert "type \u201cmydata\u201d" in shown
        assert "tietosuoja@example.fi" in shown
        for word, lang in (("tietosuoja", "fi"), ("dataskydd", "sv")):
            [other] = cards_of(await bot.say(word))
            assert_valid_card(other)
            assert other["lang"] == lang
        [help_card] = cards_of(await bot.say("help"))
        assert "privacy" in texts(help_card)


# --- retention ----------------------------------------------------------------------------------


async def test_the_purge_job_runs_through_the_job_runner(bot: Harness) -> None:
    first, _second = await ville_takes_part(bot)
    jobs = bot.app[PARTS].endpoint.bot.router.services.jobs
    job = purge_job(bot.clock.now().date(), bot.clock.now())
    assert job.dedupe_key == "privacy-purge:2026-01-05"
    await jobs.enqueue(job)
    await jobs.enqueue(job)  # the daily housekeeping may run twice: one purge per date
    assert await bot.run_jobs() == 1
    # 25 months on, the participation is only a count and the RSVP is gone.
    bot.clock.advance(timedelta(days=31 * 25))
    await jobs.enqueue(NewJob(PURGE, {}, bot.clock.now(), "privacy-purge:later"))
    await bot.run_jobs()
    database = bot.app[PARTS].database
    async with database.read() as session:
        rows = (await session.execute(text("SELECT participant_key, user_id FROM participations"))).all()
        rsvps = await session.scalar(text("SELECT count(*) FROM rsvps"))
    assert [(key[:5], user_id) for key, user_id in rows] == [("anon:", None)]
    assert rsvps == 0
    assert first > 0


async def test_the_apps_daily_housekeeping_purges_once_a_day_and_drops_old_finished_jobs(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with privacy_bot(tmp_path, clock, retention_done_jobs_days=2) as bot:
        parts = bot.app[PARTS]
        database = parts.database

        async def purge_jobs() -> list[tuple[str, str]]:
            async with database.read() as session:
                rows = await session.execute(
                    text("SELECT dedupe_key, status FROM jobs WHERE kind = :kind ORDER BY dedupe_key"),
                    {"kind": PURGE},
                )
                return [(str(key), str(status)) for key, status in rows.all()]

        await parts.housekeeping()  # what the ticker runs every night
        await parts.housekeeping()  # run twice on one day (a restart): still one purge
        await bot.run_jobs()
        assert await purge_jobs() == [("privacy-purge:2026-01-05", "done")]

        await bot.advance(timedelta(days=1))
        await parts.housekeeping()
        await bot.run_jobs()
        assert await purge_jobs() == [
            ("privacy-purge:2026-01-05", "done"),
            ("privacy-purge:2026-01-06", "done"),
        ]

        # TAPAAMO_RETENTION_DONE_JOBS_DAYS=2: two days after it finished, a job is forgotten.
        await bot.advance(timedelta(days=1, hours=12))
        await parts.housekeeping()
        await bot.run_jobs()
        assert await purge_jobs() == [
            ("privacy-purge:2026-01-06", "done"),
            ("privacy-purge:2026-01-07", "done"),
        ]


# --- the store on each database -------------------------------------------------------------


@dataclass
class Stores:
    clock: FakeClock
    networks: SqlNetworkStore
    sessions: SqlSessionStore
    ledger: SqlParticipationStore
    polls: SqlPollStore
    repos: Repositories
    privacy: Privacy


def stores_on(database: Database, clock: FakeClock) -> Stores:
    repos = Repositories.build(database, clock)
    networks = SqlNetworkStore(database)
    privacy = Privacy(SqlPrivacyStore(database), repos.conversations, networks, repos.audit, clock)
    return Stores(
        clock,
        networks,
        SqlSessionStore(database),
        SqlParticipationStore(database),
        SqlPollStore(database),
        repos,
        privacy,
    )


async def a_network(s: Stores, name: str, creator: Person) -> Network:
    planning = Planning(s.networks, s.sessions, s.repos.jobs, s.repos.audit, s.clock)
    return await planning.create(
        name=name, cadence=parse_cadence("weekly"), lang="en", creator=creator, home_conversation_id="19:home"
    )


async def a_session(s: Stores, network: Network, starts_at: datetime, draft: int) -> Session:
    new = NewSession(network.id, starts_at, starts_at + timedelta(hours=1), "", None, draft_id=draft)
    [session] = await s.sessions.add_sessions([new], s.clock.now())
    return session


def attendance(session: Session, who: Person, source: Source = Source.CHECKIN) -> Attendance:
    return Attendance(
        session_id=session.id,
        key=participant_key(who.aad_id, who.user_id),
        source=source,
        seen_at=session.starts_at,
        user_id=who.user_id,
        name=who.name,
        tenant_id="tenant-1",
        email="ville@kunta.fi",
    )


async def a_closed_poll(s: Stores, session: Session, closed_at: datetime, comment: str) -> Poll:
    poll = await s.polls.open(
        Poll(
            0,
            session.id,
            session.network_id,
            ("work",),
            True,
            PollStatus.OPEN,
            session.ends_at,
            closed_at,
            new_secret(),
        )
    )
    assert poll.secret is not None
    await s.polls.comment(poll.id, voter_key(poll.secret, "someone"), comment, session.ends_at)
    await s.polls.close(poll.id, closed_at)
    return poll


async def test_the_purge_drops_what_is_older_than_its_limit_and_keeps_the_rest(database: Database) -> None:
    now = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
    s = stores_on(database, FakeClock(now))
    someone = Person("29:someone", "Some One", "aad-someone")
    network = await a_network(s, "Kahvila", someone)
    old = await a_session(s, network, now - relativedelta(months=25), 1)
    young = await a_session(s, network, now - relativedelta(months=23), 2)
    ended_long_ago = await a_session(s, network, now - timedelta(days=92), 3)
    ended_lately = await a_session(s, network, now - timedelta(days=88), 4)
    upcoming = await a_session(s, network, now + timedelta(days=200), 5)
    for session in (old, young):
        await s.ledger.record(attendance(session, someone))
    for session in (ended_long_ago, ended_lately, upcoming):
        await s.sessions.rsvp(session.id, someone, now - timedelta(days=100))
    audit = s.repos.audit
    await audit.record(actor_id="29:someone", action="old", subject="x", at=now - relativedelta(months=25))
    await audit.record(actor_id="29:someone", action="young", subject="x", at=now - relativedelta(months=23))
    sent = s.repos.sent
    await sent.record(
        key="remind:old:29:someone", conversation_id="a:1", activity_id="1", at=now - timedelta(days=91)
    )
    await sent.record(
        key="remind:young:29:someone", conversation_id="a:1", activity_id="2", at=now - timedelta(days=89)
    )
    await sent.record(
        key=f"announce:{upcoming.id}",
        conversation_id="19:home",
        activity_id="3",
        at=now - timedelta(days=100),
    )
    await sent.record(
        key=f"announce:{old.id}", conversation_id="19:home", activity_id="4", at=now - timedelta(days=100)
    )
    for days in (31, 29):
        await s.sessions.add_draft(
            Draft(
                0,
                network.id,
                "29:someone",
                now,
                timedelta(hours=1),
                f"{days}",
                None,
                None,
                None,
                None,
                DraftStatus.PENDING,
                now - timedelta(days=days),
            )
        )
    for label, at in (("old", now - relativedelta(months=25)), ("young", now - relativedelta(months=23))):
        event = MeetingEvent(
            f"event-{label}", "19:home", "participantJoin", at, payload={"members": ["aad-someone"]}
        )
        await s.ledger.add_event(event)
    await a_closed_poll(s, old, now - relativedelta(months=25), "old comment")
    await a_closed_poll(s, young, now - relativedelta(months=23), "young comment")

    purged = await s.privacy.purge()

    assert purged == {
        "participations_anonymised": 1,
        "audit_entries": 1,
        "sent_messages": 2,  # an announcement stays while its session is to come
        "rsvps": 1,
        "drafts": 1,
        "meeting_event_payloads": 1,
        "poll_comments": 1,
    }
    async with database.read() as session:

        def rows(sql: str) -> Any:
            return session.execute(text(sql))

        participations = (
            await rows("SELECT session_id, participant_key, user_id, display_name, email FROM participations")
        ).all()
        assert sorted((r[0], r[1].startswith("anon:"), r[2], r[3], r[4]) for r in participations) == [
            (old.id, True, None, "", None),
            (young.id, False, "29:someone", "Some One", "ville@kunta.fi"),
        ]
        assert (await rows("SELECT action FROM audit_log WHERE subject = 'x'")).scalars().all() == ["young"]
        assert sorted((await rows("SELECT key FROM sent_messages")).scalars().all()) == sorted(
            [f"announce:{upcoming.id}", "remind:young:29:someone"]
        )
        assert sorted((await rows("SELECT session_id FROM rsvps")).scalars().all()) == sorted(
            [ended_lately.id, upcoming.id]
        )
        assert (await rows("SELECT topic FROM drafts")).scalars().all() == ["29"]
        events = dict((await rows("SELECT event_key, payload FROM meeting_events")).all())
        assert events["event-old"] is None
        assert events["event-young"] is not None
        assert (await rows("SELECT text FROM poll_comments")).scalars().all() == ["young comment"]
    # A second run finds nothing more: the counts of the first are final.
    assert set((await s.privacy.purge()).values()) == {0}


async def test_forgetting_leaves_no_trace_in_any_table(database: Database) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    s = stores_on(database, FakeClock(now))
    ville = Person(VILLE["id"], VILLE["name"], VILLE["aadObjectId"])
    aino = Person("29:aino", "Aino Koordinaattori", "aad-aino")
    ours = await a_network(s, "Digisumpit", aino)
    await s.networks.add_coordinator(ours.id, Coordinator(ville.user_id, ville.name, ville.aad_id), now)
    await s.repos.audit.record(
        actor_id=aino.user_id,
        action="coordinator.add",
        subject=f"network:{ours.id}",
        details={"user": ville.user_id, "note": f"welcome {ville.name}"},
        at=now,
    )
    await s.repos.audit.record(actor_id=ville.user_id, action="session.confirm", subject="x", at=now)
    session = await a_session(s, ours, now - timedelta(hours=2), 1)
    await s.ledger.record(attendance(session, ville))
    await s.ledger.record(attendance(session, aino))
    await s.ledger.add_event(
        MeetingEvent(
            "e1", "19:home", "participantJoin", now, payload={"members": [ville.aad_id, aino.aad_id]}
        )
    )
    await s.sessions.follow(ours.id, ville, now)
    await s.sessions.rsvp(session.id, ville, now)
    await s.sessions.add_draft(
        Draft(
            0,
            ours.id,
            ville.user_id,
            now,
            timedelta(hours=1),
            "",
            None,
            None,
            None,
            None,
            DraftStatus.PENDING,
            now,
        )
    )
    poll = await s.polls.open(
        Poll(
            0,
            session.id,
            ours.id,
            ("work",),
            True,
            PollStatus.OPEN,
            now,
            now + timedelta(days=3),
            new_secret(),
        )
    )
    assert poll.secret is not None
    mine = voter_key(poll.secret, participant_key(ville.aad_id, ville.user_id))
    await s.polls.vote(poll.id, "work", mine, 4, now)
    await s.polls.comment(poll.id, mine, "Hyvä!", now)
    for conversation, kind, who in ((VILLE_CHAT, "personal", VILLE), ("19:home", "groupChat", VILLE)):
        ref = ConversationRef(
            conversation_id=conversation,
            service_url="https://smba.trafficmanager.net/emea/",
            channel_id="msteams",
            kind=kind,  # type: ignore[arg-type]
            tenant_id="tenant-1",
            bot_id="28:bot",
            user_id=who["id"] if kind == "personal" else None,
            user_aad_id=who["aadObjectId"] if kind == "personal" else None,
            locale="fi-FI",
            reference={"user": who, "conversation": {"id": conversation}},
            updated_at=now,
        )
        await s.repos.inbound.begin(f"{conversation}|activity-1", ref)
        await s.repos.inbound.finish(
            f"{conversation}|activity-1", {"value": {"refresh": {"userIds": [who["id"]]}}}
        )
    await s.repos.sent.record(
        key=f"remind-personal:1:2:{ville.user_id}", conversation_id=VILLE_CHAT, activity_id="9", at=now
    )
    ids = (ville.user_id, VILLE["aadObjectId"], ville.name)
    assert len(traces(await every_table(database), *ids)) >= 12

    outcome = await s.privacy.forget(Subject(ville.user_id, ville.aad_id, ville.name))

    assert outcome.done
    assert outcome.counts["participations_anonymised"] == 1
    assert outcome.counts["coordinator_roles"] == 1
    assert outcome.counts["poll_answers_rekeyed"] == 2
    assert traces(await every_table(database), *ids) == []
    assert await s.polls.my_votes(poll.id, mine) == {}
    assert await s.polls.votes(poll.id) == [("work", 4)]  # the answer stays, unlinkable
    assert [p.key for p in await s.ledger.for_session(session.id) if not p.key.startswith("anon:")] == [
        "aad-aino"
    ]
    network = await s.networks.get(ours.id)
    assert network is not None
    assert [c.user_id for c in network.coordinators] == [aino.user_id]
    # Aino's data is all there.
    left = await s.privacy.my_data(Subject(aino.user_id, aino.aad_id))
    assert [t.network for t in left.coordinates] == ["Digisumpit"]
    assert len(left.participations) == 1


async def test_the_last_coordinator_blocks_forgetting_and_nothing_changes(database: Database) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    s = stores_on(database, FakeClock(now))
    ville = Person(VILLE["id"], VILLE["name"], VILLE["aadObjectId"])
    ours = await a_network(s, "Kahvila", ville)
    await s.sessions.follow(ours.id, ville, now)
    before = await every_table(database)
    outcome = await s.privacy.forget(Subject(ville.user_id, ville.aad_id.lower() if ville.aad_id else None))
    assert outcome.blocked == ("Kahvila",)
    assert not outcome.done
    assert await every_table(database) == before


async def test_mydata_lists_entries_about_the_person_and_a_team_removal_forgets_its_channels(
    database: Database,
) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    s = stores_on(database, FakeClock(now))
    ville = Subject(VILLE["id"], VILLE["aadObjectId"], VILLE["name"])
    aino = Person("29:aino", "Aino Koordinaattori", "aad-aino")
    await s.repos.audit.record(
        actor_id=aino.user_id,
        action="coordinator.add",
        subject="network:1",
        details={"user": ville.user_id},
        at=now,
    )
    await s.repos.audit.record(actor_id=aino.user_id, action="network.edit", subject="network:1", at=now)
    member = {"user_id": None, "aad_id": ville.aad_id.lower(), "name": ville.name, "tenant_id": "t"}  # type: ignore[union-attr]
    other = {"user_id": aino.user_id, "aad_id": aino.aad_id, "name": aino.name, "tenant_id": "t"}
    await s.ledger.add_event(
        MeetingEvent("e1", "19:x", "participantJoin", now, payload={"members": [member, other]})
    )

    held = await s.privacy.my_data(ville)
    assert [(a.action, a.by_you, a.details) for a in held.audit] == [
        ("coordinator.add", False, {"user": ville.user_id})
    ]
    [event] = held.events
    assert (event.kind, event.listed_as) == ("participantJoin", (member,))
    assert "Aino" not in json.dumps(held.to_json(now, Retention()))

    # The app is removed from a team: every channel of it that Tapaamo knows goes, others stay.
    team = "19:General@thread.tacv2"
    homes = {"General": team, "Second": "19:Second@thread.tacv2", "Elsewhere": "19:Other@thread.tacv2"}
    for name, channel in homes.items():
        ref = ConversationRef(
            conversation_id=f"{channel};messageid=1",
            service_url="https://smba.trafficmanager.net/emea/",
            channel_id="msteams",
            kind="channel",
            tenant_id="tenant-1",
            bot_id="28:bot",
            user_id=None,
            user_aad_id=None,
            locale="fi-FI",
            reference={
                "conversation": {"id": f"{channel};messageid=1"},
                "team": {"id": team if name != "Elsewhere" else "19:OtherTeam@thread.tacv2"},
            },
            updated_at=now,
        )
        await s.repos.conversations.upsert(ref)
        network = await a_network(s, name, aino)
        await s.networks.save(replace(network, home_conversation_id=channel))
    unhomed = await s.privacy.forget_conversation(team, team)
    assert len(unhomed) == 2
    left = {n.name: n.home_conversation_id for n in await s.networks.all()}
    assert left == {"General": None, "Second": None, "Elsewhere": homes["Elsewhere"]}
    assert await s.repos.conversations.get(f"{homes['Second']};messageid=1") is None
    assert await s.repos.conversations.get(f"{homes['Elsewhere']};messageid=1") is not None
