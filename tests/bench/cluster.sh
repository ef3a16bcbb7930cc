#!/usr/bin/env bash
# Several nodes on one PostgreSQL ([cluster] issue; docs/cluster.md), every
# process on this machine (the nodes share its cores with nginx, wrk and
# PostgreSQL):
#   /hello and a kv get+set route through nginx with 1, 2 and 3 nodes, and
#   /hello straight to one node for reference (wrk -t2 -c64);
#   cross-node wake-up: an async request sent to a node that runs no queued
#   work, until its run starts on another node (p50/p99 of 200 requests sent
#   one every 20 ms), with pokes (NOTIFY) and with polling alone
#   ([dispatch] poll_interval_ms = 1000).
# Needs PICLOUD_TEST_POSTGRES_URL (./dev bench starts a server).
source "$(dirname "$0")/lib.bash"
command -v wrk >/dev/null || { echo "wrk is not installed (./dev bench installs it)"; exit 1; }
command -v nginx >/dev/null || { echo "nginx is not installed (./dev bench installs it)"; exit 1; }
[ -n "${PICLOUD_TEST_POSTGRES_URL:-}" ] || { echo "PICLOUD_TEST_POSTGRES_URL is not set (./dev bench sets it)"; exit 1; }
DURATION="${DURATION:-10s}"
DB="picloud_cluster_bench_$$"
PG_URL="${PICLOUD_TEST_POSTGRES_URL%/*}/$DB"
drop_db() { psql -q "$PICLOUD_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; }
trap 'bench_cleanup; drop_db' EXIT

NODE_PORTS=()
NODE_PIDS=()
start_node() {  # start_node [VAR=value ...]: one more node on the database
  local port dir
  port=$(free_port)
  dir="$BENCH_TMP/node${#NODE_PORTS[@]}"
  mkdir -p "$dir"
  (cd "$dir" && exec env PICLOUD_SERVER_PORT="$port" PICLOUD_DATABASE_URL="$PG_URL" PICLOUD_LOG_LEVEL=warn \
     PICLOUD_PLUGINS_ENABLED=kv PICLOUD_ADMIN_IP_HOSTS=false PICLOUD_OWNER_USERNAME=bench \
     PICLOUD_OWNER_PASSWORD="$BENCH_PASSWORD" "$@" "$PICLOUD" serve) &
  BENCH_PIDS+=($!)
  NODE_PIDS+=($!)
  NODE_PORTS+=("$port")
  wait_ready "http://127.0.0.1:$port/readyz" >/dev/null
}
stop_nodes() {
  local pid
  for pid in "${NODE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  NODE_PIDS=(); NODE_PORTS=()
}

setup_app() {
  python3 - "$ADMIN" "$KEY" <<'PY'
import sys
from admin_api import GETSET, HELLO, post
post("/apps", {"slug": "bench", "hostnames": ["127.0.0.1"]})
scripts = {
  "hello": HELLO,
  "getset": GETSET,
  "later": 'void handle(request@ req, response@ res) { }',
}
for name, source in scripts.items():
    post("/apps/bench/scripts", {"name": name, "source": source})
post("/apps/bench/routes", {"script": "hello", "path": "/hello", "methods": ["GET"]})
post("/apps/bench/routes", {"script": "getset", "path": "/getset", "methods": ["GET"]})
post("/apps/bench/routes", {"script": "later", "path": "/later", "methods": ["POST"], "dispatch": "async"})
PY
}

start_lb() {  # nginx in front of NODE_PORTS, as docs/cluster.md configures it; sets LB_PORT
  LB_PORT=$(free_port)
  local d="$BENCH_TMP/lb$LB_PORT" servers="" p
  mkdir -p "$d/logs"
  for p in "${NODE_PORTS[@]}"; do servers+="    server 127.0.0.1:$p max_fails=1 fail_timeout=5s;"$'\n'; done
  cat > "$d/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream picloud {
$servers    keepalive 64;
  }
  server {
    listen 127.0.0.1:$LB_PORT;
    location / {
      proxy_pass http://picloud;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_next_upstream error timeout http_502 http_503;
    }
  }
}
CONF
  nginx -p "$d" -c "$d/nginx.conf" &
  LB_PID=$!
  BENCH_PIDS+=($LB_PID)
  wait_ready "http://127.0.0.1:$LB_PORT/hello" >/dev/null
}
stop_lb() { kill "$LB_PID" 2>/dev/null || true; wait "$LB_PID" 2>/dev/null || true; }

