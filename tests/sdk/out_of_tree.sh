#!/usr/bin/env bash
# Installs PiCloud (binary + SDK) to a temporary prefix, builds the example
# plugin in examples/plugins/hello out of tree against that SDK with
# find_package(PiCloudSDK), loads it into the installed kernel and calls the
# route it registers and the script function it declares. Then builds the
# built-in kv plugin the same way, from its sources alone, and uses it: the
# built-in plugins need nothing the installed SDK does not give a third party.
set -euo pipefail
BUILD_DIR="$1" SOURCE_DIR="$2"
work="$(mktemp -d /tmp/picloud-sdk-test.XXXXXX)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== install to $work/prefix"
cmake --install "$BUILD_DIR" --prefix "$work/prefix" >"$work/install.log"
test -x "$work/prefix/bin/picloud"
test -f "$work/prefix/include/picloud/sdk.hpp"
test -f "$work/prefix/lib/cmake/PiCloudSDK/PiCloudSDKConfig.cmake"
test -f "$work/prefix/etc/picloud/picloud.ini"
! grep -rlE '#include *[<"](Poco/|angelscript|boost/)' "$work/prefix/include/picloud"

echo "== build examples/plugins/hello against the installed SDK"
cp -r "$SOURCE_DIR/examples/plugins/hello" "$work/hello-src"
cmake -S "$work/hello-src" -B "$work/hello-build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >"$work/configure.log" \
  || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/hello-build" >"$work/build.log" || { cat "$work/build.log"; exit 1; }
so="$work/hello-build/hello.so"
test -f "$so"
exports=$(nm -D --defined-only "$so" | awk '{print $NF}')
[ "$exports" = "picloud_plugin" ] || { echo "hello.so exports: $exports"; exit 1; }

echo "== load it into the installed kernel"
mkdir -p "$work/run"
# The ABI block the loader reads from the file before loading it.
# (Read into a file first: `readelf | grep -q` fails under pipefail when grep
# stops reading early and readelf gets SIGPIPE.)
readelf -S "$work/hello-build/hello.so" >"$work/sections.txt"
grep -q '\.picloud_abi' "$work/sections.txt" || { echo "hello.so has no .picloud_abi section"; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work/run" && PICLOUD_SERVER_PORT=$port PICLOUD_PLUGINS_SEARCH_PATH="$work/hello-build" PICLOUD_PLUGINS_ENABLED=hello \
  PICLOUD_HELLO_GREETING=howdy exec "$work/prefix/bin/picloud" serve >"$work/server.log" 2>&1) &
pid=$!
for _ in $(seq 1 300); do curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.05; done
body=$(curl -fsS "http://127.0.0.1:$port/hello/greet?name=sdk") || { cat "$work/server.log"; exit 1; }
echo "response: $body"
[ "$body" = '{"greeting":"howdy, sdk","plugin":"hello"}' ] || { cat "$work/server.log"; exit 1; }
abi_h="$work/prefix/include/picloud/picloud.h"
abi="$(sed -n 's/^#define PC_ABI_MAJOR //p' "$abi_h").$(sed -n 's/^#define PC_ABI_MINOR //p' "$abi_h")"
PICLOUD_PLUGINS_SEARCH_PATH="$work/hello-build" "$work/prefix/bin/picloud" plugins | grep -E "^hello +1\.0\.0 +${abi//./\\.} +yes"

echo "== call its script function from a script"
cat >"$work/run/greet.as" <<'SCRIPT'
void handle(request@ req, response@ res) {
  string caught;
  try { hello::greet(""); } catch { caught = getExceptionInfo(); }
  res.text(hello::greet(req.query.get_string("name")) + " / " + hello::greet() + " / " + caught);
}
SCRIPT
out=$(cd "$work/run" && PICLOUD_PLUGINS_SEARCH_PATH="$work/hello-build" PICLOUD_PLUGINS_ENABLED=hello PICLOUD_HELLO_GREETING=howdy \
  "$work/prefix/bin/picloud" script run greet.as --path '/?name=script' 2>"$work/script.log") || { cat "$work/script.log"; exit 1; }
echo "$out"
echo "$out" | grep -qx 'howdy, script / howdy, world / invalid_argument: name must not be empty' || { cat "$work/script.log"; exit 1; }
echo "== build the built-in kv plugin out of tree against the installed SDK alone"
mkdir -p "$work/kv-src"
cp -r "$SOURCE_DIR/plugins/kv" "$work/kv-src/kv"
cat >"$work/kv-src/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.22)
project(picloud_kv_out_of_tree LANGUAGES CXX)
find_package(PiCloudSDK 0.1 REQUIRED)
include(GNUInstallDirs)
set(PICLOUD_PLUGIN_OUTPUT_DIR ${CMAKE_BINARY_DIR}/plugins)
add_subdirectory(kv)
CMAKE
cmake -S "$work/kv-src" -B "$work/kv-build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >"$work/kv-configure.log" \
  || { cat "$work/kv-configure.log"; exit 1; }
cmake --build "$work/kv-build" >"$work/kv-build.log" 2>&1 || { cat "$work/kv-build.log"; exit 1; }
kv_so="$work/kv-build/plugins/kv.so"
test -f "$kv_so"
# It links no library beyond the C and C++ runtimes (no Poco, nothing of the kernel).
readelf -d "$kv_so" >"$work/kv-dynamic.txt"
needed=$(sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' "$work/kv-dynamic.txt" | grep -vE '^(libstdc\+\+|libm|libgcc_s|libc)\.so' || true)
[ -z "$needed" ] || { echo "kv.so needs more than the C/C++ runtime: $needed"; exit 1; }
# It ships its migrations beside its .so, as a third-party plugin does.
mkdir -p "$work/kv-build/plugins/migrations"
cp -r "$SOURCE_DIR/migrations/kv" "$work/kv-build/plugins/migrations/kv"
cat >"$work/run/kv.as" <<'SCRIPT'
void handle(request@ req, response@ res) {
  kv::Collection@ c = kv::collection("things");
  c.set("k", json::parse('{"n": 42}'));
  res.text(c.get("k").to_string() + " " + c.has("k") + " " + c.has("nope"));
}
SCRIPT
out=$(cd "$work/run" && PICLOUD_PLUGINS_SEARCH_PATH="$work/kv-build/plugins" PICLOUD_PLUGINS_ENABLED=kv \
  PICLOUD_SERVER_DATA_DIR="$work/run/kv-data" "$work/prefix/bin/picloud" script run kv.as 2>"$work/kv-script.log") \
  || { cat "$work/kv-script.log"; exit 1; }
echo "$out"
echo "$out" | grep -qx '{"n":42} true false' || { cat "$work/kv-script.log"; exit 1; }
echo "out-of-tree plugins built, loaded and called"
