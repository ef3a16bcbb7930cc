#!/usr/bin/env bash
# Pub/sub (pubsub issue), with 1, 10 and 100 subscribers on one topic, each
# an empty handler (the t_events test plugin only supplies the clock and the
# latency record):
#   publish     a script route publishing one small message per request,
#               wrk -t2 -c64 -d10s: publishes/s (deliveries run meanwhile;
#               the backlog is drained before the next part);
#   deliveries  a backlog of 50,000 deliveries published in batches
#               (publish_many, at most 10,000 deliveries a request), timed
#               from the first publish until the last handler ran:
#               deliveries/s through outbox -> handler -> row deleted;
#   latency     publish -> handler start, p50/p99, at a steady rate the
#               server keeps up with (1,000 deliveries/s: 200 publishes/s
#               with 1 subscriber, 100 with 10, 10 with 100) for 10 s.
# On SQLite and — when PICLOUD_TEST_POSTGRES_URL names a server — PostgreSQL.
source "$(dirname "$0")/lib.bash"
PLUGIN_DIR="$BUILD_DIR/bench/plugins"
[ -f "$PLUGIN_DIR/t_events.so" ] || { echo "no $PLUGIN_DIR/t_events.so: build the benchmarks first"; exit 1; }
[ -f "$BUILD_DIR/plugins/pubsub.so" ] || { echo "no $BUILD_DIR/plugins/pubsub.so: build PiCloud first"; exit 1; }
SUBSCRIBERS="${SUBSCRIBERS:-1 10 100}"
DELIVERY_RATE="${DELIVERY_RATE:-1000}"   # deliveries/s in the latency part
BACKLOG="${BACKLOG:-50000}"              # deliveries in the throughput part
LATENCY_SECONDS="${LATENCY_SECONDS:-10}"

api() {  # api PATH JSON
  curl -fsS -o /dev/null -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "$2" "$ADMIN$1"
}

start_picloud() {  # start_picloud LABEL DATABASE_URL SUBSCRIBERS -> sets PORT
  bench_picloud "$1" "$2" PICLOUD_PLUGINS_SEARCH_PATH="$BUILD_DIR/plugins:$PLUGIN_DIR" \
    PICLOUD_PLUGINS_ENABLED=pubsub,t_events PICLOUD_ADMIN_IP_HOSTS=false
  api /apps '{"slug":"bench","hostnames":["127.0.0.1"]}'
  api /apps/bench/scripts '{"name":"pub","source":"void handle(request@ req, response@ res) { json m = {{\"us\", t_events::now_us()}}; res.json(pubsub::publish(\"bench.orders\", m)); }"}'
  api /apps/bench/routes '{"script":"pub","path":"/pub"}'
  # A batch of PER messages, PER subscribers times at most 10,000.
  PER=$(( 10000 / $3 < 1000 ? 10000 / $3 : 1000 ))
  api /apps/bench/scripts "{\"name\":\"burst\",\"source\":\"void handle(request@ req, response@ res) { json b = json::array(); for (int i = 0; i < $PER; i++) { json m = {{\\\"us\\\", t_events::now_us()}}; b.push(m); } res.json(pubsub::publish_many(\\\"bench.orders\\\", b)); }\"}"
  api /apps/bench/routes '{"script":"burst","path":"/burst"}'
  api /apps/bench/scripts '{"name":"timed","source":"void on_event(event@ e) { t_events::observe(e.data[\"message\"].get_int(\"us\")); }"}'
  api /apps/bench/scripts '{"name":"empty","source":"void on_event(event@ e) { }"}'
  # One subscriber times its start; the others do nothing.
  api /apps/bench/triggers/pubsub '{"script":"timed","filter":{"topic":"bench.*"}}'
  local i
  for ((i = 1; i < $3; i++)); do api /apps/bench/triggers/pubsub '{"script":"empty","filter":{"topic":"bench.*"}}'; done
}

backlog() {  # deliveries queued, retrying or running, from the pubsub admin API
  curl -fsS -H "Authorization: Bearer $KEY" "$ADMIN/apps/bench/pubsub/subscribers" |
    python3 -c 'import json, sys; print(sum(t["queued"] + t["retrying"] + t["running"] for t in json.load(sys.stdin)["items"]))'
}

