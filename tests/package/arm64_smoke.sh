#!/usr/bin/env bash
# Smoke test of the arm64 package, on an amd64 machine under qemu-user.
#
#   ./dev package --arch arm64 && tests/package/arm64_smoke.sh build-deb-arm64
#   tests/package/arm64_smoke.sh [--build-tree] [BUILD_DIR]   (default: build-deb-arm64)
#
# It unpacks BUILD_DIR/packages/picloud_*_arm64.deb (dpkg-deb -x, nothing is
# installed) and runs the packaged /usr/bin/picloud with qemu-aarch64-static,
# which finds the arm64 libraries the package depends on where multiarch puts
# them (/usr/lib/aarch64-linux-gnu; ./dev package --arch arm64 installs
# them). --build-tree runs BUILD_DIR/picloud instead (unstripped, before
# cpack). The server starts on a fresh SQLite database in a directory of its
# own, with the default configuration (PICLOUD_* variables of the caller's
# environment are dropped), and must:
#
#   1. start every plugin it ships (docs, email, files, http, kv, ...) and
#      answer GET /readyz;
#   2. let the owner sign in and make an API key (admin API);
#   3. create an app, a script reading and writing the app's kv store
#      (compiled when saved) and a route to it, which answers n=1 then n=2
#      (tests/package/scenario.bash, the package install test's scenario);
#   4. answer 20 more calls of that route, timed, and then n=23;
#   5. stop cleanly on SIGTERM.
#
# Scripts reaching the services on arm64 is the point: PiCloud registers
# every script function with AngelScript's generic calling convention
# (asCALL_GENERIC, scripting/as.hpp), so nothing depends on the library's
# native calling-convention code for the platform (AS_MAX_PORTABILITY or
# not: the options are printed below).
#
# Prints the timings: start-up until /readyz, the scenario, and the latency
# of /readyz and of the kv route (min / median / max of 20), and the stop.
# They measure the emulation on the build machine, not a Pi: they say the
# arm64 build works, not how fast it runs. Too slow for every CI run, so
# it is run by hand after a cross build; exit status 0 and a last line PASS
# when everything held, otherwise a line FAIL: and the server's log.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/scenario.bash"
for var in $(compgen -e | grep '^PICLOUD_' || true); do unset "$var"; done

usage() { sed -n '2,/^set -euo/{/^set -euo/d; s/^# \{0,1\}//; p}' "$0"; }
from_tree=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --build-tree) from_tree=1; shift ;;
    -*) echo "arm64_smoke: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -le 1 ] || { usage >&2; exit 2; }
BUILD_DIR="${1:-$HERE/../../build-deb-arm64}"
[ -d "$BUILD_DIR" ] || { echo "arm64_smoke: no build directory $BUILD_DIR (run ./dev package --arch arm64 first)" >&2; exit 1; }
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"

fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in qemu-aarch64-static curl python3 dpkg-deb; do
  command -v "$tool" >/dev/null || fail "$tool is missing (./dev package --arch arm64 installs what this needs)"
done
[ -e /lib/ld-linux-aarch64.so.1 ] || fail "the arm64 C library is not installed (libc6:arm64; ./dev package --arch arm64 installs it)"

work="$(mktemp -d /tmp/picloud-arm64-smoke.XXXXXX)"
server=""
cleanup() {
  local rc=$?
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [ $rc -ne 0 ] && [ -f "$work/server.log" ]; then echo "--- the server's log (last 40 lines)"; tail -n 40 "$work/server.log"; fi
  rm -rf "$work"
}
trap cleanup EXIT
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# is_arm64 FILE: an ELF file for AArch64 (e_machine 183), without needing file(1).
is_arm64() { [ "$(od -An -t u2 -j 18 -N 2 "$1" 2>/dev/null | tr -d ' ')" = 183 ]; }
# latency N URL [curl args]: N calls; prints "min / median / max ms".
latency() {
  local n="$1" url="$2"
  shift 2
  for _ in $(seq 1 "$n"); do curl -fsS -o /dev/null -w '%{time_total}\n' "$@" "$url"; done |
    python3 -c 'import sys, statistics as s; t = sorted(float(x) * 1000 for x in sys.stdin)
print(f"{t[0]:.1f} / {s.median(t):.1f} / {t[-1]:.1f} ms")'
}

echo "== $(qemu-aarch64-static --version | head -n 1)"
if [ "$from_tree" = 1 ]; then
  picloud="$BUILD_DIR/picloud" plugin_dir="$BUILD_DIR/plugins"
  [ -f "$picloud" ] || fail "no $picloud (build first: ./dev package --arch arm64)"
  echo "== the build tree's binary: $picloud"
