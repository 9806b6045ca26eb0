"""Running a network by chat: ending, renaming, end dates, coordinators, ended networks, the list,
cadence buckets, usages in the user's language and a channel as the home.

Each test drives the whole app through /api/messages (FakeClock: Monday 5 January 2026, 11:00 in
Helsinki) and reads what a user would see: replies, cards and what was posted to the home.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.app import PARTS
from dialogs.i18n import Catalogs
from domain.clock import FakeClock
from tests.support.cards import assert_valid_card
from tests.support.harness import Harness, cards_of, running_bot, texts, user

FI = Catalogs()["fi"]
SV = Catalogs()["sv"]
JOIN = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_net%40thread.v2/0"
GROUP = "19:group-chat"
HELSINKI = ZoneInfo("Europe/Helsinki")


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, FakeClock()) as harness:
        yield harness


def mention(u: dict[str, str]) -> dict:
    return {
        "type": "mention",
        "mentioned": {"id": u["id"], "name": u["name"], "aadObjectId": u["aadObjectId"]},
        "text": f"<at>{u['name']}</at>",
    }


def reply_text(replies: list[dict]) -> str:
    return "\n".join((r.get("text") or "") + "\n".join(texts(c) for c in cards_of([r])) for r in replies)


async def confirm(bot: Harness, command: str, **kwargs: object) -> int:
    """Schedule and confirm; return the first session's number."""
    [card] = cards_of(await bot.say(command, **kwargs))
    draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", draft, **kwargs)
    await bot.run_jobs()
    announcement = [r for r in bot.connector.received if r.kind == "send" and cards_of([r.activity])][-1]
    rsvp = next(a for a in cards_of([announcement.activity])[0]["actions"] if a.get("verb") == "session.rsvp")
    return int(rsvp["data"]["session"])


async def scalar(bot: Harness, sql: str, **params: object) -> object:
    async with bot.app[PARTS].database.read() as session:
        return (await session.execute(text(sql), params)).scalar()


# --- 1. network end does what the lifecycle's end does -------------------------------------------


async def test_ending_a_network_tells_its_home_and_removes_personal_data(bot: Harness) -> None:
    await bot.say('network create "Digisumpit" weekly')
    held = await confirm(bot, f'schedule Digisumpit "today 12:00" link {JOIN}')
    await confirm(bot, 'schedule Digisumpit "next monday 12:00"')
    await bot.say("follow Digisumpit", sender=user(3))
    bot.clock.advance(timedelta(minutes=55))
    [checked_in] = await bot.say("here", sender=user(2))
    assert "You are checked in" in checked_in["text"]
    bot.clock.advance(timedelta(hours=2))
    await bot.run_jobs()
    assert await scalar(bot, "SELECT count(*) FROM participations WHERE user_id IS NOT NULL") == 1

    before = len(bot.connector.received)
    [reply] = await bot.say("network end Digisumpit")
    assert "Digisumpit has ended" in reply["text"]
    await bot.run_jobs()
    home = [
        r.activity.get("text") or "" for r in bot.connector.received[before:] if r.conversation_id == GROUP
    ]
    assert any("Digisumpit has ended. Thank you to everyone who took part!" in t for t in home)
    # The held session's participation is kept only as a count; follows are gone.
    assert await scalar(bot, "SELECT count(*) FROM participations WHERE session_id = :s", s=held) == 1
    assert await scalar(bot, "SELECT count(*) FROM participations WHERE user_id IS NOT NULL") == 0
    assert await scalar(bot, "SELECT count(*) FROM followers") == 0
    # The upcoming session's announcement says it is cancelled.
    updates = [r for r in bot.connector.received[before:] if r.kind == "update"]
    assert updates
    assert any("cancelled" in texts(c).casefold() for r in updates for c in cards_of([r.activity]))


# --- 2. renaming --------------------------------------------------------------------------------


async def test_after_a_rename_edits_reach_the_renamed_network_and_the_old_name_is_free(bot: Harness) -> None:
    await bot.say('network create "Taloustorstai" weekly')
    [renamed] = cards_of(await bot.say('network edit Taloustorstai name "Kaffe"'))
    assert "Kaffe is updated." in texts(renamed)
    # The old name is free for a new network, and then means the new one.
    [created] = cards_of(await bot.say('network create "Taloustorstai" monthly'))
    assert "Taloustorstai is created" in texts(created)
    await bot.say('network edit Taloustorstai description "Talousasiat"')
    [info] = cards_of(await bot.say("network info Taloustorstai"))
    assert "monthly" in texts(info)
    assert "Talousasiat" in texts(info)
    [kaffe] = cards_of(await bot.say("network info Kaffe"))
    assert "weekly" in texts(kaffe)
    assert "Talousasiat" not in texts(kaffe)
    # Renaming Kaffe (found as "Kaffe") changes Kaffe, not the network now called Taloustorstai.
    [renamed_again] = cards_of(await bot.say('network edit Kaffe name "Kaffe med Uffe"'))
    assert "Kaffe med Uffe is updated." in texts(renamed_again)
    [info] = cards_of(await bot.say("network info Taloustorstai"))
    assert texts(info).startswith("Taloustorstai")