wait_backlog_empty() {  # retried runs may still be waiting after the run count was reached
  local started=$SECONDS
  until [ "$(backlog)" -eq 0 ]; do
    [ $((SECONDS - started)) -gt 600 ] && { echo "error: a backlog of $(backlog) after 10 minutes" >&2; exit 1; }
    sleep 0.2
  done
}

published() { curl -fsS "http://localhost:$PORT/metrics" | awk '/^picloud_pubsub_messages_published_total / {print $2}'; }

measure() {  # measure LABEL SUBSCRIBERS
  local label="$1" subs="$2" base0 p0 t0 t1 result rps p50 p99 n bursts i rate
  # Publishes/s, then the backlog drained (route runs count as runs too).
  base0=$(runs_ok)
  p0=$(published)
  result=$(wrk_run "http://127.0.0.1:$PORT/pub" 10s)
  read -r rps p50 p99 <<<"$result"
  n=$(( $(published) - p0 ))
  wait_runs $((base0 + n * (subs + 1)))
  printf '%-9s %3d subscribers: publish %s/s (p50 %s, p99 %s)\n' "$label" "$subs" "$rps" "$p50" "$p99"
  # Deliveries/s through a backlog.
  bursts=$(( (BACKLOG + PER * subs - 1) / (PER * subs) ))
  base0=$(runs_ok)
  t0=$(date +%s%N)
  for ((i = 0; i < bursts; i++)); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/burst"; done
  wait_runs $((base0 + bursts + bursts * PER * subs))
  t1=$(date +%s%N)
  awk -v label="$label" -v s="$subs" -v d=$((bursts * PER * subs)) -v ns=$((t1 - t0)) \
    'BEGIN {printf "%-9s %3d subscribers: %d deliveries in %.1f s = %.0f deliveries/s\n", label, s, d, ns / 1e9, d / (ns / 1e9)}'
  # Latency at a rate the server keeps up with, from an empty outbox.
  wait_backlog_empty
  rate=$(( DELIVERY_RATE / subs < 200 ? DELIVERY_RATE / subs : 200 ))
  curl -fsS -o /dev/null "http://localhost:$PORT/t_events/latency?reset=1"
  python3 - "$PORT" "$rate" "$LATENCY_SECONDS" <<'PY'
import http.client, sys, time
port, rate, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", port)
start = time.monotonic()
for i in range(int(rate * seconds)):
    delay = start + i / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    conn.request("GET", "/pub")
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"publish answered {r.status}")
PY
  sleep 1
  local out
  out=$(curl -fsS "http://localhost:$PORT/t_events/latency?reset=1")
  python3 - "$label" "$subs" "$rate" "$out" <<'PY'
import json, sys
label, subs, rate, l = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
print(f"{label:<9} {subs:3d} subscribers: publish -> handler start at {rate} publishes/s: p50 {l['p50_us']/1000:.2f} ms, "
      f"p99 {l['p99_us']/1000:.2f} ms, max {l['max_us']/1000:.1f} ms ({l['count']} messages)")
PY
}

run_backend() {  # run_backend LABEL URL_FOR(SUBSCRIBERS)
  local label="$1" s
  for s in $SUBSCRIBERS; do
    start_picloud "$label-$s" "$($2 "$s")" "$s"
    measure "$label" "$s"
    kill "${BENCH_PIDS[-1]}" && wait "${BENCH_PIDS[-1]}" 2>/dev/null || true
  done
}

sqlite_url() { echo "sqlite:./picloud.db"; }
postgres_url() {
  local db="picloud_pubsub_bench_$$_$1"
  psql -q "$PICLOUD_TEST_POSTGRES_URL" -c "CREATE DATABASE $db" >/dev/null
  echo "${PICLOUD_TEST_POSTGRES_URL%/*}/$db"
}

machine_line
run_backend sqlite sqlite_url
if [ -n "${PICLOUD_TEST_POSTGRES_URL:-}" ]; then
  run_backend postgres postgres_url
fi