# wake_latency: 200 async requests to node 0 (which runs no queued work),
# one every 20 ms; prints "p50 p99" in ms from the request's send to its
# run's start on another node (the execution record's started_at).
wake_latency() {
  python3 - "${NODE_PORTS[0]}" "$PG_URL" <<'PY'
import http.client, json, subprocess, sys, time
port, url = int(sys.argv[1]), sys.argv[2]
sent = {}
conn = http.client.HTTPConnection("127.0.0.1", port)
for i in range(200):
    t = time.time() * 1000
    conn.request("POST", "/later", body=b"x", headers={"Host": "127.0.0.1"})
    r = conn.getresponse(); r.read()
    assert r.status == 202, r.status
    sent[r.getheader("X-Execution-Id")] = t
    time.sleep(0.02)
deadline = time.time() + 30
while True:
    out = subprocess.run(["psql", "-qAt", url, "-c", "SELECT id, started_at FROM executions"],
                         capture_output=True, text=True, check=True).stdout
    started = dict(line.split("|") for line in out.split())
    if all(i in started for i in sent) or time.time() > deadline: break
    time.sleep(0.2)
lat = sorted(int(started[i]) - t for i, t in sent.items() if i in started)
assert len(lat) == len(sent), f"only {len(lat)} of {len(sent)} runs recorded"
print(f"{lat[len(lat) // 2]:.0f} {lat[int(len(lat) * 0.99)]:.0f}")
PY
}

machine_line
psql -q "$PICLOUD_TEST_POSTGRES_URL" -c "CREATE DATABASE $DB" >/dev/null
psql -qAt "$PICLOUD_TEST_POSTGRES_URL" -c "SHOW fsync" | grep -q on ||
  echo "note: this PostgreSQL runs with fsync off: its commits cost no flush here"

printf '%-8s %12s %14s %16s\n' "nodes" "/hello" "/getset" "/hello direct"
for n in 1 2 3; do
  for _ in $(seq 1 "$n"); do start_node; done
  if [ "$n" = 1 ]; then bench_sign_in "${NODE_PORTS[0]}" "$BENCH_TMP"; setup_app; fi
  start_lb
  read -r h _ _ <<<"$(wrk_run "http://127.0.0.1:$LB_PORT/hello" "$DURATION")"
  read -r g _ _ <<<"$(wrk_run "http://127.0.0.1:$LB_PORT/getset" "$DURATION")"
  direct="-"
  [ "$n" = 1 ] && read -r direct _ _ <<<"$(wrk_run "http://127.0.0.1:${NODE_PORTS[0]}/hello" "$DURATION")"
  printf '%-8s %12s %14s %16s\n' "$n" "$h" "$g" "$direct"
  stop_lb
  stop_nodes
done

echo
printf '%-28s %10s %10s\n' "cross-node wake-up" "p50 ms" "p99 ms"
for pokes in true false; do
  start_node PICLOUD_DISPATCH_RUN_QUEUED=false PICLOUD_CLUSTER_POKES=$pokes
  start_node PICLOUD_CLUSTER_POKES=$pokes
  sleep 3  # each node has seen the other's heartbeat
  read -r p50 p99 <<<"$(wake_latency)"
  printf '%-28s %10s %10s\n' "$([ $pokes = true ] && echo "pokes (NOTIFY)" || echo "polling (1 s)")" "$p50" "$p99"
  stop_nodes
done
