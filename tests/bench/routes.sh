#!/usr/bin/env bash
# The data plane (dispatch issue): scripts on routes under load.
#   /hello and /json (the peers' route contract) with wrk -t2 -c64 -d10s;
#   the p99 of /hello at half of that throughput (wrk paced by a Lua delay);
#   async: 202s per second (POST, wrk -t2 -c64) and the time from the 202 to
#   the script's start (p50/p99, from the execution id's timestamp), on SQLite
#   and — when PICLOUD_TEST_POSTGRES_URL names a server — PostgreSQL.
# Goals: /hello and /json ≥ 1.5× workerd, ≥ 1.0× node, ≥ 0.5× nginx return 200
# (measure the peers side by side: set PEERS_DIR to the peers harness and it
# runs against this PiCloud in the same run; PEERS_ONLY=1 skips the rest);
# p99 at half load < 2 ms.
source "$(dirname "$0")/lib.bash"
command -v wrk >/dev/null || { echo "wrk is not installed (./dev bench installs it)"; exit 1; }
DURATION="${DURATION:-10s}"
start_picloud() {  # start_picloud LABEL DATABASE_URL -> sets PORT, KEY
  # The app owns 127.0.0.1 (the peers' URL contract), so IP addresses are
  # not admin hosts here: the admin API answers on localhost only.
  bench_picloud "$1" "$2" PICLOUD_ADMIN_IP_HOSTS=false
  local base="$ADMIN"
  local H=(-fsS -o /dev/null -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json')
  curl "${H[@]}" -d '{"slug":"bench","hostnames":["127.0.0.1"]}' "$base/apps"
  python3 - "$base" "$KEY" <<'PY'
import json, sys, urllib.request
base, key = sys.argv[1], sys.argv[2]
from admin_api import post
post("/apps/bench/scripts", {"name": "hello", "source":
    'void handle(request@ req, response@ res) { res.text("hello world"); }'})
post("/apps/bench/scripts", {"name": "greet", "source":
    'void handle(request@ req, response@ res) {\n'
    '  string name = req.query.get_string("name", "world");\n'
    '  res.json({{"greeting", "hello " + name}, {"length", name.length()}});\n}'})
post("/apps/bench/scripts", {"name": "later", "source": 'void handle(request@ req, response@ res) { }'})
post("/apps/bench/routes", {"script": "hello", "path": "/hello", "methods": ["GET"]})
post("/apps/bench/routes", {"script": "greet", "path": "/json", "methods": ["GET"]})
post("/apps/bench/scripts", {"name": "paced", "source": 'void handle(request@ req, response@ res) { }'})
post("/apps/bench/routes", {"script": "later", "path": "/later", "methods": ["POST"], "dispatch": "async"})
post("/apps/bench/routes", {"script": "paced", "path": "/paced", "methods": ["POST"], "dispatch": "async"})
PY
}

# Prints "p50 p99 count" of the delay from the 202 (the execution id's
# UUIDv7 timestamp) to the script's start, for runs of SCRIPT.
queue_delays() {  # queue_delays RUNNER SCRIPT
  local runner="$1" script="$2"
  for _ in $(seq 1 600); do
    [ "$($runner "SELECT count(*) FROM outbox")" = "0" ] && break
    sleep 0.5
  done
  $runner "SELECT e.id || ' ' || e.started_at FROM executions e JOIN scripts s ON s.id = e.script_id WHERE s.name = '$script'" |
    python3 -c '
import sys
delays = sorted(int(p[1]) - int(p[0].replace("-", "")[:12], 16) for p in (l.split() for l in sys.stdin) if len(p) == 2)
pick = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))] if delays else -1
print(pick(0.5), pick(0.99), len(delays))'
}

drain() {  # drain RUNNER: waits until the outbox is empty, so no backlog runs under the next measurement
  local runner="$1" started=$SECONDS
  until [ "$("$runner" 'SELECT count(*) FROM outbox')" = "0" ]; do
    [ $((SECONDS - started)) -gt 600 ] && { echo "error: the outbox did not drain in 10 minutes" >&2; exit 1; }
    sleep 0.5
  done
}

