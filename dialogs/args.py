"""Splitting a command's arguments the way people type them in Teams."""

from __future__ import annotations

import shlex

from dialogs.i18n import N_
from domain.errors import UserError

QUOTES = str.maketrans(
    {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2019": "'"}
)


class UnbalancedQuotes(UserError):
    message_id = N_("A quotation mark is missing its pair.")


def split_args(text: str) -> list[str]:
    """Words, with "quoted parts" kept together (Teams' curly quotes count as quotes)."""
    lexer = shlex.shlex(text.translate(QUOTES), posix=True)
    lexer.whitespace_split = True
    lexer.quotes = '"'
    lexer.escape = ""
    lexer.commenters = ""  # "#12" is a session number, not a comment
    try:
        return list(lexer)
    except ValueError as error:
        raise UnbalancedQuotes() from error


def take_keyword(tokens: list[str], keywords: set[str]) -> str | None:
    """Remove ``keyword value`` from ``tokens`` and return the value (None if absent)."""
    for index, token in enumerate(tokens[:-1]):
        if token.casefold() in keywords:
            value = tokens[index + 1]
            del tokens[index : index + 2]
            return value
    return None


def take_flag(tokens: list[str], flags: set[str]) -> bool:
    for index, token in enumerate(tokens):
        if token.casefold() in flags:
            del tokens[index]
            return True
    return False
