#!/usr/bin/env bash
# The docs plugin's queries over 100,000 documents, on SQLite and — when
# PICLOUD_TEST_POSTGRES_URL names a server — PostgreSQL. Each document is
#   {"n": i, "email": "user<i>@example.com", "handle": "user<i>@example.com",
#    "score": (i * 7919) % 100000, "group": i % 100,
#    "items": [{"price": (i * 31 + k * 7) % 1000} for k in 0 .. i % 3]}
# ("handle" holds the same values as "email" but has no index). Measured with
# wrk -t1 -c1 (one request at a time: latency) through a script route:
#   /eq        find({"email": <random user>})                   indexed equality
#   /eq-noidx  find({"handle": <random user>})                  the same, unindexed
#   /range     find({"score": {"$gte": <random>}}, sort score, limit 20)  indexed range
#   /items-eq  find({"items.price": <random 0-999>}, limit 20)  a path through an
#              array of objects, indexed (0.1.0 found nothing: its paths did
#              not reach into arrays)
# and /eq again with -t2 -c64 (throughput); then find_page through 1,000
# pages of 20 sorted by score, one request a page (keep-alive): the whole
# walk's time and a page's p50. The documents are written
# straight into the database (a bulk load, not a benchmark of create()); the
# indexes are then made through the admin API, which is timed.
source "$(dirname "$0")/lib.bash"
command -v wrk >/dev/null || { echo "wrk is not installed (./dev bench installs it)"; exit 1; }
DURATION="${DURATION:-10s}"
DOCS="${DOCS:-100000}"

start_picloud() {  # start_picloud LABEL DATABASE_URL -> sets PORT, KEY, ADMIN, APP_ID
  # The app owns 127.0.0.1, so IP addresses are not admin hosts here.
  bench_picloud "$1" "$2" PICLOUD_PLUGINS_ENABLED=docs PICLOUD_ADMIN_IP_HOSTS=false
  APP_ID=$(python3 - "$ADMIN" "$KEY" <<'PY'
import json, sys, urllib.request
base, key = sys.argv[1], sys.argv[2]
from admin_api import post
app = post("/apps", {"slug": "bench", "hostnames": ["127.0.0.1"]})
user = '"user" + random::integer(0, 99999) + "@example.com"'
scripts = {
  "eq": 'void handle(request@ req, response@ res) {\n'
        '  json f = {{"email", ' + user + '}};\n'
        '  json found = docs::collection("people").find(f);\n'
        '  res.text("" + found.size());\n}',
  "eqnoidx": 'void handle(request@ req, response@ res) {\n'
             '  json f = {{"handle", ' + user + '}};\n'
             '  json found = docs::collection("people").find(f);\n'
             '  res.text("" + found.size());\n}',
  "range": 'void handle(request@ req, response@ res) {\n'
           '  json f = {{"score", json = {{"$gte", random::integer(0, 99999)}}}};\n'
           '  json o = {{"sort", "score"}, {"limit", 20}};\n'
           '  json found = docs::collection("people").find(f, o);\n'
           '  res.text("" + found.size());\n}',
  "itemseq": 'void handle(request@ req, response@ res) {\n'
             '  json f = {{"items.price", random::integer(0, 999)}};\n'
             '  json o = {{"limit", 20}};\n'
             '  json found = docs::collection("people").find(f, o);\n'
             '  res.text("" + found.size());\n}',
  "page": 'void handle(request@ req, response@ res) {\n'
          '  json o = {{"sort", "score"}, {"limit", 20}, {"cursor", req.query.get_string("cursor")}};\n'
          '  json everything;\n'
          '  json page = docs::collection("people").find_page(everything, o);\n'
          '  res.text(page.get_string("next_cursor", ""));\n}',
}
for name, source in scripts.items():
    post("/apps/bench/scripts", {"name": name, "source": source})
for name, path in [("eq", "/eq"), ("eqnoidx", "/eq-noidx"), ("range", "/range"), ("itemseq", "/items-eq"),
                   ("page", "/page")]:
    post("/apps/bench/routes", {"script": name, "path": path, "methods": ["GET"]})
print(app["id"])
PY
)
}

load_sqlite() {  # load_sqlite DB_FILE
  python3 - "$1" "$APP_ID" "$DOCS" <<'PY'
import json, sqlite3, sys, time
path, app, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = sqlite3.connect(path, timeout=30)
now = int(time.time() * 1000)
rows = ((app, "people", "d%07d" % i,
         json.dumps({"n": i, "email": "user%d@example.com" % i, "handle": "user%d@example.com" % i,
                     "score": (i * 7919) % 100000, "group": i % 100,
                     "items": [{"price": (i * 31 + k * 7) % 1000} for k in range(i % 3 + 1)]},
                    separators=(",", ":")), now, now)
        for i in range(count))
with db:
    db.executemany("INSERT INTO docs_documents (app_id, collection, id, data, created_at, updated_at) "
                   "VALUES (?, ?, ?, ?, ?, ?)", rows)
db.execute("ANALYZE")
PY
}

