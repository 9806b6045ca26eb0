"""Messages in Finnish, Swedish and English, from gettext catalogs read with Babel.

Message ids are the English text with ``{name}`` placeholders; catalogs live in
``dialogs/locales/<lang>.po`` and every id must be translated in all three (a test checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from dialogs.turn import LANGS, Lang

LOCALES_DIR = Path(__file__).parent / "locales"
BABEL_LOCALES: Mapping[Lang, str] = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_GB"}


class Translator:
    """Texts and formats of one language."""

    def __init__(self, lang: Lang, messages: Mapping[str, str], plurals: Mapping[str, tuple[str, ...]]):
        self.lang = lang
        self.locale = Locale.parse(BABEL_LOCALES[lang])
        self._messages = messages
        self._plurals = plurals

    def _(self, msgid: str, **params: object) -> str:
        """The translation of ``msgid`` with ``params`` filled in; the id itself if untranslated."""
        text = self._messages.get(msgid) or msgid
        return text.format(**{k: self._value(v) for k, v in params.items()}) if params else text

    def _value(self, value: object) -> object:
        """Dates and times given as parameters, written as people of this language write them."""
        if isinstance(value, datetime):
            return self._full_short(value)
        if isinstance(value, date):
            return self.date(value)
        return value

    def _full_short(self, local: datetime) -> str:
        """Weekday, date and time of ``local`` in its own zone: "torstaina 4.12.2026 14:00"."""
        day = "d MMMM yyyy" if self.lang == "en" else "d.M.yyyy"
        return format_datetime(local, f"EEEE {day} HH:mm", locale=self.locale)

    def n_(self, singular: str, plural: str, n: int, **params: object) -> str:
        forms = self._plurals.get(singular)
        index = 0 if self.locale.plural_form(n) == "one" else 1
        text = forms[index] if forms and forms[index] else (singular if index == 0 else plural)
        return text.format(n=self.number(n), **params)

    def number(self, value: float, digits: int = 1) -> str:
        if isinstance(value, int):
            return format_decimal(value, locale=self.locale)
        return format_decimal(round(value, digits), format=f"#,##0.{'#' * digits}", locale=self.locale)

    def percent(self, fraction: float) -> str:
        return format_percent(fraction, locale=self.locale)

    def datetime(self, moment: datetime, tz: str, fmt: str = "full_short") -> str:
        """A moment in ``tz``: weekday, date and time, as people of this language write them.

        ``fmt`` is a CLDR pattern written the Finnish way ("d.M.yyyy HH:mm"); in English the
        numeric day and month become "4 Dec 2026", as British English writes them.
        """
        local = moment.astimezone(ZoneInfo(tz))
        if fmt == "full_short":
            return self._full_short(local)
        return format_datetime(local, self._pattern(fmt), locale=self.locale)

    def date(self, day: date) -> str:
        """A calendar date: 4.12.2026 in Finnish and Swedish, 4 Dec 2026 in English."""
        return format_date(day, self._pattern("d.M.yyyy"), locale=self.locale)

    def _pattern(self, fmt: str) -> str:
        if self.lang != "en":
            return fmt
        return fmt.replace("d.M.yyyy", "d MMM yyyy").replace("d.M.", "d MMM")


class Catalogs:
    """All three languages' translators, read once at start."""

    def __init__(self, directory: Path = LOCALES_DIR) -> None:
        self._translators: dict[Lang, Translator] = {}
        for lang in LANGS:
            messages: dict[str, str] = {}
            plurals: dict[str, tuple[str, ...]] = {}
            with (directory / f"{lang}.po").open("rb") as handle:
                catalog = read_po(handle, locale=BABEL_LOCALES[lang])
            for message in catalog:
                if not message.id:
                    continue
                if isinstance(message.id, (tuple, list)):
                    plurals[str(message.id[0])] = tuple(str(form) for form in message.string or ())
                else:
                    messages[str(message.id)] = str(message.string or "")
            self._translators[lang] = Translator(lang, messages, plurals)

    def __getitem__(self, lang: Lang) -> Translator:
        return self._translators[lang]


def N_(msgid: str) -> str:
    """Marks a message id for the catalogs where it is defined, not translated."""
    return msgid
