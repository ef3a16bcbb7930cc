#!/usr/bin/env bash
# The kv plugin under load, on SQLite and — when PICLOUD_TEST_POSTGRES_URL
# names a server — PostgreSQL, each with wrk -t2 -c64 against one PiCloud:
#   /hello     a script that only answers (the reference, same run)
#   /getset    one kv get and one kv set of a random key among 10,000
#   /incr/hot  incr of one key from every connection at once
#   /incr/many incr of a random key among 100,000 (mostly new keys)
# and the ratio /getset ÷ /hello. After the hot-key run the counter must hold
# at least every increment wrk saw answered (none lost).
source "$(dirname "$0")/lib.bash"
command -v wrk >/dev/null || { echo "wrk is not installed (./dev bench installs it)"; exit 1; }
DURATION="${DURATION:-10s}"

start_picloud() {  # start_picloud LABEL DATABASE_URL -> sets PORT, KEY
  # The app owns 127.0.0.1, so IP addresses are not admin hosts here.
  bench_picloud "$1" "$2" PICLOUD_PLUGINS_ENABLED=kv PICLOUD_ADMIN_IP_HOSTS=false
  python3 - "$ADMIN" "$KEY" <<'PY'
import json, sys, urllib.request
base, key = sys.argv[1], sys.argv[2]
from admin_api import GETSET, HELLO, post
post("/apps", {"slug": "bench", "hostnames": ["127.0.0.1"]})
scripts = {
  "hello": HELLO,
  "getset": GETSET,
  "hot": 'void handle(request@ req, response@ res) { res.text("" + kv::collection("counters").incr("hot")); }',
  "many": 'void handle(request@ req, response@ res) {\n'
          '  res.text("" + kv::collection("counters").incr("k" + random::integer(1, 100000)));\n}',
}
for name, source in scripts.items():
    post("/apps/bench/scripts", {"name": name, "source": source})
for name, path in [("hello", "/hello"), ("getset", "/getset"), ("hot", "/incr/hot"), ("many", "/incr/many")]:
    post("/apps/bench/routes", {"script": name, "path": path, "methods": ["GET"]})
PY
}

hot_counter() { curl -fsS -H "Authorization: Bearer $KEY" "$ADMIN/apps/bench/kv/counters/entry?key=hot" 2>/dev/null |
  python3 -c 'import sys,json; print(json.load(sys.stdin)["value"])' 2>/dev/null || echo 0; }

run_backend() {  # run_backend LABEL
  local label="$1" out
  printf '%-10s %-12s %10s %9s %9s\n' "$label" "route" "req/s" "p50" "p99"
  read -r h_rps h_p50 h_p99 <<<"$(wrk_run "http://127.0.0.1:$PORT/hello" "$DURATION")"
  printf '%-10s %-12s %10s %9s %9s\n' "" "/hello" "$h_rps" "$h_p50" "$h_p99"
  read -r g_rps g_p50 g_p99 <<<"$(wrk_run "http://127.0.0.1:$PORT/getset" "$DURATION")"
  printf '%-10s %-12s %10s %9s %9s   (%s of /hello)\n' "" "/getset" "$g_rps" "$g_p50" "$g_p99" \
    "$(awk -v a="$g_rps" -v b="$h_rps" 'BEGIN {printf "%.3f", a / b}')"
  # No warm-up here: every answered request must be in the counter.
  local before after answered
  before=$(hot_counter)
  out=$(wrk -t2 -c64 -d"$DURATION" --latency "http://127.0.0.1:$PORT/incr/hot")
  grep -q "Non-2xx" <<<"$out" && { echo "$out"; echo "error: non-2xx answers"; exit 1; }
  sleep 1
  after=$(hot_counter)
  answered=$(awk '/requests in/ {print $1}' <<<"$out")
  printf '%-10s %-12s %10s %9s %9s   (counter +%s for %s answered)\n' "" "/incr/hot" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1=="50%" {print $2}' <<<"$out")" \
    "$(awk '$1=="99%" {print $2}' <<<"$out")" "$((after - before))" "$answered"
  if [ "$((after - before))" -lt "$answered" ]; then echo "error: increments were lost"; exit 1; fi
  read -r m_rps m_p50 m_p99 <<<"$(wrk_run "http://127.0.0.1:$PORT/incr/many" "$DURATION")"
  printf '%-10s %-12s %10s %9s %9s\n' "" "/incr/many" "$m_rps" "$m_p50" "$m_p99"
}

machine_line
start_picloud sqlite "sqlite:./picloud.db"
run_backend sqlite

if [ -n "${PICLOUD_TEST_POSTGRES_URL:-}" ]; then
  db="picloud_kv_bench_$$"
  psql -q "$PICLOUD_TEST_POSTGRES_URL" -c "CREATE DATABASE $db" >/dev/null
  start_picloud postgres "${PICLOUD_TEST_POSTGRES_URL%/*}/$db"
  run_backend postgres
fi
