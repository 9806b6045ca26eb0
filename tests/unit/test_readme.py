"""The README stays true: it starts with the two commands and lists every setting."""

from pathlib import Path

from bot.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_readme_starts_with_the_two_commands() -> None:
    head = README[:600]
    assert "make run" in head
    assert "make test" in head


def test_every_setting_is_in_the_readme_table() -> None:
    missing = [name for name in Settings.model_fields if f"`TAPAAMO_{name.upper()}`" not in README]
    assert not missing, f"README lacks settings: {missing}"
