#!/usr/bin/env bash
# Trigger delivery (triggers issue), with the t_events plugin emitting events
# in process, each in the transaction of its item's write:
#   latency     event -> handler start, p50/p99, at a steady 500 events/s
#               (one event per transaction) for 10 s;
#   throughput  50,000 events emitted flat out, 100 per transaction, through
#               outbox -> handler -> row deleted: events/s from the first emit
#               until the last handler has run.
# On SQLite and — when PICLOUD_TEST_POSTGRES_URL names a server — PostgreSQL.
# Goals (SQLite): p50 < 2 ms, p99 < 20 ms; >= 5,000 events/s.
source "$(dirname "$0")/lib.bash"
PLUGIN_DIR="$BUILD_DIR/bench/plugins"
[ -f "$PLUGIN_DIR/t_events.so" ] || { echo "no $PLUGIN_DIR/t_events.so: build the benchmarks first"; exit 1; }
RATE="${RATE:-500}"
LATENCY_EVENTS="${LATENCY_EVENTS:-5000}"
THROUGHPUT_EVENTS="${THROUGHPUT_EVENTS:-50000}"

start_picloud() {  # start_picloud LABEL DATABASE_URL -> sets PORT, APP
  bench_picloud "$1" "$2" PICLOUD_PLUGINS_SEARCH_PATH="$PLUGIN_DIR" PICLOUD_PLUGINS_ENABLED=t_events
  APP=$(python3 - "$ADMIN" "$KEY" <<'PY'
import json, sys, urllib.request
base, key = sys.argv[1], sys.argv[2]
from admin_api import post
app = post("/apps", {"slug": "bench", "hostnames": ["bench.localhost"]})
post("/apps/bench/scripts", {"name": "handler", "source":
    'void on_event(event@ e) { t_events::observe(e.data.get_int("emitted_us")); }'})
post("/apps/bench/triggers/t_events", {"script": "handler", "filter": {"collection": "bench"}})
print(app["id"])
PY
)
}

measure() {  # measure LABEL
  local label="$1" base0 t0 t1 out
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/t_events/latency?reset=1"
  base0=$(runs_ok)
  curl -fsS -o /dev/null -X POST \
    "http://127.0.0.1:$PORT/t_events/emit?app=$APP&collection=bench&count=$LATENCY_EVENTS&rate=$RATE&batch=1"
  wait_runs $((base0 + LATENCY_EVENTS))
  out=$(curl -fsS "http://127.0.0.1:$PORT/t_events/latency?reset=1")
  python3 - "$label" "$RATE" "$out" <<'PY'
import json, sys
label, rate, l = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
print(f"{label:<10} event -> handler start at {rate}/s: p50 {l['p50_us']/1000:.2f} ms, p99 {l['p99_us']/1000:.2f} ms, "
      f"max {l['max_us']/1000:.1f} ms ({l['count']} events)")
PY
  base0=$(runs_ok)
  t0=$(date +%s%N)
  curl -fsS -o /dev/null -X POST \
    "http://127.0.0.1:$PORT/t_events/emit?app=$APP&collection=bench&count=$THROUGHPUT_EVENTS&rate=1000000000&batch=100" &
  local emitter=$!
  wait_runs $((base0 + THROUGHPUT_EVENTS))
  t1=$(date +%s%N)
  wait "$emitter" || { echo "error: the emitter failed" >&2; exit 1; }
  awk -v label="$label" -v n="$THROUGHPUT_EVENTS" -v ns=$((t1 - t0)) \
    'BEGIN {printf "%-10s throughput: %d events in %.2f s = %.0f events/s (emit, outbox, handler, delete)\n", label, n, ns / 1e9, n / (ns / 1e9)}'
}

machine_line
start_picloud sqlite "sqlite:./picloud.db"
measure sqlite

if [ -n "${PICLOUD_TEST_POSTGRES_URL:-}" ]; then
  db="picloud_triggers_bench_$$"
  psql -q "$PICLOUD_TEST_POSTGRES_URL" -c "CREATE DATABASE $db" >/dev/null
  start_picloud postgres "${PICLOUD_TEST_POSTGRES_URL%/*}/$db"
  measure postgres
fi
