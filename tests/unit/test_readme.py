"""The README stays true: it starts with the two commands and shows the settings as they are."""

from pathlib import Path

from bot.settings import markdown_table

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_readme_starts_with_the_two_commands() -> None:
    head = README[:600]
    assert "make run" in head
    assert "make test" in head


def test_the_settings_table_is_the_generated_one() -> None:
    start = README.index("<!-- settings:start")
    table = README[README.index("\n", start) + 1 : README.index("<!-- settings:end -->")].strip()
    assert table == markdown_table(), "README's settings table is stale: paste `python -m bot.settings`"
