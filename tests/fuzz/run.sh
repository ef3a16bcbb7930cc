#!/usr/bin/env bash
# Runs the request-framing fuzzer for a bounded time; exits non-zero when it
# finds a crash or a broken invariant (the input is kept as crash-* in the
# artifacts directory, printed at the end).
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS
#
# BUILD_DIR is a build configured with clang and -DPICLOUD_FUZZ=ON, e.g.
#   CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DPICLOUD_FUZZ=ON -DPICLOUD_BUILD_TESTS=OFF
#   cmake --build build-fuzz --target framing_fuzz
# The seed corpus in tests/fuzz/corpus/framing is read, never written: what
# the fuzzer finds goes to a scratch corpus in BUILD_DIR.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR SECONDS" >&2; exit 2; }
BUILD_DIR="$1"
SECONDS_TO_RUN="$2"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FUZZER="$BUILD_DIR/tests/fuzz/framing_fuzz"
[ -x "$FUZZER" ] || { echo "$0: $FUZZER not found: build the framing_fuzz target with -DPICLOUD_FUZZ=ON first" >&2; exit 2; }

WORK="$BUILD_DIR/fuzz/framing"
mkdir -p "$WORK/corpus" "$WORK/artifacts"
LOG="$WORK/fuzz.log"
status=0
# libFuzzer's progress lines run to thousands; they go to a log, and only the
# final figures (or the failure's report) are printed.
"$FUZZER" -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
  -artifact_prefix="$WORK/artifacts/" "$WORK/corpus" "$HERE/corpus/framing" >"$LOG" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  grep -v -E '^#[0-9]+[[:space:]]' "$LOG" | tail -n 80 >&2
  echo "$0: the fuzzer failed (exit $status); inputs: $(ls "$WORK/artifacts" | tr '\n' ' '); log: $LOG" >&2
else
  grep -E '^(Done|stat::)' "$LOG" || true
fi
exit "$status"
