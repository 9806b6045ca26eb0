"""Every message the code uses exists in Finnish, Swedish and English, with the same placeholders."""

import string
from datetime import UTC, date, datetime

import pytest

from dialogs.i18n import Catalogs
from dialogs.i18n_tools import extract, load
from dialogs.turn import LANGS


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("lang", LANGS)
def test_every_message_is_translated(lang: str) -> None:
    catalog = load(lang)
    missing = []
    for msgid, where in extract().items():
        message = catalog.get(msgid)
        strings = (
            (message.string,)
            if message and isinstance(message.string, str)
            else (message.string if message else ())
        )
        if not message or not all(strings):
            missing.append(f"{msgid!r} ({where})")
    assert not missing, f"{lang}: untranslated (run python -m dialogs.i18n_tools):\n" + "\n".join(missing)


@pytest.mark.parametrize("lang", LANGS)
def test_translations_keep_the_placeholders(lang: str) -> None:
    wrong = []
    for message in load(lang):
        if not message.id or isinstance(message.id, tuple):
            continue
        if placeholders(message.id) != placeholders(message.string):
            wrong.append(f"{message.id!r} -> {message.string!r}")
    assert not wrong, "\n".join(wrong)


def test_translator_formats_in_each_language() -> None:
    catalogs = Catalogs()
    assert catalogs["fi"]._("Welcome to Tapaamo") == "Tervetuloa Tapaamoon"
    assert catalogs["sv"]._("Welcome to Tapaamo") == "Välkommen till Tapaamo"
    assert catalogs["en"]._("Welcome to Tapaamo") == "Welcome to Tapaamo"
    assert catalogs["fi"].number(1234.5) == "1\xa0234,5"
    assert catalogs["en"].percent(0.25) == "25%"


def test_dates_are_written_as_each_language_writes_them() -> None:
    catalogs = Catalogs()
    day = date(2026, 12, 4)
    moment = datetime(2026, 12, 4, 12, 30, tzinfo=UTC)  # 14:30 in Helsinki
    written = [catalogs[lang].date(day) for lang in ("fi", "sv", "en")]
    assert written == ["4.12.2026", "4.12.2026", "4 Dec 2026"]
    assert catalogs["en"].datetime(moment, "Europe/Helsinki", "d.M.yyyy HH:mm") == "4 Dec 2026 14:30"
    assert catalogs["fi"].datetime(moment, "Europe/Helsinki", "d.M. HH:mm") == "4.12. 14:30"
    assert catalogs["sv"]._("{network}, since {date}", network="X", date=day).endswith("4.12.2026")
