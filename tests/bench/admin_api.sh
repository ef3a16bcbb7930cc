#!/usr/bin/env bash
# The admin API under load: GET /api/v1/admin/apps/{app} with an API key
# (wrk -t2 -c32). Goal (admin-api issue): p99 < 5 ms. Also times one sign-in,
# which is deliberately slow (scrypt at N=2^17, r=8, p=1).
# Runs on SQLite, and on PostgreSQL too when PICLOUD_TEST_POSTGRES_URL names
# a server (./dev bench starts one): in a database of its own there.
source "$(dirname "$0")/lib.bash"
command -v wrk >/dev/null || { echo "wrk is not installed (./dev bench installs it)"; exit 1; }

DURATION="${DURATION:-10s}"
PASSWORD="load-test password, long enough"

run_one() {
  local label="$1" url="$2" port dir base key login_ms out rps p50 p99
  port=$(free_port)
  dir="$BENCH_TMP/$label"
  mkdir -p "$dir"
  (cd "$dir" && PICLOUD_SERVER_PORT=$port PICLOUD_DATABASE_URL="$url" PICLOUD_LOG_LEVEL=warn \
     PICLOUD_OWNER_USERNAME=bench PICLOUD_OWNER_PASSWORD="$PASSWORD" exec "$PICLOUD" serve) &
  BENCH_PIDS+=($!)
  wait_ready "http://127.0.0.1:$port/readyz" >/dev/null
  base="http://127.0.0.1:$port/api/v1/admin"
  login_ms=$( { /usr/bin/time -f '%e' curl -fsS -c "$dir/jar" -H 'Content-Type: application/json' \
      -d "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" "$base/login" >/dev/null; } 2>&1 | awk '{printf "%.0f", $1*1000}')
  key=$(curl -fsS -b "$dir/jar" -H 'Content-Type: application/json' \
      -d '{"name":"bench","scopes":["app:read","app:admin"]}' "$base/keys" | python3 -c 'import sys,json; print(json.load(sys.stdin)["key"])')
  curl -fsS -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
      -d '{"slug":"bench","hostnames":["bench.localhost"]}' "$base/apps" >/dev/null
  wrk -t2 -c32 -d2s -H "Authorization: Bearer $key" "$base/apps/bench" >/dev/null 2>&1 || true  # warm-up
  out=$(wrk -t2 -c32 -d"$DURATION" --latency -H "Authorization: Bearer $key" "$base/apps/bench")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  grep -qE "Non-2xx" <<<"$out" && { echo "$out"; echo "error: non-2xx answers under load"; exit 1; }
  printf '%-10s %10s %8s %8s %10s\n' "$label" "$rps" "$p50" "$p99" "${login_ms} ms"
}

machine_line
printf '%-10s %10s %8s %8s %10s\n' "database" "req/s" "p50" "p99" "sign-in"
run_one sqlite "sqlite:./picloud.db"
if [ -n "${PICLOUD_TEST_POSTGRES_URL:-}" ]; then
  db="picloud_admin_bench_$$"
  psql -q "$PICLOUD_TEST_POSTGRES_URL" -c "CREATE DATABASE $db" >/dev/null
  run_one postgres "${PICLOUD_TEST_POSTGRES_URL%/*}/$db"
fi
echo "(GET /api/v1/admin/apps/{app} with an API key, wrk -t2 -c32; goal p99 < 5 ms)"
