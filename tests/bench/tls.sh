#!/usr/bin/env bash
# HTTPS on the listener ([server] tls_cert, tls_key; docs/tls.md), against
# plain HTTP in the same run, SQLite, a self-signed P-256 certificate:
#   /hello over keep-alive connections, plain and TLS (wrk -t2 -c64);
#   /healthz with a new connection per request, plain and TLS (full
#   handshakes: wrk sends Connection: close);
#   the TLS server's RSS after that load, and its growth with 2,000 idle
#   keep-alive TLS connections (per connection).
source "$(dirname "$0")/lib.bash"
command -v wrk >/dev/null || { echo "wrk is not installed (./dev bench installs it)"; exit 1; }
DURATION="${DURATION:-10s}"
CERT="$BENCH_TMP/cert.pem" KEY="$BENCH_TMP/key.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$KEY" -out "$CERT" 2>/dev/null
chmod 600 "$KEY"

start_server() {  # start_server LABEL SCHEME -> sets PORT, URL
  local dir="$BENCH_TMP/$1" extra=()
  PORT=$(free_port) URL="$2://127.0.0.1:$PORT"
  [ "$2" = https ] && extra=(PICLOUD_SERVER_TLS_CERT="$CERT" PICLOUD_SERVER_TLS_KEY="$KEY")
  mkdir -p "$dir"
  (cd "$dir" && exec env PICLOUD_SERVER_PORT="$PORT" PICLOUD_LOG_LEVEL=warn PICLOUD_ADMIN_IP_HOSTS=false \
     PICLOUD_OWNER_USERNAME=bench PICLOUD_OWNER_PASSWORD="$BENCH_PASSWORD" "${extra[@]}" "$PICLOUD" serve) &
  BENCH_PIDS+=($!)
  local C=(curl -fsS --cacert "$CERT") admin="$2://localhost:$PORT/api/v1/admin"
  for _ in $(seq 1 1000); do "${C[@]}" -o /dev/null "$2://localhost:$PORT/readyz" 2>/dev/null && break; sleep 0.01; done
  "${C[@]}" -c "$dir/jar" -H 'Content-Type: application/json' \
    -d "{\"username\":\"bench\",\"password\":\"$BENCH_PASSWORD\"}" "$admin/login" >/dev/null
  local key
  key=$("${C[@]}" -b "$dir/jar" -H 'Content-Type: application/json' \
    -d '{"name":"bench","scopes":["app:admin","app:write","script:write","app:read"]}' "$admin/keys" |
    python3 -c 'import sys,json; print(json.load(sys.stdin)["key"])')
  local H=(-o /dev/null -H "Authorization: Bearer $key" -H 'Content-Type: application/json')
  "${C[@]}" "${H[@]}" -d '{"slug":"bench","hostnames":["127.0.0.1"]}' "$admin/apps"
  "${C[@]}" "${H[@]}" -d '{"name":"hello","source":"void handle(request@ req, response@ res) { res.text(\"hello world\"); }"}' \
    "$admin/apps/bench/scripts"
  "${C[@]}" "${H[@]}" -d '{"script":"hello","path":"/hello","methods":["GET"]}' "$admin/apps/bench/routes"
}

stop_server() { kill "${BENCH_PIDS[-1]}"; wait "${BENCH_PIDS[-1]}" 2>/dev/null || true; }

machine_line
printf '%-8s %-30s %10s %9s %9s\n' "" "what" "req/s" "p50" "p99"
for scheme in http https; do
  start_server "$scheme" "$scheme"
  read -r rps p50 p99 <<<"$(wrk_run "$URL/hello" "$DURATION")"
  printf '%-8s %-30s %10s %9s %9s\n' "$scheme" "/hello, keep-alive" "$rps" "$p50" "$p99"
  wrk -t2 -c16 -d2s -H 'Connection: close' "$URL/healthz" >/dev/null 2>&1 || true
  out=$(wrk -t2 -c16 -d"$DURATION" --latency -H 'Connection: close' "$URL/healthz")
  printf '%-8s %-30s %10s %9s %9s\n' "$scheme" "/healthz, a connection each" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")"
  if [ "$scheme" = https ]; then
    # Idle connections: the server's RSS before and after 2,000 of them
    # made a request and went quiet.
    python3 - "$PORT" "$CERT" "${BENCH_PIDS[-1]}" <<'PY'
import resource, socket, ssl, sys, time
port, cafile, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
def rss():
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
ctx = ssl.create_default_context(cafile=cafile)
time.sleep(1.0)
before = rss()
conns = []
for _ in range(2000):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
    while b"ok" not in s.recv(4096):
        pass
    conns.append(s)
time.sleep(1.0)
after = rss()
print(f"RSS of the TLS server after the load above {before / 1024:.1f} MiB; with 2,000 idle TLS keep-alive connections "
      f"{after / 1024:.1f} MiB ({(after - before) / 2000:.1f} KiB per connection)")
PY
  fi
  stop_server
done
