"""Keeping the catalogs complete: extract every message id from the code and update the .po files.

``python -m dialogs.i18n_tools`` adds new ids (English filled in, Finnish and Swedish empty for a
translator) and drops ids no longer used; the test suite fails while any translation is missing.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

import domain
from dialogs.i18n import BABEL_LOCALES, LOCALES_DIR
from dialogs.turn import LANGS
from domain import errors

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("bot", "dialogs", "web", "scheduling")
KEYWORDS = {"_": None, "N_": None, "n_": (1, 2)}

MessageId = str | tuple[str, str]


def _subclasses(cls: type[errors.UserError]) -> Iterator[type[errors.UserError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def extract() -> dict[MessageId, str]:
    """Every message id the code uses, with where it was found."""
    found: dict[MessageId, str] = {}
    for directory in SOURCE_DIRS:
        path = ROOT / directory
        if not path.is_dir():
            continue
        for filename, lineno, message, _comments, _context in extract_from_dir(
            str(path), method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            msgid: MessageId = message if isinstance(message, str) else (message[0], message[1])
            found.setdefault(msgid, f"{directory}/{filename}:{lineno}")
    for module in pkgutil.iter_modules(domain.__path__):
        loaded = importlib.import_module(
            f"domain.{module.name}"
        )  # every UserError subclass, wherever defined
        for name, value in vars(loaded).items():
            # Texts the domain hands to the edge for translation (it cannot import the catalogs).
            if name.endswith("_WARNING") and isinstance(value, str):
                found.setdefault(value, f"domain.{module.name}:{name}")
            if name.endswith(("_TEXTS", "_LABELS")) and isinstance(value, dict):
                for text in value.values():
                    found.setdefault(text, f"domain.{module.name}:{name}")
    classes: list[type[errors.UserError]] = [errors.UserError, *_subclasses(errors.UserError)]
    for error in classes:
        found.setdefault(error.message_id, f"{error.__module__}:{error.__name__}")
    return found


def load(lang: str) -> Catalog:
    with (LOCALES_DIR / f"{lang}.po").open("rb") as handle:
        return read_po(handle, locale=BABEL_LOCALES[lang])  # type: ignore[index]


def update() -> list[str]:
    """Bring every catalog in line with the code; returns the ids still untranslated per language."""
    found = extract()
    missing: list[str] = []
    for lang in LANGS:
        path = LOCALES_DIR / f"{lang}.po"
        old = load(lang) if path.exists() else Catalog(locale=BABEL_LOCALES[lang])
        new = Catalog(locale=BABEL_LOCALES[lang], project="Tapaamo", fuzzy=False)
        for msgid, where in sorted(found.items(), key=lambda item: str(item[1])):
            existing = old.get(msgid)
            string: str | tuple[str, ...] | list[str]
            if existing is not None and existing.string and any(existing.string):
                string = existing.string
            elif lang == "en":
                string = msgid
            else:
                string = ("", "") if isinstance(msgid, tuple) else ""
                missing.append(f"{lang}: {msgid!r} ({where})")
            new.add(msgid, string, locations=[(where.rsplit(":", 1)[0], 0)])
        with path.open("wb") as handle:
            write_po(handle, new, width=100, omit_header=False, no_location=False, sort_output=False)
    return missing


if __name__ == "__main__":
    todo = update()
    for line in todo:
        sys.stdout.write(f"untranslated {line}\n")
    sys.exit(1 if todo else 0)
