"""The rules Teams enforces on an app package that its JSON schemas do not express.

``manifest/validate.mjs`` checks the package against the official schemas; this module checks
the rest: text lengths (also in the localization files), command menus, the icons, where the
files are and how they are named, validDomains, and that every localization key names a string
of manifest.json. ``problems(files)`` lists what is wrong, as sentences; an empty list is a pass.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from manifest import png

TEXT_LIMITS: Final = {"name.short": 30, "name.full": 100, "description.short": 80, "description.full": 4000}
MAX_COMMANDS: Final = 10
MAX_TITLE: Final = 32
MAX_COMMAND_DESCRIPTION: Final = 128
COLOR_SIZE: Final = (192, 192)
OUTLINE_SIZE: Final = (32, 32)

_COMMAND_KEY = re.compile(r"^bots\[\d+\]\.commandLists\[\d+\]\.commands\[\d+\]\.(title|description)$")
_SEGMENT = re.compile(r"^([A-Za-z_$][A-Za-z0-9_$]*)((?:\[\d+\])*)$")


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}


def check_zip(path: Path) -> list[str]:
    try:
        files = read_zip(path)
    except (OSError, zipfile.BadZipFile) as error:
        return [f"{path}: not a readable zip file ({error})"]
    return problems(files)


def _get(mapping: Mapping[str, Any], dotted: str) -> Any:
    value: Any = mapping
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def resolve(document: Any, key: str) -> tuple[bool, Any]:
    """Follow a localization key such as ``bots[0].commandLists[1].commands[2].title``."""
    value = document
    for segment in key.split("."):
        match = _SEGMENT.match(segment)
        if match is None or not isinstance(value, Mapping) or match.group(1) not in value:
            return False, None
        value = value[match.group(1)]
        for index in re.findall(r"\[(\d+)\]", match.group(2)):
            if not isinstance(value, list) or int(index) >= len(value):
                return False, None
            value = value[int(index)]
    return True, value


def _find(files: Mapping[str, bytes], name: str, what: str) -> tuple[bytes | None, list[str]]:
    """The bytes of ``name``, or why not (absent, or present only in another letter case)."""
    if name in files:
        return files[name], []
    other = [present for present in files if present.casefold() == name.casefold()]
    if other:
        return None, [f"{what} is {name!r} but the package has {other[0]!r}: letter case must match"]
    return None, [f"{what} {name!r} is not in the package"]


def _texts(source: str, texts: Mapping[str, Any]) -> list[str]:
    found = []
    for key, limit in TEXT_LIMITS.items():
        value = texts.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            found.append(f"{source}: {key} must be a non-empty text")
        elif len(value) > limit:
            found.append(f"{source}: {key} has {len(value)} characters, at most {limit} allowed")
    return found


def _command_text(source: str, where: str, field: str, value: Any) -> list[str]:
    limit = MAX_TITLE if field == "title" else MAX_COMMAND_DESCRIPTION
    if not isinstance(value, str) or (field == "title" and not value.strip()):
        return [f"{source}: {where}.{field} must be a non-empty text"]
    if len(value) > limit:
        return [f"{source}: {where}.{field} {value!r} has {len(value)} characters, at most {limit} allowed"]
    return []


def _commands(manifest: Mapping[str, Any]) -> list[str]:
    found = []
    for b, bot in enumerate(manifest.get("bots") or []):
        for c, command_list in enumerate(bot.get("commandLists") or []):
            commands = command_list.get("commands") or []
            where = f"bots[{b}].commandLists[{c}]"
            if len(commands) > MAX_COMMANDS:
                found.append(f"manifest.json: {where} has {len(commands)} commands, at most {MAX_COMMANDS}")
            titles = [str(command.get("title", "")).casefold() for command in commands]
            for title in sorted({t for t in titles if titles.count(t) > 1}):
                found.append(f"manifest.json: {where} has the command title {title!r} twice")
            for i, command in enumerate(commands):
                for field in ("title", "description"):
                    if field in command or field == "title":
                        found += _command_text(
                            "manifest.json", f"{where}.commands[{i}]", field, command.get(field)
                        )
    return found


def _icons(manifest: Mapping[str, Any], files: Mapping[str, bytes]) -> list[str]:
    found = []
    for kind, size in (("color", COLOR_SIZE), ("outline", OUTLINE_SIZE)):
        name = _get(manifest, f"icons.{kind}")
        if not isinstance(name, str):
            found.append(f"manifest.json: icons.{kind} is missing")
            continue
        data, missing = _find(files, name, f"icons.{kind}")
        found += missing
        if data is None:
            continue
        try:
            image = png.read(data)
        except ValueError as error:
            found.append(f"{name}: not a valid PNG ({error})")
            continue
        if (image.width, image.height) != size:
            found.append(f"{name}: {image.width}×{image.height} pixels, must be {size[0]}×{size[1]}")
        if kind == "outline":
            pixels = image.pixels()
            coloured = [p for p in pixels if p[3] != 0 and p[:3] != (255, 255, 255)]
            if coloured:
                found.append(
                    f"{name}: {len(coloured)} pixels are neither fully transparent nor white "
                    f"(first: rgba{coloured[0]}); the outline icon must be white on transparent"
                )
            if all(p[3] == 0 for p in pixels):
                found.append(f"{name}: every pixel is transparent, the outline icon shows nothing")
            elif all(p[3] != 0 for p in pixels):
                found.append(
                    f"{name}: no pixel is transparent, the outline icon needs a transparent background"
                )
    return found


def _domains(manifest: Mapping[str, Any]) -> list[str]:
    found = []
    for domain in manifest.get("validDomains") or []:
        if not isinstance(domain, str) or not domain.strip():
            found.append(f"manifest.json: validDomains has an empty entry {domain!r}")
        elif "://" in domain or domain.lower().startswith(("http:", "https:")):
            found.append(f"manifest.json: validDomains entry {domain!r} must not have a scheme")
        elif any(mark in domain for mark in "/?#"):
            found.append(f"manifest.json: validDomains entry {domain!r} must not have a path")
        elif any(c.isspace() for c in domain):
            found.append(f"manifest.json: validDomains entry {domain!r} has white space")
    return found


def _localizations(manifest: Mapping[str, Any], files: Mapping[str, bytes]) -> list[str]:
    found = []
    info = manifest.get("localizationInfo") or {}
    tags = [info.get("defaultLanguageTag")]
    for entry in info.get("additionalLanguages") or []:
        tag, name = entry.get("languageTag"), entry.get("file")
        if str(tag).lower() in (str(t).lower() for t in tags):
            found.append(f"manifest.json: language {tag!r} is listed twice in localizationInfo")
        tags.append(tag)
        if not isinstance(name, str):
            continue
        data, missing = _find(files, name, f"localization file of {tag!r}")
        found += missing
        if data is None:
            continue
        try:
            strings = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            found.append(f"{name}: not valid JSON ({error})")
            continue
        if not isinstance(strings, dict):
            found.append(f"{name}: must be a JSON object")
            continue
        found += _texts(name, strings)
        for key, value in strings.items():
            if key in ("$schema", "localizationKeys"):
                continue
            exists, original = resolve(manifest, key)
            if not exists:
                found.append(f"{name}: key {key!r} does not name anything in manifest.json")
            elif not isinstance(original, str):
                found.append(f"{name}: key {key!r} names a {type(original).__name__}, not a text")
            match = _COMMAND_KEY.match(key)
            if match:
                found += _command_text(name, key.rsplit(".", 1)[0], match.group(1), value)
    return found


def problems(files: Mapping[str, bytes]) -> list[str]:
    """Everything in a package (file name at the zip root -> bytes) that Teams would refuse."""
    if "manifest.json" not in files:
        nested = [name for name in files if name.rsplit("/", 1)[-1].casefold() == "manifest.json"]
        if nested:
            return [f"manifest.json must be at the zip root, the package has {nested[0]!r}"]
        return ["the package has no manifest.json"]
    try:
        manifest = json.loads(files["manifest.json"].decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return [f"manifest.json: not valid JSON ({error})"]
    if not isinstance(manifest, dict):
        return ["manifest.json: must be a JSON object"]
    texts = {
        f"{group}.{size}": value
        for group in ("name", "description")
        for size, value in (manifest.get(group) or {}).items()
        if f"{group}.{size}" in TEXT_LIMITS
    }
    return (
        _texts("manifest.json", texts)
        + _commands(manifest)
        + _icons(manifest, files)
        + _domains(manifest)
        + _localizations(manifest, files)
    )
