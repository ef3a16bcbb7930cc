#!/usr/bin/env bash
# The dashboard: time to interactive for /admin on loopback (navigation
# start → the sign-in form usable, and the signed-in apps list shown), cold
# (a new browser profile: nothing cached) and warm (a reload: hashed assets
# from the cache, the page revalidated), in Debian's chromium driven by
# playwright-core; and the size of what is shipped, gzip-compressed as the
# kernel serves it.
source "$(dirname "$0")/lib.bash"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
RUNS="${RUNS:-10}"
CHROMIUM="${PICLOUD_CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] || { echo "dashboard bench: no chromium at $CHROMIUM (apt-get install chromium)" >&2; exit 1; }
[ -d "$ROOT/dashboard/node_modules/playwright-core" ] || { echo "dashboard bench: run ./dev build first (npm ci in dashboard/)" >&2; exit 1; }
machine_line

echo "shipped (dashboard/dist; gzip as served):"
( cd "$ROOT/dashboard/dist"
  total=0; total_gz=0
  while IFS= read -r f; do
    size=$(stat -c %s "$f"); gz=$(stat -c %s "$f.gz" 2>/dev/null || echo "$size")
    total=$((total + size)); total_gz=$((total_gz + gz))
    printf '  %-48s %8d B  %8d B gzip\n' "$f" "$size" "$gz"
  done < <(find . -type f ! -name '*.gz' | sed 's|^\./||' | sort)
  printf '  %-48s %8d B  %8d B gzip\n' "all" "$total" "$total_gz" )

bench_picloud dashboard "sqlite:$BENCH_TMP/dashboard.db"
NODE_PATH="$ROOT/dashboard/node_modules" node "$ROOT/tests/bench/dashboard_tti.mjs" \
  "http://localhost:$PORT/admin/" "$CHROMIUM" "$RUNS" bench "$BENCH_PASSWORD"
