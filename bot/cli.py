"""The ``tapaamo`` command: ``serve`` (the default), ``db upgrade`` and ``manifest build``."""

from __future__ import annotations

import argparse
import logging
import sys

from bot import logs
from bot.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tapaamo", description="Tapaamo, a Teams bot for open online networks"
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve /api/messages, /healthz and the web pages (default)")
    db = commands.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"], help="apply every pending migration")
    manifest = commands.add_parser("manifest", help="the Teams app package")
    manifest.add_argument("action", choices=["build"], help="write the app package (.zip) to upload to Teams")
    manifest.add_argument(
        "--out", default=None, help="zip file or directory (default var/tapaamo-teams-app.zip)"
    )
    args = parser.parse_args(argv)

    settings = Settings()
    logs.configure(settings.log_level, settings.log_json)
    if args.command == "db":
        from storage.migrate import upgrade

        upgrade(settings.database_url)
        logging.getLogger("tapaamo").info("database is up to date")
        return 0
    if args.command == "manifest":
        return build_manifest(settings, args.out)
    return serve(settings)


def build_manifest(settings: Settings, out: str | None) -> int:
    from manifest.build import build_package, default_out
    from manifest.checks import check_zip

    path = build_package(settings, out or default_out())
    problems = check_zip(path)
    for problem in problems:
        sys.stderr.write(f"tapaamo: {problem}\n")
    sys.stdout.write(f"wrote the Teams app package to {path.resolve()}\n")
    return 1 if problems else 0


def serve(settings: Settings) -> int:
    from aiohttp import web

    from bot.app import ConfigurationError, create_app

    try:
        app = create_app(settings)
    except ConfigurationError as error:
        sys.stderr.write(f"tapaamo: {error}\n")
        return 2
    host = "127.0.0.1" if settings.is_dev else settings.host
    # run_app stops accepting on SIGTERM/SIGINT and gives in-flight turns the grace period.
    web.run_app(
        app,
        host=host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_grace_seconds,
        access_log=None,
        print=lambda message: logging.getLogger("tapaamo").info(message.strip()),
    )
    return 0
