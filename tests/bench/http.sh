#!/usr/bin/env bash
# The http plugin under load, with wrk -t2 -c64 against one PiCloud (on
# SQLite; the plugin keeps no data) whose scripts call an nginx
# `return 200` on loopback:
#   /hello    a script that only answers (the reference, same run)
#   /fetch    one http::get to the local nginx, its status in the answer
# twice: with keep-alive pooling (the default) and without ([http] pool =
# false: a new connection per request), with the ratios to /hello.
# [http] allow_private lets the scripts reach loopback here.
source "$(dirname "$0")/lib.bash"
command -v wrk >/dev/null || { echo "wrk is not installed (./dev bench installs it)"; exit 1; }
DURATION="${DURATION:-10s}"

start_nginx_200
ng_port=$NGINX_PORT

start_picloud() {  # start_picloud LABEL POOL -> sets PORT, KEY
  bench_picloud "$1" "sqlite:./picloud.db" PICLOUD_PLUGINS_ENABLED=http PICLOUD_ADMIN_IP_HOSTS=false \
    PICLOUD_HTTP_ALLOW_PRIVATE=true PICLOUD_HTTP_POOL="$2"
  python3 - "$ADMIN" "$KEY" "$ng_port" <<'PY'
import json, sys, urllib.request
base, key, port = sys.argv[1], sys.argv[2], sys.argv[3]
def call(method, path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), method=method,
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
call("POST", "/apps", {"slug": "bench", "hostnames": ["127.0.0.1"]})
scripts = {
  "hello": 'void handle(request@ req, response@ res) { res.text("hello world"); }',
  "fetch": 'void handle(request@ req, response@ res) { res.text("" + http::get("http://127.0.0.1:%s/").status); }' % port,
}
for name, source in scripts.items():
    call("POST", "/apps/bench/scripts", {"name": name, "source": source})
for name, path in [("hello", "/hello"), ("fetch", "/fetch")]:
    call("POST", "/apps/bench/routes", {"script": name, "path": path, "methods": ["GET"]})
PY
  [ "$(curl -fsS "http://127.0.0.1:$PORT/fetch")" = 200 ] || { echo "/fetch does not answer 200" >&2; exit 1; }
}

run_case() {  # run_case LABEL
  printf '%-12s %-8s %10s %9s %9s\n' "$1" "route" "req/s" "p50" "p99"
  read -r h_rps h_p50 h_p99 <<<"$(wrk_run "http://127.0.0.1:$PORT/hello" "$DURATION")"
  printf '%-12s %-8s %10s %9s %9s\n' "" "/hello" "$h_rps" "$h_p50" "$h_p99"
  read -r f_rps f_p50 f_p99 <<<"$(wrk_run "http://127.0.0.1:$PORT/fetch" "$DURATION")"
  printf '%-12s %-8s %10s %9s %9s   (%s of /hello)\n' "" "/fetch" "$f_rps" "$f_p50" "$f_p99" \
    "$(awk -v a="$f_rps" -v b="$h_rps" 'BEGIN {printf "%.3f", a / b}')"
}

machine_line
start_picloud pooled true
run_case "keep-alive"
kill "${BENCH_PIDS[-1]}"; wait "${BENCH_PIDS[-1]}" 2>/dev/null || true
start_picloud unpooled false
run_case "no pool"
