#!/usr/bin/env bash
# The secrets plugin under load, on SQLite and — when PICLOUD_TEST_POSTGRES_URL
# names a server — PostgreSQL, with wrk -t2 -c64 against one PiCloud:
#   /hello    a script that only answers (the reference, same run)
#   /secret   one secrets::get (a database read, an HKDF and an AES-256-GCM
#             open) and its length in the answer
# and the ratio /secret ÷ /hello.
source "$(dirname "$0")/lib.bash"
command -v wrk >/dev/null || { echo "wrk is not installed (./dev bench installs it)"; exit 1; }
DURATION="${DURATION:-10s}"

start_picloud() {  # start_picloud LABEL DATABASE_URL -> sets PORT, KEY
  # The app owns 127.0.0.1, so IP addresses are not admin hosts here.
  bench_picloud "$1" "$2" PICLOUD_PLUGINS_ENABLED=secrets PICLOUD_ADMIN_IP_HOSTS=false
  python3 - "$ADMIN" "$KEY" <<'PY'
import json, sys, urllib.request
base, key = sys.argv[1], sys.argv[2]
def call(method, path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), method=method,
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
call("POST", "/apps", {"slug": "bench", "hostnames": ["127.0.0.1"]})
call("PUT", "/apps/bench/secrets/api_key", {"value": "sk-" + "x" * 48})
scripts = {
  "hello": 'void handle(request@ req, response@ res) { res.text("hello world"); }',
  "secret": 'void handle(request@ req, response@ res) { res.text("" + secrets::get("api_key").to_string().length()); }',
}
for name, source in scripts.items():
    call("POST", "/apps/bench/scripts", {"name": name, "source": source})
for name, path in [("hello", "/hello"), ("secret", "/secret")]:
    call("POST", "/apps/bench/routes", {"script": name, "path": path, "methods": ["GET"]})
PY
}

run_backend() {  # run_backend LABEL
  local label="$1"
  printf '%-10s %-10s %10s %9s %9s\n' "$label" "route" "req/s" "p50" "p99"
  read -r h_rps h_p50 h_p99 <<<"$(wrk_run "http://127.0.0.1:$PORT/hello" "$DURATION")"
  printf '%-10s %-10s %10s %9s %9s\n' "" "/hello" "$h_rps" "$h_p50" "$h_p99"
  read -r s_rps s_p50 s_p99 <<<"$(wrk_run "http://127.0.0.1:$PORT/secret" "$DURATION")"
  printf '%-10s %-10s %10s %9s %9s   (%s of /hello)\n' "" "/secret" "$s_rps" "$s_p50" "$s_p99" \
    "$(awk -v a="$s_rps" -v b="$h_rps" 'BEGIN {printf "%.3f", a / b}')"
}

machine_line
start_picloud sqlite "sqlite:./picloud.db"
run_backend sqlite

if [ -n "${PICLOUD_TEST_POSTGRES_URL:-}" ]; then
  db="picloud_secrets_bench_$$"
  psql -q "$PICLOUD_TEST_POSTGRES_URL" -c "CREATE DATABASE $db" >/dev/null
  start_picloud postgres "${PICLOUD_TEST_POSTGRES_URL%/*}/$db"
  run_backend postgres
fi
