"""The Teams app package: built from the settings and the router, valid for the official schemas
(``node manifest/validate.mjs``) and for the rules Teams enforces beyond them (manifest/checks.py).

Each validator also gets broken packages, so that a validator which accepts everything fails here.
The node validator needs Node.js and ``npm ci``; without them its tests are skipped, unless
``TAPAAMO_REQUIRE_E2E=1``, which makes that a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from dialogs.i18n import Catalogs
from manifest import build, checks, icons, png

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "manifest" / "validate.mjs"
SCHEMAS = ROOT / "node_modules" / "@microsoft" / "app-manifest" / "build" / "json-schemas" / "teams"
APP_ID = "3f2b8c1d-7e4a-4b6c-9d1e-5a7b9c0d2e4f"
PUBLIC_URL = "https://tapaamo.example.fi"
RSC = {"OnlineMeeting.ReadBasic.Chat", "ChannelMeeting.ReadBasic.Group", "OnlineMeetingParticipant.Read.Chat"}
PACKAGE_FILES = {"manifest.json", "color.png", "outline.png", "fi.json", "sv.json"}

Files = dict[str, bytes]


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"app_id": APP_ID, "public_url": PUBLIC_URL, **overrides}
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build.build_package(make_settings(), tmp_path_factory.mktemp("package") / "tapaamo.zip")


@pytest.fixture
def files(package: Path) -> Files:
    return checks.read_zip(package)


def manifest_of(files: Files) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(files["manifest.json"])
    return manifest


def node_validator() -> list[str]:
    """The command that runs validate.mjs; skips (or fails, when required) if it cannot run."""
    node = shutil.which("node")
    reason = None
    if node is None:
        reason = "node is not installed"
    elif not (ROOT / "node_modules" / "@microsoft" / "app-manifest").is_dir():
        reason = "node_modules/@microsoft/app-manifest is missing (run npm ci)"
    elif not (ROOT / "node_modules" / "fs-extra").is_dir():
        reason = "node_modules/fs-extra is missing (run npm ci)"
    if reason is not None:
        if os.environ.get("TAPAAMO_REQUIRE_E2E") == "1":
            pytest.fail(
                f"TAPAAMO_REQUIRE_E2E=1 but manifest/validate.mjs cannot run: {reason}", pytrace=False
            )
        pytest.skip(reason)
    assert node is not None
    return [node, str(VALIDATOR)]


def validate(target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*node_validator(), str(target)], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )


def with_json(files: Files, name: str, change: Callable[[dict[str, Any]], object]) -> Files:
    document = json.loads(files[name])
    change(document)
    return {**files, name: json.dumps(document, ensure_ascii=False).encode()}


def newest_bundled_version() -> str:
    versions = [
        (int(m.group(1)), int(m.group(2)))
        for entry in SCHEMAS.iterdir()
        if (m := re.fullmatch(r"v(\d+)\.(\d+)", entry.name))
        and (entry / "MicrosoftTeams.schema.json").is_file()
    ]
    major, minor = max(versions)
    return f"{major}.{minor}"


# --- the package as built ----------------------------------------------------------------------


def test_package_holds_the_files_at_the_zip_root(package: Path) -> None:
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
        assert archive.testzip() is None
    assert sorted(names) == sorted(PACKAGE_FILES)


def test_official_schemas_accept_the_package(package: Path) -> None:
    result = validate(package)
    assert result.returncode == 0, result.stderr
    assert "valid Teams app package (manifest v1." in result.stdout


def test_official_schemas_accept_the_package_as_a_directory(files: Files, tmp_path: Path) -> None:
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    result = validate(tmp_path)
    assert result.returncode == 0, result.stderr


def test_teams_rules_beyond_the_schemas_hold(package: Path) -> None:
    assert checks.check_zip(package) == []


def test_manifest_uses_the_newest_schema_the_validator_knows(files: Files) -> None:
    manifest = manifest_of(files)
    version = manifest["manifestVersion"]
    assert manifest["$schema"] == (
        f"https://developer.microsoft.com/json-schemas/teams/v{version}/MicrosoftTeams.schema.json"
    )
    for lang in ("fi", "sv"):
        assert json.loads(files[f"{lang}.json"])["$schema"] == manifest["$schema"].replace(
            "MicrosoftTeams.schema.json", "MicrosoftTeams.Localization.schema.json"
        )
    if not SCHEMAS.is_dir():
        pytest.skip("node_modules/@microsoft/app-manifest is missing (run npm ci)")
    assert version == newest_bundled_version()


def test_manifest_names_the_bot_its_site_and_its_permissions(files: Files) -> None:
    manifest = manifest_of(files)
    uuid.UUID(manifest["id"])
    assert manifest["id"] != APP_ID
    assert manifest["id"] == build.teams_app_id(make_settings(app_id=APP_ID.upper()))  # stable
    assert manifest["version"] == "1.0.0"
    assert manifest["developer"] == {
        "name": "Tapaamo",
        "websiteUrl": f"{PUBLIC_URL}/",
        "privacyUrl": f"{PUBLIC_URL}/privacy",
        "termsOfUseUrl": f"{PUBLIC_URL}/terms",
    }
    assert manifest["name"]["short"] == "Tapaamo"
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    assert bot["supportsFiles"] is False
    assert bot["isNotificationOnly"] is False
    assert [command_list["scopes"] for command_list in bot["commandLists"]] == [
        ["personal"],
        ["team"],
        ["groupChat"],
    ]
    assert manifest["permissions"] == ["identity", "messageTeamMembers"]
    assert manifest["validDomains"] == ["tapaamo.example.fi"]
    assert manifest["webApplicationInfo"] == {"id": APP_ID, "resource": f"api://botid-{APP_ID}"}
    granted = manifest["authorization"]["permissions"]["resourceSpecific"]
    assert {entry["name"] for entry in granted} == RSC
    assert {entry["type"] for entry in granted} == {"Application"}
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert manifest["localizationInfo"] == {
        "defaultLanguageTag": "en",
        "additionalLanguages": [
            {"languageTag": "fi", "file": "fi.json"},
            {"languageTag": "sv", "file": "sv.json"},
        ],
    }


def test_command_menus_come_from_the_router_in_every_language(files: Files) -> None:
    manifest = manifest_of(files)
    localized = {lang: json.loads(files[f"{lang}.json"]) for lang in build.ADDITIONAL_LANGS}
    catalogs = Catalogs()
    commands = {command.aliases["en"][0]: command for command in build.router_commands()}
    assert {"help", "networks", "network", "schedule", "sessions", "follow", "cancel", "move"} <= set(
        commands
    )
    for i, command_list in enumerate(manifest["bots"][0]["commandLists"]):
        entries = command_list["commands"]
        assert 0 < len(entries) <= 10
        assert entries[0]["title"] == "help"
        assert len({entry["title"] for entry in entries}) == len(entries)
        if len(commands) >= 10:
            assert len(entries) == 10
        for j, entry in enumerate(entries):
            command = commands[entry["title"]]
            assert entry["description"] == build.fit_description(catalogs["en"]._(command.summary))
            for lang, strings in localized.items():
                key = f"bots[0].commandLists[{i}].commands[{j}]"
                assert strings[f"{key}.title"] == command.aliases[lang][0]
                assert strings[f"{key}.description"] == build.fit_description(
                    catalogs[lang]._(command.summary)
                )
    coordinator_menus = manifest["bots"][0]["commandLists"][1:]
    for command_list in coordinator_menus:
        assert {"network", "schedule", "cancel", "move"} <= {
            entry["title"] for entry in command_list["commands"]
        }


def test_every_localization_key_names_a_text_of_the_manifest(files: Files) -> None:
    manifest = manifest_of(files)
    for lang in ("fi", "sv"):
        strings = json.loads(files[f"{lang}.json"])
        assert {"name.short", "name.full", "description.short", "description.full"} <= set(strings)
        for key in strings:
            if key != "$schema":
                found, value = checks.resolve(manifest, key)
                assert found, key
                assert isinstance(value, str), key
        commands = sum(len(cl["commands"]) for cl in manifest["bots"][0]["commandLists"])
        assert sum(key.endswith((".title", ".description")) for key in strings) == 2 * commands


def test_long_command_descriptions_are_shortened_at_a_clause() -> None:
    text = "Create a network here, or show one; " + "then a long tail of words " * 5
    assert build.fit_description(text) == "Create a network here, or show one."
    fitted = build.fit_description("word " * 60)
    assert len(fitted) <= 128
    assert fitted.endswith("…")
    assert build.fit_description("  short   text ") == "short text"


def test_icons_are_the_ones_the_script_draws(files: Files) -> None:
    assert files["color.png"] == icons.color_icon()
    assert files["outline.png"] == icons.outline_icon()
    color = png.read(files["color.png"])
    assert (color.width, color.height) == (192, 192)
    outline = png.read(files["outline.png"])
    assert (outline.width, outline.height) == (32, 32)
    assert set(outline.pixels()) == {(255, 255, 255, 255), (0, 0, 0, 0)}


def test_building_twice_gives_the_same_bytes(package: Path, tmp_path: Path) -> None:
    again = build.build_package(make_settings(), tmp_path)
    assert again == tmp_path / build.PACKAGE_NAME
    assert again.read_bytes() == package.read_bytes()


def test_an_empty_app_id_gets_a_placeholder_and_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="manifest.build")
    path = build.build_package(make_settings(app_id=""), tmp_path / "dev.zip")
    manifest = manifest_of(checks.read_zip(path))
    assert manifest["bots"][0]["botId"] == build.PLACEHOLDER_BOT_ID
    assert manifest["webApplicationInfo"]["id"] == build.PLACEHOLDER_BOT_ID
    assert "placeholder bot id" in caplog.text
    assert checks.check_zip(path) == []
    assert build.warnings_for(make_settings()) == []


def test_valid_domains_hold_only_the_host(tmp_path: Path) -> None:
    path = build.build_package(
        make_settings(public_url="https://Bots.Example.fi:8443/tapaamo/"), tmp_path / "a.zip"
    )
    manifest = manifest_of(checks.read_zip(path))
    assert manifest["validDomains"] == ["bots.example.fi"]
    assert manifest["developer"]["privacyUrl"] == "https://Bots.Example.fi:8443/tapaamo/privacy"


def test_cli_builds_the_package_and_says_where(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TAPAAMO_APP_ID": APP_ID,
        "TAPAAMO_PUBLIC_URL": PUBLIC_URL,
        "PYTHONPATH": str(ROOT),
    }
    out = tmp_path / "out" / "app.zip"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "manifest", "build", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    assert checks.check_zip(out) == []


# --- negative controls: broken packages are refused ---------------------------------------------


def _outline_with_a_red_pixel() -> bytes:
    image = png.read(icons.outline_icon())
    rows = [list(row) for row in image.rows]
    rows[16][16] = (255, 0, 0, 255)
    return png.write_rgba(rows)


def _eleven_commands(manifest: dict[str, Any]) -> None:
    commands = manifest["bots"][0]["commandLists"][0]["commands"]
    commands.extend({"title": f"extra{i}", "description": "x"} for i in range(11 - len(commands)))


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target: Any = document
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


def _rename(old: str, new: str) -> Callable[[Files], Files]:
    return lambda files: {(new if name == old else name): data for name, data in files.items()}


PYTHON_BREAKAGES: dict[str, tuple[Callable[[Files], Files], str]] = {
    "command title of 40 characters": (
        lambda f: with_json(f, "manifest.json", _set("bots/0/commandLists/0/commands/0/title", "h" * 40)),
        "has 40 characters, at most 32",
    ),
    "localized command title of 33 characters": (
        lambda f: with_json(f, "fi.json", _set("bots[0].commandLists[1].commands[0].title", "a" * 33)),
        "fi.json: bots[0].commandLists[1].commands[0].title",
    ),
    "command description of 129 characters": (
        lambda f: with_json(
            f, "manifest.json", _set("bots/0/commandLists/2/commands/1/description", "d" * 129)
        ),
        "at most 128",
    ),
    "eleven commands in a list": (
        lambda f: with_json(f, "manifest.json", _eleven_commands),
        "has 11 commands, at most 10",
    ),
    "short name of 31 characters": (
        lambda f: with_json(f, "manifest.json", _set("name/short", "T" * 31)),
        "manifest.json: name.short has 31 characters, at most 30",
    ),
    "full name of 101 characters in sv.json": (
        lambda f: with_json(f, "sv.json", _set("name.full", "T" * 101)),
        "sv.json: name.full has 101 characters, at most 100",
    ),
    "short description of 81 characters": (
        lambda f: with_json(f, "manifest.json", _set("description/short", "s" * 81)),
        "description.short has 81 characters, at most 80",
    ),
    "full description of 4001 characters in fi.json": (
        lambda f: with_json(f, "fi.json", _set("description.full", "f" * 4001)),
        "fi.json: description.full has 4001 characters, at most 4000",
    ),
    "colour icon of the wrong size": (
        lambda f: {**f, "color.png": icons.color_icon(size=96)},
        "color.png: 96×96 pixels, must be 192×192",
    ),
    "outline icon of the wrong size": (
        lambda f: {**f, "outline.png": icons.outline_icon(size=48)},
        "outline.png: 48×48 pixels, must be 32×32",
    ),
    "outline icon with a coloured pixel": (
        lambda f: {**f, "outline.png": _outline_with_a_red_pixel()},
        "neither fully transparent nor white",
    ),
    "outline icon with no transparency": (
        lambda f: {**f, "outline.png": icons.color_icon(size=32)},
        "no pixel is transparent",
    ),
    "icon that is not a PNG": (
        lambda f: {**f, "color.png": b"GIF89a not really"},
        "color.png: not a valid PNG",
    ),
    "icon name in another letter case": (
        _rename("outline.png", "Outline.png"),
        "letter case must match",
    ),
    "localization file missing": (
        lambda f: {name: data for name, data in f.items() if name != "sv.json"},
        "'sv.json' is not in the package",
    ),
    "manifest.json in a folder": (
        lambda f: {
            (f"tapaamo/{name}" if name == "manifest.json" else name): data for name, data in f.items()
        },
        "manifest.json must be at the zip root",
    ),
    "validDomains with a scheme": (
        lambda f: with_json(f, "manifest.json", _set("validDomains/0", "https://tapaamo.example.fi")),
        "must not have a scheme",
    ),
    "validDomains with a path": (
        lambda f: with_json(f, "manifest.json", _set("validDomains/0", "tapaamo.example.fi/bot")),
        "must not have a path",
    ),
    "localization key naming no command": (
        lambda f: with_json(f, "fi.json", _set("bots[0].commandLists[0].commands[11].title", "extra")),
        "does not name anything in manifest.json",
    ),
    "localization key naming an object": (
        lambda f: with_json(f, "sv.json", _set("bots[0].commandLists[0].commands[0]", "x")),
        "names a dict, not a text",
    ),
}


@pytest.mark.parametrize("breakage", list(PYTHON_BREAKAGES))
def test_teams_rules_refuse_a_broken_package(files: Files, breakage: str) -> None:
    assert checks.problems(files) == []
    broken_files, expected = PYTHON_BREAKAGES[breakage]
    found = checks.problems(broken_files(files))
    assert any(expected in problem for problem in found), found


def _drop(key: str) -> Callable[[dict[str, Any]], object]:
    return lambda document: document.pop(key)


NODE_BREAKAGES: dict[str, tuple[Callable[[Files], Files], str]] = {
    "missing required field": (
        lambda f: with_json(f, "manifest.json", _drop("developer")),
        "must have required property 'developer'",
    ),
    "bot id that is not a GUID": (
        lambda f: with_json(f, "manifest.json", _set("bots/0/botId", "not-a-guid")),
        "/bots/0/botId must match pattern",
    ),
    "unknown bot scope": (
        lambda f: with_json(f, "manifest.json", _set("bots/0/scopes/0", "meeting")),
        "/bots/0/scopes/0 must be equal to one of the allowed values",
    ),
    "command title longer than the schema allows": (
        lambda f: with_json(f, "manifest.json", _set("bots/0/commandLists/0/commands/0/title", "h" * 129)),
        "/bots/0/commandLists/0/commands/0/title must NOT have more than 128 characters",
    ),
    "$schema of another version": (
        lambda f: with_json(
            f,
            "manifest.json",
            _set(
                "$schema",
                "https://developer.microsoft.com/json-schemas/teams/v1.17/MicrosoftTeams.schema.json",
            ),
        ),
        "expected",
    ),
    "manifest version without a bundled schema": (
        lambda f: with_json(f, "manifest.json", _set("manifestVersion", "1.18")),
        'no bundled schema for manifestVersion "1.18"',
    ),
    "unknown localization key": (
        lambda f: with_json(f, "fi.json", _set("bots[0].commandList[0].commands[0].title", "apua")),
        "fi.json: (root) must NOT have additional properties",
    ),
    "localized short name of 31 characters": (
        lambda f: with_json(f, "sv.json", _set("name.short", "T" * 31)),
        "sv.json: /name.short must NOT have more than 30 characters",
    ),
    "localization file without a required text": (
        lambda f: with_json(f, "fi.json", _drop("description.full")),
        "fi.json: (root) must have required property 'description.full'",
    ),
    "icon name in another letter case": (
        _rename("color.png", "Color.png"),
        'icons.color is "color.png" but the package has "Color.png"',
    ),
    "manifest.json in a folder": (
        lambda f: {(f"app/{name}" if name == "manifest.json" else name): data for name, data in f.items()},
        'manifest.json must be at the package root, found "app/manifest.json"',
    ),
    "manifest.json that is not JSON": (
        lambda f: {**f, "manifest.json": b'{"manifestVersion": "1.30",'},
        "manifest.json: not valid JSON",
    ),
}


@pytest.mark.parametrize("breakage", list(NODE_BREAKAGES))
def test_official_schemas_refuse_a_broken_package(files: Files, tmp_path: Path, breakage: str) -> None:
    broken_files, expected = NODE_BREAKAGES[breakage]
    broken = build.write_zip(broken_files(files), tmp_path / "broken.zip")
    result = validate(broken)
    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in result.stderr, result.stderr


def test_validator_needs_a_package(tmp_path: Path) -> None:
    result = subprocess.run(
        [*node_validator(), str(tmp_path / "absent.zip")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    (tmp_path / "junk.zip").write_bytes(b"not a zip at all")
    result = validate(tmp_path / "junk.zip")
    assert result.returncode == 1
    assert "not a zip file" in result.stderr