else
  debs=("$BUILD_DIR"/packages/picloud_*_arm64.deb)
  [ -f "${debs[0]}" ] || fail "no picloud_*_arm64.deb in $BUILD_DIR/packages (run ./dev package --arch arm64, or pass --build-tree)"
  [ ${#debs[@]} -eq 1 ] || fail "several picloud_*_arm64.deb in $BUILD_DIR/packages: ${debs[*]}"
  echo "== the package: $(basename "${debs[0]}") ($(du -k "${debs[0]}" | cut -f1) KiB)"
  [ "$(dpkg-deb -f "${debs[0]}" Architecture)" = arm64 ] || fail "${debs[0]} is not Architecture: arm64"
  echo "   Depends: $(dpkg-deb -f "${debs[0]}" Depends)"
  dpkg-deb -x "${debs[0]}" "$work/root"
  picloud="$work/root/usr/bin/picloud" plugin_dir="$work/root/usr/lib/picloud/plugins"
  plugin_count=$(find "$plugin_dir" -maxdepth 1 -name '*.so' | wc -l)
  echo "   unpacked: usr/bin/picloud, $plugin_count plugins in usr/lib/picloud/plugins"
fi
is_arm64 "$picloud" || fail "$picloud is not an arm64 (AArch64) binary"
as_lib=$(qemu-aarch64-static /lib/ld-linux-aarch64.so.1 --list "$picloud" 2>/dev/null |
  awk '/libangelscript\.so/ {print $3; exit}' || true)
if [ -n "$as_lib" ] && [ -f "$as_lib" ] && command -v strings >/dev/null; then
  as_options=$(strings -n 8 "$as_lib" | grep -E '^ ?AS_[A-Z0-9_]+ ' | head -n 1 | sed 's/^ *//; s/ *$//' || true)
  echo "== AngelScript: $as_lib, built with: ${as_options:-(its options were not found)}"
fi
echo "== $(qemu-aarch64-static "$picloud" --version)"

# 1. start-up
port=$(package_free_port)
mkdir -p "$work/run"
t0=$(date +%s%N)
(cd "$work/run" && exec env PICLOUD_SERVER_PORT="$port" PICLOUD_OWNER_USERNAME=operator \
   PICLOUD_OWNER_PASSWORD="$PACKAGE_OWNER_PASSWORD" qemu-aarch64-static "$picloud" serve) >"$work/server.log" 2>&1 &
server=$!
package_wait_ready "http://127.0.0.1:$port/readyz" 300 "$server" || fail "the server did not become ready"
echo "1. ready in $(ms "$t0") ms (fresh SQLite database, migrations applied, owner created): $(curl -fsS "http://127.0.0.1:$port/readyz")"
started=$(sed -n 's/.*msg=listening .* plugins=\([a-z0-9_,-]*\).*/\1/p' "$work/server.log" | head -n 1)
expected=$(find "$plugin_dir" -maxdepth 1 -name '*.so' -printf '%f\n' | sed 's/\.so$//' | sort | paste -sd, -)
echo "   plugins started: $started"
[ "$started" = "$expected" ] || fail "the plugins started ($started) are not all those in $plugin_dir ($expected)"

# 2. and 3. sign-in, key, app, script, route, two calls
t1=$(date +%s%N)
# In a bash of its own, so that errexit holds inside it (a function called
# left of || runs without it).
bash -euo pipefail -c 'source "$1"; package_scenario "$2" "$3"' scenario "$HERE/scenario.bash" "$port" "$work" \
  >"$work/scenario.out" 2>&1 || { sed 's/^/   /' "$work/scenario.out"; fail "the kv route's scenario"; }
sed 's/^/   /' "$work/scenario.out"
echo "2-3. owner signed in, API key, app, script compiled on save, route, two calls: $(ms "$t1") ms"

# 4. twenty more calls, timed
echo "4. latency of 20 calls (min / median / max):"
echo "   GET /readyz (no script):         $(latency 20 "http://127.0.0.1:$port/readyz")"
echo "   GET /counter (kv get and set):   $(latency 20 "http://127.0.0.1:$port/counter" -H 'Host: smoke.test')"
answer=$(curl -fsS -H 'Host: smoke.test' "http://127.0.0.1:$port/counter")
[ "$answer" = n=23 ] || fail "after 22 calls the 23rd answered '$answer', not n=23"
echo "   the counter after 23 calls: $answer"

# 5. stop
t3=$(date +%s%N)
kill -TERM "$server"
rc=0
wait "$server" || rc=$?
server=""
[ "$rc" -eq 0 ] || fail "the server exited with status $rc on SIGTERM"
grep -q 'msg=stopped' "$work/server.log" || fail "the server's log has no msg=stopped"
if grep -q 'level=error' "$work/server.log"; then
  echo "--- errors in the server's log:"; grep 'level=error' "$work/server.log"; fail "the server logged errors"
fi
echo "5. stopped cleanly on SIGTERM in $(ms "$t3") ms"
echo "PASS"