async_run() {  # async_run LABEL RUNNER: 202/s flat out, then the 202 -> start delay at a quarter of that rate
  local label="$1" runner="$2" out rps p50 p99 n paced
  printf 'wrk.method = "POST"\nwrk.body = "x"\n' > "$BENCH_TMP/post.lua"
  out=$(wrk -t2 -c64 -d"$DURATION" -s "$BENCH_TMP/post.lua" "http://127.0.0.1:$PORT/later")
  grep -q "Non-2xx" <<<"$out" && { echo "$out"; echo "error: non-2xx answers"; exit 1; }
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  drain "$runner"
  read -r p50 p99 n <<<"$(queue_delays "$runner" later)"
  printf '%-10s async flat out: %s 202/s; 202 -> start p50 %s ms, p99 %s ms (%s runs, all run; the queue grows while accepts outpace runs)\n' \
    "$label" "$rps" "$p50" "$p99" "$n"
  paced=$(awk -v r="$rps" 'BEGIN {printf "%d", r / 4}')
  printf 'wrk.method = "POST"\nwrk.body = "x"\nfunction delay() return %s end\n' \
    "$(awk -v r="$paced" 'BEGIN {printf "%.3f", 16 * 1000 / r}')" > "$BENCH_TMP/paced.lua"
  out=$(wrk -t2 -c16 -d"$DURATION" -s "$BENCH_TMP/paced.lua" "http://127.0.0.1:$PORT/paced")
  drain "$runner"
  read -r p50 p99 n <<<"$(queue_delays "$runner" paced)"
  printf '%-10s async at %s 202/s: 202 -> start p50 %s ms, p99 %s ms (%s runs)\n' "$label" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$p50" "$p99" "$n"
}

machine_line
start_picloud sqlite "sqlite:./picloud.db"
SQLITE_FILE="$BENCH_TMP/sqlite/picloud.db"
SQLITE_PORT=$PORT
sqlite_sql() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); [print(*r) for r in c.execute(sys.argv[2])]' "$SQLITE_FILE" "$1"; }

if [ -z "${PEERS_ONLY:-}" ]; then
printf '%-22s %10s %9s %9s\n' "route (wrk -t2 -c64)" "req/s" "p50" "p99"
read -r h_rps h_p50 h_p99 <<<"$(wrk_run "http://127.0.0.1:$PORT/hello" "$DURATION")"
read -r j_rps j_p50 j_p99 <<<"$(wrk_run "http://127.0.0.1:$PORT/json?name=picloud" "$DURATION")"
printf '%-22s %10s %9s %9s\n' "picloud /hello" "$h_rps" "$h_p50" "$h_p99"
printf '%-22s %10s %9s %9s\n' "picloud /json" "$j_rps" "$j_p50" "$j_p99"

# Half load: each of 64 connections waits so the total is about half the max.
half=$(awk -v r="$h_rps" 'BEGIN {printf "%d", r / 2}')
delay_ms=$(awk -v r="$h_rps" 'BEGIN {printf "%.3f", 64 * 1000 / (r / 2)}')
cat > "$BENCH_TMP/pace.lua" <<LUA
function delay() return $delay_ms end
LUA
out=$(wrk -t2 -c64 -d"$DURATION" --latency -s "$BENCH_TMP/pace.lua" "http://127.0.0.1:$PORT/hello")
printf '%-22s %10s %9s %9s   (target %s req/s)\n' "picloud /hello, half" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
  "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")" "$half"

async_run sqlite sqlite_sql

if [ -n "${PICLOUD_TEST_POSTGRES_URL:-}" ]; then
  db="picloud_routes_bench_$$"
  psql -q "$PICLOUD_TEST_POSTGRES_URL" -c "CREATE DATABASE $db" >/dev/null
  PG_URL="${PICLOUD_TEST_POSTGRES_URL%/*}/$db"
  start_picloud postgres "$PG_URL"
  pg_sql() { psql -qAt "$PG_URL" -c "$1"; }
  async_run postgres pg_sql
fi
fi  # PEERS_ONLY

if [ -n "${PEERS_DIR:-}" ]; then
  echo "== peers, side by side (this PiCloud first)"
  TARGETS="picloud=http://127.0.0.1:$SQLITE_PORT" TARGET_ROUTES="/hello /json?name=picloud" PEERS="${PEERS:-workerd node nginx-static}" \
    bash "$PEERS_DIR/bench.sh"
fi
