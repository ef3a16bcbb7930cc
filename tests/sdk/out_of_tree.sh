#!/usr/bin/env bash
# Installs PiCloud (binary + SDK) to a temporary prefix, builds the example
# plugin in examples/plugins/hello out of tree against that SDK with
# find_package(PiCloudSDK), loads it into the installed kernel and calls the
# route it registers and the script function it declares.
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
echo "out-of-tree plugin built, loaded and called"
