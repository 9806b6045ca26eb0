#!/usr/bin/env bash
# `make run`: the bot in dev mode plus the Microsoft 365 Agents Playground (the offline Teams
# client) pointed at it. Open the address printed at the end and chat with Tapaamo.
#
# Ctrl-C or SIGTERM stops both and exits 0. If either dies, the other is stopped and the script
# exits non-zero. Logs: the bot's on this terminal, the Playground's in var/playground.log and
# var/playground-debug.log. The Playground reads .m365agentsplayground.yml (users, chats, team).
#
# Ports: TAPAAMO_PORT (bot, default 3978) and PLAYGROUND_PORT (default 56150).
set -euo pipefail
set -m # job control: each child gets a process group of its own, which is how it is stopped

cd "$(dirname "$0")/.."
ROOT=$PWD
BOT_PORT=${TAPAAMO_PORT:-3978}
PG_PORT=${PLAYGROUND_PORT:-56150}
PY=$ROOT/.venv/bin/python
PLAYGROUND=$ROOT/node_modules/.bin/agentsplayground
BOT_URL=http://127.0.0.1:$BOT_PORT
PG_URL=http://127.0.0.1:$PG_PORT

bot_pid=
pg_pid=
stopping=

say() { printf 'run: %s\n' "$*" >&2; }
die() {
    say "$*"
    stop_all
    exit 1
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_get() { # URL -> body on stdout; fails unless 2xx
    if command -v curl >/dev/null; then
        curl -fsS --max-time 2 "$1" 2>/dev/null
    else
        "$PY" - "$1" <<'EOF' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as resp:
    sys.stdout.write(resp.read().decode())
EOF
    fi
}

alive() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; }

stop_one() { # PID NAME: SIGTERM to its group, SIGKILL after 15 s
    local pid=$1 name=$2 i
    alive "$pid" || {
        wait "$pid" 2>/dev/null || true
        return 0
    }
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 75; i++)); do
        alive "$pid" || break
        sleep 0.2
    done
    if alive "$pid"; then
        say "$name did not stop in 15 s: killing it"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    kill -KILL -- "-$pid" 2>/dev/null || true # helpers it left in its group
}

stop_all() {
    [[ -n $stopping ]] && return 0
    stopping=1
    trap '' INT TERM
    [[ -n $pg_pid ]] && stop_one "$pg_pid" "the Playground"
    [[ -n $bot_pid ]] && stop_one "$bot_pid" "the bot"
    return 0
}

# shellcheck disable=SC2317 # called from the traps
on_signal() {
    say "$1: stopping the Playground and the bot"
    stop_all
    say "stopped"
    exit 0
}
trap 'on_signal interrupted' INT
trap 'on_signal terminated' TERM
trap 'stop_all' EXIT

[[ -x $PY ]] || die "$PY is missing: run \`make run\` (it creates the virtualenv)"
[[ -x $PLAYGROUND ]] || die "$PLAYGROUND is missing: run \`npm ci\` (or \`make run\`)"
command -v node >/dev/null || die "node is not on PATH: install Node.js 20 or newer"

# The Playground silently moves to a random port when its own is taken, so check first.
if port_taken "$PG_PORT"; then
    die "port $PG_PORT is in use (another Playground or \`make run\`?). Stop it, or set PLAYGROUND_PORT."
fi
if port_taken "$BOT_PORT"; then
    die "port $BOT_PORT is in use (another bot?). Stop it, or set TAPAAMO_PORT."
fi
mkdir -p var

# Dev mode: no App ID, no authentication, 127.0.0.1 only, whatever .env says.
TAPAAMO_ENV=dev TAPAAMO_PORT=$BOT_PORT TAPAAMO_APP_ID='' TAPAAMO_PUBLIC_URL=${TAPAAMO_PUBLIC_URL:-$BOT_URL} \
    PYTHONUNBUFFERED=1 "$PY" -m bot serve </dev/null &
bot_pid=$!

deadline=$((SECONDS + 60))
until http_get "$BOT_URL/healthz" >/dev/null; do
    alive "$bot_pid" || die "the bot exited during start-up (see its log above)"
    ((SECONDS < deadline)) || die "the bot did not answer $BOT_URL/healthz within 60 s"
    sleep 0.2
done

: >var/playground.log
TEAMSAPPTESTER_BROWSER=none \
    M365_AGENTS_PLAYGROUND_CONFIG_PATH=$ROOT/.m365agentsplayground.yml \
    M365_AGENTS_PLAYGROUND_LOGFILE=$ROOT/var/playground-debug.log \
    "$PLAYGROUND" -e "$BOT_URL/api/messages" -p "$PG_PORT" -c msteams --disable-telemetry \
    --service-url "$PG_URL/_connector" </dev/null >>var/playground.log 2>&1 &
pg_pid=$!
set +m # both have their groups; without job control bash prints no "[2]+ Terminated" notices

deadline=$((SECONDS + 30))
until grep -q '^Listening on ' var/playground.log && [[ $(http_get "$PG_URL/_debug/ping") == pong* ]]; do
    alive "$pg_pid" || die "the Playground exited during start-up: $(tail -n 20 var/playground.log)"
    if grep -q '^Listening on ' var/playground.log && ! grep -qx "Listening on $PG_PORT" var/playground.log; then
        die "the Playground did not get port $PG_PORT: $(grep -m1 '^Listening on ' var/playground.log)"
    fi
    ((SECONDS < deadline)) || die "the Playground did not answer $PG_URL/_debug/ping within 30 s"
    sleep 0.2
done

cat >&2 <<EOF

  ┌──────────────────────────────────────────────────────────────┐
  │  Tapaamo is running. Open the Teams client emulator:         │
  │                                                              │
  │      $(printf '%-56s' "$PG_URL")│
  │                                                              │
  │  Try: help · apua · hjälp      Stop: Ctrl-C                  │
  └──────────────────────────────────────────────────────────────┘
  bot: $BOT_URL (log below) · Playground log: var/playground.log

EOF

status=0
wait -n "$bot_pid" "$pg_pid" || status=$?
if alive "$bot_pid"; then
    say "the Playground stopped (exit $status); see var/playground.log. Stopping the bot."
else
    say "the bot stopped (exit $status). Stopping the Playground."
fi
stop_all
exit $((status == 0 ? 1 : status))