async def test_a_new_name_that_reads_as_another_networks_name_is_refused(bot: Harness) -> None:
    await bot.say('network create "Kaffe med Uffe" weekly')
    await bot.say('network create "Toinen" weekly')
    for name in ("kaffe med uffe", "Kaffe-med-Uffe"):
        [refused] = await bot.say(f'network edit Toinen name "{name}"')
        assert refused["text"] == "There is already a network called \u201cKaffe med Uffe\u201d."
    [refused] = await bot.say('network create "KAFFE-MED-UFFE" monthly')
    assert refused["text"] == "There is already a network called \u201cKaffe med Uffe\u201d."
    [info] = cards_of(await bot.say("network info Toinen"))
    assert texts(info).startswith("Toinen")


# --- 3. end dates -------------------------------------------------------------------------------


async def test_an_end_date_makes_a_network_fixed_term_and_clearing_it_continuous(bot: Harness) -> None:
    await bot.say('network create "Kevät" weekly')
    await bot.say("network edit Kevät ends 30.6.2026")
    assert await scalar(bot, "SELECT kind FROM networks WHERE name = 'Kevät'") == "fixed_term"
    [info] = cards_of(await bot.say("network info Kevät"))
    assert "30 Jun 2026" in texts(info)
    # It then ends by itself on its date (Tuesday), as a fixed-term network does.
    for hour in (3, 10):
        bot.clock.set(datetime(2026, 6, 30, hour, 0, tzinfo=HELSINKI))
        if hour == 3:
            await bot.app[PARTS].housekeeping()
        await bot.run_jobs()
    assert await scalar(bot, "SELECT status FROM networks WHERE name = 'Kevät'") == "ended"
    home = [r.activity.get("text") or "" for r in bot.connector.received if r.conversation_id == GROUP]
    assert any("Kevät has ended" in t for t in home)


async def test_clearing_the_end_date_makes_the_network_continuous_again(bot: Harness) -> None:
    await bot.say('verkosto luo "Syksy" viikoittain määräaikainen 30.6.2026 asti', locale="fi-FI")
    assert await scalar(bot, "SELECT kind FROM networks WHERE name = 'Syksy'") == "fixed_term"
    [reply] = cards_of(await bot.say("verkosto muokkaa Syksy päättyy ei", locale="fi-FI"))
    assert FI._("{network} is updated.", network="Syksy") in texts(reply)
    assert await scalar(bot, "SELECT kind FROM networks WHERE name = 'Syksy'") == "continuous"
    [info] = cards_of(await bot.say("network info Syksy"))
    assert "Ends on" not in texts(info)


# --- 4. removing someone who is not a coordinator --------------------------------------------------


async def test_removing_someone_who_is_not_a_coordinator_says_so(bot: Harness) -> None:
    await bot.say('network create "Toinen" weekly')
    stranger = user(9, "User 9")
    [reply] = await bot.say(
        "network coordinators remove Toinen <at>User 9</at>", entities=[mention(stranger)]
    )
    assert reply["text"] == "User 9 is not a coordinator of Toinen."
    [fi] = await bot.say(
        "verkosto koordinaattorit poista Toinen <at>User 9</at>", entities=[mention(stranger)], locale="fi-FI"
    )
    assert fi["text"] == FI._("{name} is not a coordinator of {network}.", name="User 9", network="Toinen")
    assert fi["text"] != "User 9 is not a coordinator of Toinen."


# --- 5. an ended network is known as ended ------------------------------------------------------------


async def test_an_ended_network_is_known_as_ended(bot: Harness) -> None:
    await bot.say('network create "Kaffe" weekly')
    await bot.say("network end Kaffe")
    await bot.run_jobs()
    [info] = cards_of(await bot.say("network info Kaffe"))
    assert_valid_card(info)
    assert "ended" in texts(info)
    assert not info.get("actions"), "an ended network offers nothing to follow"
    [resume] = await bot.say("network resume Kaffe")
    assert resume["text"] == "Kaffe has already ended."
    [follow] = await bot.say("follow Kaffe", sender=user(4))
    assert follow["text"] == "Kaffe has ended."
    [schedule] = await bot.say('schedule Kaffe "next friday 10:00"')
    assert schedule["text"] == "Kaffe has ended."
    [create] = await bot.say('network create "Kaffe" weekly')
    assert (
        create["text"]
        == "There is already a network called \u201cKaffe\u201d; it has ended. Please choose another name."
    )


# --- 6. the list of networks says how to join ------------------------------------------------------


