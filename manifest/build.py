"""Builds the Teams app package: manifest.json, the icons and the fi/sv localization files in a zip.

The static parts live next to this file (``manifest.template.json``, ``fi.json``, ``sv.json``,
``color.png``, ``outline.png``); what depends on the deployment (App ID, public address) comes from
the settings, and the bot's command menus come from the dialogs' own command table, with the
Finnish and Swedish titles and descriptions from the aliases and the catalogs, so they cannot drift.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import tempfile
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast
from urllib.parse import urlsplit

from bot.settings import Settings
from dialogs.i18n import Catalogs
from dialogs.router import Command
from dialogs.turn import Lang

log = logging.getLogger(__name__)

HERE: Final = Path(__file__).parent
TEMPLATE: Final = HERE / "manifest.template.json"
PACKAGE_NAME: Final = "tapaamo-teams-app.zip"
DEFAULT_LANG: Final[Lang] = "en"
ADDITIONAL_LANGS: Final[tuple[Lang, ...]] = ("fi", "sv")
ICONS: Final = ("color.png", "outline.png")
PLACEHOLDER_BOT_ID: Final = "00000000-0000-0000-0000-000000000000"
# Teams app ids are derived from the bot's App ID in this namespace: the same bot always gets the
# same app id (so an upload replaces the previous version), and the two ids are never equal.
APP_ID_NAMESPACE: Final = uuid.UUID("6f1d4c1e-3b1a-5c55-9a43-7461706161d0")

MAX_COMMANDS: Final = 10
MAX_TITLE: Final = 32
MAX_COMMAND_DESCRIPTION: Final = 128  # the limit up to schema v1.19, and what the Teams menu shows

# The most useful commands first, per scope; a name the router does not (yet) have is skipped,
# and router commands not named here fill any remaining places in the help card's order.
SCOPE_COMMANDS: Final[Mapping[str, tuple[str, ...]]] = {
    "personal": (
        "help", "networks", "sessions", "follow", "unfollow", "here", "mydata", "forgetme",
        "poll", "results", "schedule", "network", "cancel", "move", "report", "export",
    ),
    "team": (
        "help", "networks", "network", "schedule", "sessions", "cancel", "move", "here",
        "poll", "report", "follow", "unfollow", "results", "export",
    ),
    "groupChat": (
        "help", "networks", "network", "schedule", "sessions", "cancel", "move", "here",
        "poll", "report", "follow", "unfollow", "results", "export",
    ),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class MenuCommand:
    """One entry of a Teams command menu, in every language."""

    name: str
    title: Mapping[Lang, str]
    description: Mapping[Lang, str]


def router_commands() -> list[Command]:
    """The command table of the running bot, built without a database or any service."""
    from dialogs.app import build_router
    from dialogs.services import Services
    from domain.clock import SystemClock

    # Registering commands only stores the services; no handler runs here.
    router = build_router(Catalogs(), SystemClock(), cast(Services, None))
    return list(router.commands)


def fit_description(text: str, limit: int = MAX_COMMAND_DESCRIPTION) -> str:
    """``text`` if it fits, else its first clause (up to a semicolon), else cut at a word with "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    first = re.split(r";\s", text, maxsplit=1)[0].rstrip(" ,.") + "."
    if len(first) <= limit:
        return first
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"


def menu_commands(
    commands: Sequence[Command] | None = None, catalogs: Catalogs | None = None
) -> list[MenuCommand]:
    commands = router_commands() if commands is None else commands
    catalogs = catalogs or Catalogs()
    menu = []
    for command in commands:
        titles: dict[Lang, str] = {}
        descriptions: dict[Lang, str] = {}
        for lang in (DEFAULT_LANG, *ADDITIONAL_LANGS):
            title = command.aliases[lang][0]
            if len(title) > MAX_TITLE:
                raise ValueError(f"command title {title!r} is longer than {MAX_TITLE} characters")
            titles[lang] = title
            descriptions[lang] = fit_description(catalogs[lang]._(command.summary))
        menu.append(MenuCommand(command.name, titles, descriptions))
    return menu


def command_lists(menu: Sequence[MenuCommand]) -> list[tuple[str, list[MenuCommand]]]:
    """One (scope, commands) list per bot scope, at most MAX_COMMANDS each."""
    by_name = {command.name: command for command in menu}
    lists = []
    for scope, preferred in SCOPE_COMMANDS.items():
        names = [name for name in preferred if name in by_name]
        names += [command.name for command in menu if command.name not in names]
        lists.append((scope, [by_name[name] for name in names[:MAX_COMMANDS]]))
    return lists


