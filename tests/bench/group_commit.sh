#!/usr/bin/env bash
# Group commit ([group-commit] issue): the write paths with [database]
# group_commit on and off, side by side in one run, on SQLite — and, when
# PICLOUD_TEST_POSTGRES_URL names a server, PostgreSQL with pool sizes 4, 16
# and 32 and with the server's own commit_delay (PostgreSQL groups its
# commits itself; group_commit changes nothing there). Per configuration:
#   /hello       the reference (wrk -t2 -c64)
#   /getset      one kv get + one kv set of a random key among 10,000, and its
#                ratio to /hello (goal on SQLite >= 0.25)
#   /incr/many   kv incr of a random key among 100,000
#   async        202/s of an async route, flat out (POST, wrk -t2 -c64)
#   events/s     kv sets with a kv trigger on their collection: handler runs
#                per second from the first set until the outbox is empty
#   lone write   /getset from one connection, one request at a time: p50/p99
#                (must not get worse by more than 1 ms)
#   batch        commits per WAL flush over the run (SQLite, group commit on)
# SQLite runs: group commit on (flushes paced, the default), on but unpaced
# (group_commit_interval_us = 0), off, and on with sqlite_locking =
# "exclusive".
# The database lives in a directory on the disk that holds the build tree
# (not /tmp, which may be a tmpfs where a flush costs nothing): set
# BENCH_DB_DIR to measure another disk.
source "$(dirname "$0")/lib.bash"
command -v wrk >/dev/null || { echo "wrk is not installed (./dev bench installs it)"; exit 1; }
DURATION="${DURATION:-10s}"
DB_DIR="$(mktemp -d "${BENCH_DB_DIR:-$BUILD_DIR}/group-commit-bench.XXXXXX")"
# commit_delay is set on the server for some PostgreSQL runs: put back on any exit.
reset_commit_delay() {
  [ -n "${PICLOUD_TEST_POSTGRES_URL:-}" ] &&
    psql -q "$PICLOUD_TEST_POSTGRES_URL" -c "ALTER SYSTEM RESET commit_delay" -c "SELECT pg_reload_conf()" >/dev/null 2>&1
  return 0
}
trap 'reset_commit_delay; bench_cleanup; rm -rf "$DB_DIR"' EXIT

setup_app() {
  python3 - "$ADMIN" "$KEY" <<'PY'
import json, sys, urllib.request
base, key = sys.argv[1], sys.argv[2]
from admin_api import GETSET, HELLO, post
post("/apps", {"slug": "bench", "hostnames": ["127.0.0.1"]})
scripts = {
  "hello": HELLO,
  "getset": GETSET,
  "many": 'void handle(request@ req, response@ res) {\n'
          '  res.text("" + kv::collection("counters").incr("k" + random::integer(1, 100000)));\n}',
  "later": 'void handle(request@ req, response@ res) { }',
  "emit": 'void handle(request@ req, response@ res) {\n'
          '  json v = {{"n", 1}};\n'
          '  kv::collection("events").set("k" + random::integer(1, 1000000), v);\n'
          '  res.text("ok");\n}',
  "handler": 'void on_event(event@ e) { }',
}
for name, source in scripts.items():
    post("/apps/bench/scripts", {"name": name, "source": source})
for name, path in [("hello", "/hello"), ("getset", "/getset"), ("many", "/incr/many"), ("emit", "/emit")]:
    post("/apps/bench/routes", {"script": name, "path": path, "methods": ["GET"]})
post("/apps/bench/routes", {"script": "later", "path": "/later", "methods": ["POST"], "dispatch": "async"})
post("/apps/bench/triggers/kv", {"script": "handler", "filter": {"collection": "events"}})
PY
}

metric() {  # metric NAME: its value on /metrics (0 when absent)
  curl -fsS "http://localhost:$PORT/metrics" | awk -v n="$1" '$1 == n {print $2; found=1} END {if (!found) print 0}'
}

outbox_count() {
  if [ -n "${SQLITE_FILE:-}" ]; then
    python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM outbox").fetchone()[0])' "$SQLITE_FILE"
  else
    psql -qAt "$PG_URL" -c "SELECT count(*) FROM outbox"
  fi
}

drain() {  # until the outbox is empty (not readable from here under exclusive locking: wait_runs did)
  [ -n "${EXCLUSIVE:-}" ] && return 0
  local started=$SECONDS
  until [ "$(outbox_count)" = "0" ]; do
    [ $((SECONDS - started)) -gt 600 ] && { echo "error: the outbox did not drain in 10 minutes" >&2; exit 1; }
    sleep 0.1
  done
}