async def test_the_list_of_networks_says_how_to_join_each(bot: Harness) -> None:
    await bot.say('network create "Kaffe med Uffe" weekly join "Write to Uffe for the link"')
    await bot.say('network create "Digisumpit" monthly')
    [card] = cards_of(await bot.say("networks"))
    assert_valid_card(card)
    shown = texts(card)
    assert "How to join: Write to Uffe for the link" in shown
    assert "follow Digisumpit" in shown
    [fi] = cards_of(await bot.say("verkostot", locale="fi-FI"))
    assert "seuraa Digisumpit" in texts(fi)


# --- 7. cadence buckets shown as written ------------------------------------------------------------


@pytest.mark.parametrize(
    ("bucket", "en", "fi", "sv"),
    [
        ("3-5", "3\u20135 times a year", "3\u20135 kertaa vuodessa", "3\u20135 gånger om året"),
        ("<1", "less than once a year", "alle kerran vuodessa", "mindre än en gång om året"),
        (">10", "more than 10 times a year", "yli 10 kertaa vuodessa", "mer än 10 gånger om året"),
    ],
)
async def test_a_bucket_cadence_is_shown_as_written(
    bot: Harness, bucket: str, en: str, fi: str, sv: str
) -> None:
    await bot.say(f'network create "Harva" "{bucket}"')
    [card] = cards_of(await bot.say("network info Harva"))
    assert en in texts(card)
    [card] = cards_of(await bot.say("verkosto tiedot Harva", locale="fi-FI"))
    assert fi in texts(card)
    [card] = cards_of(await bot.say("nätverk visa Harva", locale="sv-SE"))
    assert sv in texts(card)


# --- 8. usages in the user's language ------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "command", "usage"),
    [
        ("fi-FI", "seuraa", "seuraa NIMI"),
        ("sv-SE", "följ", "följ NAMN"),
        ("fi-FI", "verkosto muokkaa Taloustorstai", "verkosto muokkaa NIMI kuvaus|liittyminen"),
        ("sv-SE", "nätverk ändra Taloustorstai", "nätverk ändra NAMN beskrivning|anslutning"),
        ("fi-FI", "verkosto koordinaattorit lisää", "verkosto koordinaattorit lisää|poista NIMI @henkilö"),
        ("sv-SE", "nätverk koordinatorer lägg-till", "nätverk koordinatorer lägg-till|ta-bort NAMN @person"),
        ("fi-FI", "verkosto tiedot", "tiedot NIMI"),
        ("sv-SE", "nätverk visa", "visa NAMN"),
    ],
)
async def test_usages_are_in_the_users_language(bot: Harness, locale: str, command: str, usage: str) -> None:
    await bot.say('network create "Taloustorstai" weekly')
    [reply] = await bot.say(command, locale=locale)
    tr = FI if locale == "fi-FI" else SV
    assert reply["text"].startswith(tr._("Something is missing. Use: {usage}", usage="")), reply["text"]
    assert usage in reply["text"]
    assert "NAME" not in reply["text"]


@pytest.mark.parametrize(
    ("locale", "word"), [("fi-FI", "koordinaattorit lisää"), ("sv-SE", "koordinatorer lägg-till")]
)
async def test_a_missing_mention_is_explained_in_the_users_language(
    bot: Harness, locale: str, word: str
) -> None:
    await bot.say('network create "Toinen" weekly')
    command = ("verkosto " if locale == "fi-FI" else "nätverk ") + f"{word} Toinen"
    [reply] = await bot.say(command, locale=locale)
    tr = FI if locale == "fi-FI" else SV
    assert reply["text"].startswith(tr._("Mention the person with @, e.g. {usage}", usage="")), reply["text"]
    assert "@person" not in reply["text"] or locale == "sv-SE"
    assert "network coordinators" not in reply["text"]


# --- 9. a channel as the home ------------------------------------------------------------------


async def test_a_channel_home_gets_new_posts_not_replies_in_the_creation_thread(bot: Harness) -> None:
    channel = "19:abc123@thread.tacv2"
    thread = {"conversation": f"{channel};messageid=1767600000000", "conversation_type": "channel"}
    await bot.say('network create "Kanava" weekly', **thread)
    assert await scalar(bot, "SELECT home_conversation_id FROM networks") == channel
    session_id = await confirm(bot, f'schedule Kanava "today 12:00" link {JOIN}', **thread)
    [announced] = [r for r in bot.connector.received if r.kind == "send" and cards_of([r.activity])]
    assert announced.conversation_id == channel
    # Checking in from another thread of the channel finds the channel's session.
    bot.clock.advance(timedelta(minutes=55))
    [checked_in] = await bot.say(
        "here", sender=user(2), conversation=f"{channel};messageid=1767603000000", conversation_type="channel"
    )
    assert "You are checked in" in checked_in["text"]
    assert await scalar(bot, "SELECT count(*) FROM participations WHERE session_id = :s", s=session_id) == 1
