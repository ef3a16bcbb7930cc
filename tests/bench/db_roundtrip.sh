#!/usr/bin/env bash
# Cost of one statement through the kernel database layer, on SQLite (a file
# under /tmp) and on the PostgreSQL server ./dev bench starts on loopback.
source "$(dirname "$0")/lib.bash"
machine_line
"$BUILD_DIR/bench/db_bench" "sqlite:$BENCH_TMP/bench.db" "${ITERATIONS:-5000}"
if [ -n "${PICLOUD_TEST_POSTGRES_URL:-}" ]; then
  "$BUILD_DIR/bench/db_bench" "$PICLOUD_TEST_POSTGRES_URL" "${ITERATIONS:-5000}"
else
  echo "postgres: skipped (PICLOUD_TEST_POSTGRES_URL not set; ./dev bench sets it)"
fi
