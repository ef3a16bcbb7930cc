#!/usr/bin/env bash
# The files plugin on SQLite and — when PICLOUD_TEST_POSTGRES_URL names a
# server — PostgreSQL, with each backend (local files, database chunks):
#   upload    a 1 GiB file PUT through the admin API (curl, loopback), MB/s
#   download  the same file GET back, MB/s (verified against its SHA-256)
#   rss       the server's peak RSS growth over the upload and download
#   put 4k    a script route storing a 4 KiB file under one of 1,000 names
#             (wrk -t2 -c64), req/s
#   get 4k    a script route reading one of those files (verified), req/s
#   serve 4k  a script route answering with one through serve(), req/s
source "$(dirname "$0")/lib.bash"
command -v wrk >/dev/null || { echo "wrk is not installed (./dev bench installs it)"; exit 1; }
DURATION="${DURATION:-10s}"
SIZE_MIB="${SIZE_MIB:-1024}"

BIG="$BENCH_TMP/big.bin"
head -c "$((SIZE_MIB * 1048576))" /dev/urandom >"$BIG"

start_picloud() {  # start_picloud LABEL DATABASE_URL BACKEND -> sets PORT, KEY, ADMIN
  bench_picloud "$1" "$2" PICLOUD_PLUGINS_ENABLED=files PICLOUD_ADMIN_IP_HOSTS=false PICLOUD_FILES_BACKEND="$3" \
    PICLOUD_FILES_MAX_FILE_BYTES=$((2 * 1024 * 1048576)) PICLOUD_SERVER_SPOOL_RESERVE_BYTES=0
  PID="${BENCH_PIDS[-1]}"
  python3 - "$ADMIN" "$KEY" <<'PY'
import json, sys, urllib.request
base, key = sys.argv[1], sys.argv[2]
from admin_api import post
post("/apps", {"slug": "bench", "hostnames": ["127.0.0.1"]})
scripts = {
  "put": 'void handle(request@ req, response@ res) {\n'
         '  files::collection("small").put("f" + random::integer(1, 1000), random::bytes(4096));\n'
         '  res.text("ok");\n}',
  "get": 'void handle(request@ req, response@ res) {\n'
         '  array<uint8>@ b = files::collection("small").get("f" + random::integer(1, 1000));\n'
         '  res.text(b is null ? "none" : "" + b.length());\n}',
  "serve": 'void handle(request@ req, response@ res) {\n'
           '  if (!files::collection("small").serve(res, "f" + random::integer(1, 1000))) res.status = 404;\n}',
}
for name, source in scripts.items():
    post("/apps/bench/scripts", {"name": name, "source": source})
for name in scripts:
    post("/apps/bench/routes", {"script": name, "path": "/" + name, "methods": ["GET"]})
PY
  # Most names stored, so that reads find a file.
  python3 - "$PORT" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for _ in range(4000):
    c.request("GET", "/put"); c.getresponse().read()
PY
}

peak_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

run_backend() {  # run_backend LABEL
  local label="$1" before peak up down sum
  echo 5 >"/proc/$PID/clear_refs"
  before=$(rss_kib "$PID")
  up=$(curl -fsS -o /dev/null -w '%{speed_upload}' -X PUT -H 'Expect:' -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/octet-stream' -T "$BIG" "$ADMIN/apps/bench/files/big/file?name=big.bin")
  down=$(curl -fsS -o "$BENCH_TMP/back.bin" -w '%{speed_download}' -H "Authorization: Bearer $KEY" \
    "$ADMIN/apps/bench/files/big/file?name=big.bin")
  peak=$(peak_kib "$PID")
  cmp -s "$BIG" "$BENCH_TMP/back.bin" || { echo "error: the downloaded file differs"; exit 1; }
  rm -f "$BENCH_TMP/back.bin"
  read -r p_rps p_p50 p_p99 <<<"$(wrk_run "http://127.0.0.1:$PORT/put" "$DURATION")"
  read -r g_rps g_p50 g_p99 <<<"$(wrk_run "http://127.0.0.1:$PORT/get" "$DURATION")"
  read -r s_rps s_p50 s_p99 <<<"$(wrk_run "http://127.0.0.1:$PORT/serve" "$DURATION")"
  printf '%-18s upload %7.0f MB/s  download %7.0f MB/s  rss +%s MiB  put 4k %8s/s  get 4k %8s/s  serve 4k %8s/s\n' \
    "$label" "$(awk -v b="$up" 'BEGIN {print b / 1e6}')" "$(awk -v b="$down" 'BEGIN {print b / 1e6}')" \
    "$(( (peak - before) / 1024 ))" "$p_rps" "$g_rps" "$s_rps"
}

machine_line
echo "file: $SIZE_MIB MiB of random bytes; small files: 4 KiB, 1,000 names; wrk -t2 -c64 -d$DURATION"
for backend in local database; do
  start_picloud "sqlite-$backend" "sqlite:./picloud.db" "$backend"
  run_backend "sqlite $backend"
  kill "$PID"; wait "$PID" 2>/dev/null || true
done
if [ -n "${PICLOUD_TEST_POSTGRES_URL:-}" ]; then
  for backend in local database; do
    db="picloud_files_bench_${backend}_$$"
    psql -q "$PICLOUD_TEST_POSTGRES_URL" -c "CREATE DATABASE $db" >/dev/null
    start_picloud "postgres-$backend" "${PICLOUD_TEST_POSTGRES_URL%/*}/$db" "$backend"
    run_backend "postgres $backend"
    kill "$PID"; wait "$PID" 2>/dev/null || true
  done
fi
