# Shared helpers for the benchmark scripts (sourced, not run).
set -euo pipefail

BUILD_DIR="$(cd "${BUILD_DIR:?BUILD_DIR must point at a build tree}" && pwd)"
PICLOUD="$BUILD_DIR/picloud"
BENCH_TMP="$(mktemp -d /tmp/picloud-bench.XXXXXX)"
# admin_api.py, for the set-up scripts run as `python3 -`.
export PYTHONPATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)${PYTHONPATH:+:$PYTHONPATH}"
BENCH_PIDS=()
# A master key for the servers benchmarks start (a fresh database each time;
# PostgreSQL needs one given).
export PICLOUD_KEYRING_KEY="${PICLOUD_KEYRING_KEY:-$(openssl rand -base64 32)}"

bench_cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  for pid in "${BENCH_PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits until URL answers 200; prints the milliseconds waited.
wait_ready() {
  local url="$1" start end
  start=$(date +%s%N)
  for _ in $(seq 1 2000); do
    if curl -fs -o /dev/null "$url"; then
      end=$(date +%s%N); echo $(( (end - start) / 1000000 )); return 0
    fi
    sleep 0.005
  done
  echo "timeout waiting for $url" >&2; return 1
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

machine_line() {
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m), $(. /etc/os-release; echo "$PRETTY_NAME"), load $(cut -d' ' -f1 /proc/loadavg)"
}

# wrk -t2 -c64 -d10s: prints "req/s p50_ms p99_ms".
wrk_run() {
  local url="$1" duration="${2:-10s}" out
  wrk -t2 -c64 -d2s "$url" >/dev/null 2>&1 || true   # warm-up
  out=$(wrk -t2 -c64 -d"$duration" --latency "$url")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  echo "$rps $p50 $p99"
}

BENCH_PASSWORD="load-test password, long enough"

# bench_picloud LABEL DATABASE_URL [VAR=value ...]: starts picloud in its own
# directory with those settings, waits until it is ready, signs the owner in
# and makes an API key: sets PORT, KEY and ADMIN (the admin API's base URL,
# reached as localhost: an app may own 127.0.0.1, where the admin API is not
# served).
bench_picloud() {
  local label="$1" url="$2" dir="$BENCH_TMP/$1"
  shift 2
  PORT=$(free_port)
  mkdir -p "$dir"
  (cd "$dir" && exec env PICLOUD_SERVER_PORT="$PORT" PICLOUD_DATABASE_URL="$url" PICLOUD_LOG_LEVEL=warn \
     PICLOUD_OWNER_USERNAME=bench PICLOUD_OWNER_PASSWORD="$BENCH_PASSWORD" "$@" "$PICLOUD" serve) &
  BENCH_PIDS+=($!)
  wait_ready "http://127.0.0.1:$PORT/readyz" >/dev/null
  bench_sign_in "$PORT" "$dir"
}

# bench_sign_in PORT DIR: signs the owner "bench" in on the server at PORT
# (its cookie jar in DIR) and makes an API key: sets KEY and ADMIN.
bench_sign_in() {
  ADMIN="http://localhost:$1/api/v1/admin"
  curl -fsS -c "$2/jar" -H 'Content-Type: application/json' \
    -d "{\"username\":\"bench\",\"password\":\"$BENCH_PASSWORD\"}" "$ADMIN/login" >/dev/null
  KEY=$(curl -fsS -b "$2/jar" -H 'Content-Type: application/json' \
    -d '{"name":"bench","scopes":["app:admin","app:write","script:write","logs:read","app:read"]}' "$ADMIN/keys" |
    python3 -c 'import sys,json; print(json.load(sys.stdin)["key"])')
}

# Script runs (routes and handlers) that succeeded so far, from /metrics on
# an admin host (localhost is one whatever [admin] ip_hosts says).
runs_ok() {
  curl -fsS "http://localhost:$PORT/metrics" | awk '/^picloud_script_runs_total\{outcome="ok"\}/ {print $2}'
}

# wait_runs TARGET: until that many runs succeeded (10 minutes at most).
wait_runs() {
  local started=$SECONDS
  until [ "$(runs_ok)" -ge "$1" ]; do
    [ $((SECONDS - started)) -gt 600 ] && { echo "error: only $(runs_ok) of $1 script runs in 10 minutes" >&2; exit 1; }
    sleep 0.05
  done
}

# start_nginx_200: nginx `return 200 "ok\n"` on loopback (one worker, no
# access log), the ceiling some benchmarks compare with or call; sets
# NGINX_PORT and waits until it answers.
start_nginx_200() {
  command -v nginx >/dev/null || { echo "nginx is not installed (./dev bench installs it)"; exit 1; }
  NGINX_PORT=$(free_port)
  mkdir -p "$BENCH_TMP/nginx/logs"
  cat > "$BENCH_TMP/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $BENCH_TMP/nginx/nginx.pid;
error_log $BENCH_TMP/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { return 200 "ok\n"; }
  }
}
CONF
  nginx -p "$BENCH_TMP/nginx" -c "$BENCH_TMP/nginx/nginx.conf" &
  BENCH_PIDS+=($!)
  wait_ready "http://127.0.0.1:$NGINX_PORT/" >/dev/null
}
