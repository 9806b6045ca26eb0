"""``python -m bot serve`` for the kill tests: a shorter stale-claim takeover, and a fork server.

A turn whose process is killed leaves its activity claimed but unfinished; a redelivery is answered
503 (retry) until the claim is older than ``storage.repositories.STALE_CLAIM`` (two minutes) and is
then taken over and handled. Twenty kills cannot wait two minutes each, so this script sets that
interval from ``RELIABILITY_STALE_CLAIM_SECONDS``.

With ``RELIABILITY_FORK_SERVER=1`` it imports the bot once and then, for each line ``serve`` on
stdin, forks a child that runs the bot and writes the child's pid on stdout. A restart then costs
the app's own start-up (migrations check, database, ticker, listening), not the 1-2 s of Python
imports, and twenty kills fit in seconds. Each child is a separate process running exactly what
``python -m bot serve`` runs, and is killed with SIGKILL by the test like any other.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import timedelta

import bot.app  # noqa: F401 - imported before any fork: a child starts without imports
import storage.repositories
from bot.cli import main


def fork_server() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed children are reaped by the kernel
    for line in sys.stdin:
        if line.strip() != "serve":
            continue
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the child logs where the server does
            sys.stdin.close()
            os._exit(main(["serve"]))
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    if "RELIABILITY_STALE_CLAIM_SECONDS" in os.environ:
        seconds = float(os.environ["RELIABILITY_STALE_CLAIM_SECONDS"])
        storage.repositories.STALE_CLAIM = timedelta(seconds=seconds)
    if os.environ.get("RELIABILITY_FORK_SERVER") == "1":
        fork_server()
    else:
        sys.exit(main(["serve"]))
