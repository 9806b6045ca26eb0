"""The card checker itself must catch what Teams would refuse, or every card test is hollow."""

from dialogs import cards
from tests.support.cards import card_problems


def test_a_good_card_passes() -> None:
    good = cards.card([cards.title("Hei")], lang="fi", fallback="Hei", actions=[cards.execute("OK", "x.y")])
    assert card_problems(good) == []


def test_schema_errors_and_teams_rules_are_caught() -> None:
    bad = cards.card([{"type": "TextBlok", "text": "typo"}], lang="en", fallback="")
    bad["body"].append({"type": "Input.Text", "id": "comment"})
    bad["body"].append({"type": "Image", "url": "https://example.com/x.png"})
    problems = "\n".join(card_problems(bad))
    assert "no fallbackText" in problems
    assert "input comment has no label" in problems
    assert "has no altText" in problems
    assert "body/0" in problems


def test_action_execute_needs_version_1_4() -> None:
    old = cards.card([cards.text("x")], lang="en", fallback="x", actions=[cards.execute("Go", "a.b")])
    old["version"] = "1.2"
    assert card_problems(old)
