"""Errors a user can cause. The edge turns each into a localised reply."""

from __future__ import annotations


class UserError(Exception):
    """An error caused by what the user asked; ``message_id`` is a catalog msgid."""

    message_id: str = "Something in that request was not right."

    def __init__(self, **params: object) -> None:
        super().__init__(self.message_id)
        self.params = params


class UnknownCommand(UserError):
    message_id = "I don't know the command \u201c{command}\u201d."


class BadPayload(UserError):
    message_id = "That button's data was not valid. Please use the latest card."


# --- domain/when.py: dates, times, series limits and durations typed in chat ---


class UnclearDate(UserError):
    message_id = (
        "I didn't understand the time \u201c{text}\u201d. Try for example \u201cnext thursday 14:00\u201d, "
        "\u201c3.12.2026 14:00\u201d or \u201cevery thursday 14:00\u201d."
    )


class PastDate(UserError):
    message_id = "{when} is already in the past. Please give a time in the future."


class NeedTime(UserError):
    message_id = "At what time on {date}? Please add a time, for example \u201c14:00\u201d."


class NeedDate(UserError):
    message_id = "On which day at {time}? Please add a day, for example \u201cthursday {time}\u201d."


class BadLimit(UserError):
    message_id = (
        "I didn't understand when the series ends: \u201c{text}\u201d. "
        "Try for example \u201cuntil 27.5.2027\u201d or \u201c10 times\u201d."
    )


class BadDuration(UserError):
    message_id = (
        "A session can last from 5 minutes to 12 hours; \u201c{text}\u201d doesn't fit. "
        "Try for example \u201c60 min\u201d or \u201c1.5 h\u201d."
    )
