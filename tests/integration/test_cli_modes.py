"""The ``tapaamo`` command as an operator runs it: modes and ``db upgrade``, in a clean environment.

Each test runs the installed console script (``python -m bot`` when there is none) in an empty
directory (no ``.env``) with no ``TAPAAMO_*`` variable but those it sets.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("tapaamo")
MIGRATIONS = Path(__file__).resolve().parents[2] / "storage" / "migrations" / "versions"


def tapaamo(cwd: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("TAPAAMO_")}
    env.update(settings)
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "bot"]
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_prod_without_settings_refuses_in_one_line_naming_each(tmp_path: Path) -> None:
    result = tapaamo(tmp_path, "serve", TAPAAMO_ENV="prod")

    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    for missing in (
        "TAPAAMO_APP_ID",
        "TAPAAMO_APP_PASSWORD",
        "TAPAAMO_APP_CERTIFICATE_PATH",
        "TAPAAMO_TENANT_ID",
    ):
        assert missing in line
    assert not (tmp_path / "var").exists(), "nothing is created before the settings are checked"


def test_prod_names_only_what_is_missing(tmp_path: Path) -> None:
    result = tapaamo(
        tmp_path, "serve", TAPAAMO_ENV="prod", TAPAAMO_APP_ID="app-1", TAPAAMO_APP_PASSWORD="secret"
    )

    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert "TAPAAMO_TENANT_ID" in line
    assert "TAPAAMO_APP_ID" not in line
    assert "TAPAAMO_APP_PASSWORD" not in line


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_dev_mode_refuses_to_listen_beyond_this_machine(tmp_path: Path, host: str) -> None:
    result = tapaamo(tmp_path, "serve", TAPAAMO_ENV="dev", TAPAAMO_HOST=host)

    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert "127.0.0.1" in line
    assert "TAPAAMO_ENV=dev" in line


def test_db_upgrade_migrates_a_fresh_sqlite_file(tmp_path: Path) -> None:
    database = tmp_path / "fresh" / "tapaamo.db"
    database.parent.mkdir()

    result = tapaamo(tmp_path, "db", "upgrade", TAPAAMO_DATABASE_URL=f"sqlite+aiosqlite:///{database}")

    assert result.returncode == 0, result.stderr
    with sqlite3.connect(database) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        [(head,)] = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {"jobs", "conversation_refs", "audit_log"} <= tables
    newest = sorted(p.name for p in MIGRATIONS.glob("0*.py"))[-1]
    assert newest.startswith(head[:4]), (head, newest)

    again = tapaamo(tmp_path, "db", "upgrade", TAPAAMO_DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    assert again.returncode == 0, again.stderr
