"""A command typed without what it needs answers with its own usage, in the language typed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialogs.i18n import Catalogs
from domain.clock import FakeClock
from tests.support.harness import Harness, running_bot

TR = Catalogs()


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, FakeClock()) as harness:
        yield harness


@pytest.mark.parametrize(
    ("typed", "lang", "usage"),
    [
        ("sessions", "en", "sessions NAME"),
        ("tapaamiset", "fi", "tapaamiset NIMI"),
        ("träffar", "sv", "träffar NAMN"),
        ("cancel", "en", "cancel #12 [all]"),
        ("peru", "fi", "peru #12 [kaikki]"),
        ("avboka", "sv", "avboka #12 [alla]"),
        ("move #1", "en", 'move #12 "friday 10:00"'),
        ("siirrä #1", "fi", 'siirrä #12 "perjantaina klo 10"'),
        ("flytta", "sv", 'flytta #12 "fredag kl 10"'),
        ("follow", "en", "follow NAME"),
        ("seuraa", "fi", "seuraa NIMI"),
        ("följ", "sv", "följ NAMN"),
        ("unfollow", "en", "unfollow NAME"),
        ("lopeta-seuranta", "fi", "lopeta-seuranta NIMI"),
        ("sluta-följa", "sv", "sluta-följa NAMN"),
        ("sovi Taloustorstai", "fi", 'sovi NIMI "ensi torstaina klo 14"'),
    ],
)
async def test_a_bare_command_shows_its_usage(bot: Harness, typed: str, lang: str, usage: str) -> None:
    [reply] = await bot.say(typed)
    expected = TR[lang]._("Something is missing. Use: {usage}", usage="")
    assert reply["text"].startswith(expected), reply["text"]
    assert reply["text"][len(expected) :].startswith(usage), reply["text"]