measure() {  # measure LABEL: one line of every figure against the running PORT
  local label="$1" out h g m a lone_p50 lone_p99 answered runs0 runs1 t0 t1 events c0 f0 c1 f1
  c0=$(metric picloud_db_group_commits_total); f0=$(metric picloud_db_group_flushes_total)
  read -r h _ _ <<<"$(wrk_run "http://127.0.0.1:$PORT/hello" "$DURATION")"
  read -r g _ _ <<<"$(wrk_run "http://127.0.0.1:$PORT/getset" "$DURATION")"
  read -r m _ _ <<<"$(wrk_run "http://127.0.0.1:$PORT/incr/many" "$DURATION")"
  printf 'wrk.method = "POST"\nwrk.body = "x"\n' > "$BENCH_TMP/post.lua"
  runs_before=$(runs_ok)
  out=$(wrk -t2 -c64 -d"$DURATION" -s "$BENCH_TMP/post.lua" "http://127.0.0.1:$PORT/later")
  grep -q "Non-2xx" <<<"$out" && { echo "$out"; echo "error: non-2xx answers"; exit 1; }
  a=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  # Every accepted request runs once (wrk does not count those in flight
  # when it stops, so at least that many).
  wait_runs "$(( runs_before + $(awk '/requests in/ {print $1}' <<<"$out") ))"
  drain
  runs0=$(runs_ok); t0=$(date +%s%N)
  out=$(wrk -t2 -c64 -d"$DURATION" "http://127.0.0.1:$PORT/emit")
  grep -q "Non-2xx" <<<"$out" && { echo "$out"; echo "error: non-2xx answers"; exit 1; }
  answered=$(awk '/requests in/ {print $1}' <<<"$out")
  wait_runs "$(( runs0 + 2 * answered ))"  # the route's runs and the handler's
  drain
  t1=$(date +%s%N); runs1=$(runs_ok)
  events=$(awk -v r0="$runs0" -v r1="$runs1" -v n="$answered" -v t="$((t1 - t0))" 'BEGIN {printf "%.0f", (r1 - r0 - n) / (t / 1e9)}')
  out=$(wrk -t1 -c1 -d"$DURATION" --latency "http://127.0.0.1:$PORT/getset")
  lone_p50=$(awk '$1=="50%" {print $2}' <<<"$out"); lone_p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  c1=$(metric picloud_db_group_commits_total); f1=$(metric picloud_db_group_flushes_total)
  printf '%-22s %9s %9s %6s %10s %9s %9s %9s %9s %6s\n' "$label" "$h" "$g" \
    "$(awk -v a="$g" -v b="$h" 'BEGIN {printf "%.3f", a / b}')" "$m" "$a" "$events" "$lone_p50" "$lone_p99" \
    "$(awk -v c="$((c1 - c0))" -v f="$((f1 - f0))" 'BEGIN {if (f > 0) printf "%.1f", c / f; else print "-"}')"
}

header() {
  printf '%-22s %9s %9s %6s %10s %9s %9s %9s %9s %6s\n' "configuration" "/hello" "/getset" "ratio" "/incr/many" \
    "async/s" "events/s" "lone p50" "lone p99" "batch"
}

machine_line
echo "disk: $(df -T "$DB_DIR" | awk 'NR==2 {print $2, $1}')"
header
# "unpaced": group commit on, group_commit_interval_us = 0 (each flush
# begins as soon as the previous one ended); "exclusive": group commit on
# and [database] sqlite_locking = "exclusive".
for mode in on unpaced off exclusive; do
  mkdir -p "$DB_DIR/$mode"
  SQLITE_FILE="$DB_DIR/$mode/picloud.db"
  EXCLUSIVE=$([ "$mode" = exclusive ] && echo 1 || true)
  unpaced=()  # the other modes keep the default interval, whatever it is
  [ "$mode" = unpaced ] && unpaced=(PICLOUD_DATABASE_GROUP_COMMIT_INTERVAL_US=0)
  bench_picloud "sqlite-$mode" "sqlite:$SQLITE_FILE" PICLOUD_PLUGINS_ENABLED=kv PICLOUD_ADMIN_IP_HOSTS=false \
    PICLOUD_DATABASE_GROUP_COMMIT=$([ "$mode" = off ] && echo false || echo true) \
    PICLOUD_DATABASE_SQLITE_LOCKING=$([ -n "$EXCLUSIVE" ] && echo exclusive || echo shared) "${unpaced[@]}"
  setup_app
  case "$mode" in
    exclusive) measure "sqlite exclusive, gc on" ;;
    unpaced) measure "sqlite gc on, unpaced" ;;
    *) measure "sqlite group_commit $mode" ;;
  esac
  kill "${BENCH_PIDS[-1]}"; wait "${BENCH_PIDS[-1]}" 2>/dev/null || true
done
SQLITE_FILE= EXCLUSIVE=

if [ -n "${PICLOUD_TEST_POSTGRES_URL:-}" ]; then
  psql -qAt "$PICLOUD_TEST_POSTGRES_URL" -c "SHOW fsync" | grep -q on ||
    echo "note: this PostgreSQL runs with fsync off: its commits cost no flush here"
  for config in "4 0" "16 0" "32 0" "16 100"; do
    read -r pool delay <<<"$config"
    db="picloud_gc_bench_$$_${pool}_$delay"
    psql -q "$PICLOUD_TEST_POSTGRES_URL" -c "CREATE DATABASE $db" >/dev/null
    PG_URL="${PICLOUD_TEST_POSTGRES_URL%/*}/$db"
    # commit_delay is the server's: set for the run, put back after.
    psql -q "$PICLOUD_TEST_POSTGRES_URL" -c "ALTER SYSTEM SET commit_delay = $delay" -c "SELECT pg_reload_conf()" >/dev/null
    bench_picloud "pg-$pool-$delay" "$PG_URL" PICLOUD_PLUGINS_ENABLED=kv PICLOUD_ADMIN_IP_HOSTS=false \
      PICLOUD_DATABASE_POOL_SIZE="$pool"
    setup_app
    measure "pg pool $pool delay $delay"
    kill "${BENCH_PIDS[-1]}"; wait "${BENCH_PIDS[-1]}" 2>/dev/null || true
    psql -q "$PICLOUD_TEST_POSTGRES_URL" -c "ALTER SYSTEM RESET commit_delay" -c "SELECT pg_reload_conf()" >/dev/null
    psql -q "$PICLOUD_TEST_POSTGRES_URL" -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
  done
fi
