"""The report's sessions-per-month chart labels its months so that no one reads a day in them."""

from __future__ import annotations

from datetime import date

from dialogs.i18n import Catalogs
from web.pages import month_tick


def test_months_under_the_cadence_chart_carry_the_whole_year() -> None:
    catalogs = Catalogs()
    december = date(2026, 12, 1)
    assert month_tick(catalogs["en"], december) == "Dec 2026"  # "Dec 26" read as 26 December
    assert month_tick(catalogs["sv"], december) == "dec. 2026"
    assert month_tick(catalogs["fi"], december) == "joulu 2026"