load_postgres() {  # load_postgres URL
  psql -q "$1" -v ON_ERROR_STOP=1 <<SQL
INSERT INTO docs_documents (app_id, collection, id, data, created_at, updated_at)
SELECT '$APP_ID', 'people', 'd' || lpad(i::text, 7, '0'),
       jsonb_build_object('n', i, 'email', 'user' || i || '@example.com', 'handle', 'user' || i || '@example.com',
                          'score', (i::bigint * 7919) % 100000, 'group', i % 100,
                          'items', (SELECT jsonb_agg(jsonb_build_object('price', (i * 31 + k * 7) % 1000))
                                    FROM generate_series(0, i % 3) AS k)),
       0, 0
FROM generate_series(0, $DOCS - 1) AS i;
ANALYZE docs_documents;
SQL
}

make_index() {  # make_index PATH -> prints seconds taken
  local start end
  start=$(date +%s%N)
  curl -fsS -o /dev/null -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d "{\"path\":\"$1\"}" "$ADMIN/apps/bench/docs/people/indexes"
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN {printf "%.2f s", ns / 1e9}'
}

latency() {  # latency PATH -> "req/s p50 p99" with one connection
  local out
  wrk -t1 -c1 -d2s "http://127.0.0.1:$PORT$1" >/dev/null 2>&1 || true   # warm-up
  out=$(wrk -t1 -c1 -d"$DURATION" --latency "http://127.0.0.1:$PORT$1")
  grep -q "Non-2xx" <<<"$out" && { echo "$out" >&2; echo "error: non-2xx answers" >&2; exit 1; }
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1=="50%" {print $2}' <<<"$out") $(awk '$1=="99%" {print $2}' <<<"$out")"
}

walk_pages() {  # walk_pages -> "pages seconds p50_ms": find_page through 1,000 pages
  python3 - "$PORT" <<'PY'
import http.client, sys, time, urllib.parse
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
cursor, times, start = "", [], time.perf_counter()
for _ in range(1000):
    t = time.perf_counter()
    conn.request("GET", "/page?cursor=" + urllib.parse.quote(cursor))
    r = conn.getresponse()
    body = r.read().decode()
    times.append(time.perf_counter() - t)
    if r.status != 200: sys.exit("error: /page answered %d: %s" % (r.status, body))
    cursor = body
    if not cursor: break
total = time.perf_counter() - start
times.sort()
print(len(times), "%.2f" % total, "%.2f" % (times[len(times) // 2] * 1000))
PY
}

run_backend() {  # run_backend LABEL
  local label="$1"
  [ "$(curl -fsS "http://127.0.0.1:$PORT/eq")" = "1" ] || { echo "error: /eq does not find its document"; exit 1; }
  echo "$label: $DOCS documents; index on email $(make_index email), on score $(make_index score)," \
    "on items.price $(make_index items.price)"
  [ "$(curl -fsS "http://127.0.0.1:$PORT/range")" -le 20 ] || { echo "error: /range answers more than 20"; exit 1; }
  printf '%-10s %-28s %10s %9s %9s\n' "$label" "query (wrk -t1 -c1)" "req/s" "p50" "p99"
  for route in /eq /eq-noidx /range /items-eq; do
    read -r rps p50 p99 <<<"$(latency "$route")"
    printf '%-10s %-28s %10s %9s %9s\n' "" "$route" "$rps" "$p50" "$p99"
  done
  read -r rps p50 p99 <<<"$(wrk_run "http://127.0.0.1:$PORT/eq" "$DURATION")"
  printf '%-10s %-28s %10s %9s %9s\n' "" "/eq (wrk -t2 -c64)" "$rps" "$p50" "$p99"
  read -r pages seconds p50 <<<"$(walk_pages)"
  echo "$label: find_page, $pages pages of 20 sorted by score: $seconds s in all, p50 ${p50}ms a page"
}

machine_line
start_picloud sqlite "sqlite:./picloud.db"
load_sqlite "$BENCH_TMP/sqlite/picloud.db"
run_backend sqlite

if [ -n "${PICLOUD_TEST_POSTGRES_URL:-}" ]; then
  db="picloud_docs_bench_$$"
  psql -q "$PICLOUD_TEST_POSTGRES_URL" -c "CREATE DATABASE $db" >/dev/null
  url="${PICLOUD_TEST_POSTGRES_URL%/*}/$db"
  start_picloud postgres "$url"
  load_postgres "$url"
  run_backend postgres
fi