def bot_id(settings: Settings) -> str:
    return settings.app_id.strip() or PLACEHOLDER_BOT_ID


def teams_app_id(settings: Settings) -> str:
    return str(uuid.uuid5(APP_ID_NAMESPACE, bot_id(settings).lower()))


def public_base(settings: Settings) -> str:
    return settings.public_url.strip().rstrip("/")


def warnings_for(settings: Settings) -> list[str]:
    """What makes a package built with these settings unfit for a real tenant."""
    found = []
    if not settings.app_id.strip():
        found.append(
            f"TAPAAMO_APP_ID is empty: the package uses the placeholder bot id {PLACEHOLDER_BOT_ID}; "
            "set it to the bot's Microsoft App ID before uploading to Teams"
        )
    parts = urlsplit(public_base(settings))
    if parts.scheme != "https":
        found.append(
            f"TAPAAMO_PUBLIC_URL {settings.public_url!r} is not https: Teams will not open its links"
        )
    if parts.hostname in (None, "localhost", "127.0.0.1", "::1"):
        found.append(
            f"TAPAAMO_PUBLIC_URL {settings.public_url!r} is not a public address: "
            "the privacy and terms links and validDomains will not work in Teams"
        )
    return found


def build_manifest(settings: Settings, lists: Sequence[tuple[str, Sequence[MenuCommand]]]) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    base = public_base(settings)
    app = bot_id(settings)
    manifest["id"] = teams_app_id(settings)
    developer = manifest["developer"]
    developer["websiteUrl"] = f"{base}/"
    developer["privacyUrl"] = f"{base}/privacy"
    developer["termsOfUseUrl"] = f"{base}/terms"
    bot = manifest["bots"][0]
    bot["botId"] = app
    bot["commandLists"] = [
        {
            "scopes": [scope],
            "commands": [
                {"title": command.title[DEFAULT_LANG], "description": command.description[DEFAULT_LANG]}
                for command in commands
            ],
        }
        for scope, commands in lists
    ]
    host = urlsplit(base).hostname
    manifest["validDomains"] = [host] if host else []
    # Resource-specific consent (the meeting events) needs the app's Entra id here; "resource" has
    # no use for RSC but must be present.
    manifest["webApplicationInfo"] = {"id": app, "resource": f"api://botid-{app}"}
    return manifest


def localization_schema_url(manifest: Mapping[str, Any]) -> str:
    return str(manifest["$schema"]).replace(
        "MicrosoftTeams.schema.json", "MicrosoftTeams.Localization.schema.json"
    )


def build_localization(
    manifest: Mapping[str, Any], lang: Lang, lists: Sequence[tuple[str, Sequence[MenuCommand]]]
) -> dict[str, Any]:
    """The ``lang`` file: its name and description texts, then every command title and description."""
    static: dict[str, Any] = json.loads((HERE / f"{lang}.json").read_text(encoding="utf-8"))
    strings: dict[str, Any] = {"$schema": localization_schema_url(manifest)}
    strings.update({key: value for key, value in static.items() if key != "$schema"})
    for i, (_scope, commands) in enumerate(lists):
        for j, command in enumerate(commands):
            prefix = f"bots[0].commandLists[{i}].commands[{j}]"
            strings[f"{prefix}.title"] = command.title[lang]
            strings[f"{prefix}.description"] = command.description[lang]
    return strings


def package_files(settings: Settings) -> dict[str, bytes]:
    """Every file of the package by its name at the zip root."""
    lists = command_lists(menu_commands())
    manifest = build_manifest(settings, lists)
    files = {"manifest.json": _json(manifest)}
    for icon in ICONS:
        files[icon] = (HERE / icon).read_bytes()
    for entry in manifest["localizationInfo"]["additionalLanguages"]:
        lang = cast(Lang, entry["languageTag"])
        files[entry["file"]] = _json(build_localization(manifest, lang, lists))
    return files


def _json(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def write_zip(files: Mapping[str, bytes], out: Path) -> Path:
    """Write ``files`` at the root of a zip; the same files give the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=".tapaamo-", suffix=".zip.tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(buffer.getvalue())
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return out


def build_package(settings: Settings, out_path: Path | str) -> Path:
    """Write the app package to ``out_path`` (a .zip file, or a directory to put tapaamo-teams-app.zip in)."""
    out = Path(out_path)
    if out.is_dir() or str(out_path).endswith(("/", os.sep)):
        out = out / PACKAGE_NAME
    for warning in warnings_for(settings):
        log.warning("%s", warning)
    return write_zip(package_files(settings), out)


def default_out() -> Path:
    return Path("var") / PACKAGE_NAME
