#!/usr/bin/env bash
# Runs a fuzzer (framing: the kernel's request framing; url: the http
# plugin's URL reading; regex: the SDK's regular expressions) for a bounded
# time; exits non-zero when it finds a crash or a broken invariant (the
# input is kept as crash-* in the artifacts directory, printed at the end).
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [framing|url|regex]
#
# BUILD_DIR is a build configured with clang and -DPICLOUD_FUZZ=ON, e.g.
#   CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DPICLOUD_FUZZ=ON -DPICLOUD_BUILD_TESTS=OFF
#   cmake --build build-fuzz --target framing_fuzz url_fuzz regex_fuzz
# The seed corpus in tests/fuzz/corpus/<name> is read, never written: what
# the fuzzer finds goes to a scratch corpus in BUILD_DIR.
set -euo pipefail

[ $# -eq 2 ] || [ $# -eq 3 ] || { echo "usage: $0 BUILD_DIR SECONDS [framing|url|regex]" >&2; exit 2; }
BUILD_DIR="$1"
SECONDS_TO_RUN="$2"
NAME="${3:-framing}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FUZZER="$BUILD_DIR/tests/fuzz/${NAME}_fuzz"
[ -x "$FUZZER" ] || { echo "$0: $FUZZER not found: build the ${NAME}_fuzz target with -DPICLOUD_FUZZ=ON first" >&2; exit 2; }

WORK="$BUILD_DIR/fuzz/$NAME"
mkdir -p "$WORK/corpus" "$WORK/artifacts"
LOG="$WORK/fuzz.log"
status=0
# libFuzzer's progress lines run to thousands; they go to a log, and only the
# final figures (or the failure's report) are printed.
"$FUZZER" -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
  -artifact_prefix="$WORK/artifacts/" "$WORK/corpus" "$HERE/corpus/$NAME" >"$LOG" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  grep -a -v -E '^#[0-9]+[[:space:]]' "$LOG" | tail -n 80 >&2
  echo "$0: the fuzzer failed (exit $status); inputs: $(ls "$WORK/artifacts" | tr '\n' ' '); log: $LOG" >&2
else
  grep -a -E '^(Done|stat::)' "$LOG" || true
fi
exit "$status"
