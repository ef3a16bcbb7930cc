#!/usr/bin/env bash
# Builds the t_good and t_events test plugins with clang and libc++ (Debian's
# clang, libc++-dev and libc++abi-dev) into OUT_DIR, as a third party using
# another compiler and standard library than the kernel's would, with only
# the SDK headers. libcxx_test.cpp then loads them into the GCC-built kernel.
#
#   tests/sdk/build_libcxx_plugins.sh SOURCE_DIR OUT_DIR
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 SOURCE_DIR OUT_DIR" >&2; exit 2; }
SOURCE_DIR="$1" OUT_DIR="$2"
command -v clang++ >/dev/null || { echo "$0: clang++ is missing: apt-get install clang libc++-dev libc++abi-dev" >&2; exit 1; }
launcher=()
command -v ccache >/dev/null && launcher=(ccache)
# The boundary itself is C: picloud.h must compile as C, warning-free.
clang -std=c11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -x c "$SOURCE_DIR/sdk-headers/picloud/picloud.h"
mkdir -p "$OUT_DIR"
ln -sfn "$SOURCE_DIR/tests/plugins/migrations" "$OUT_DIR/migrations"
for name in t_good t_events; do
  "${launcher[@]}" clang++ -std=c++20 -stdlib=libc++ -O1 -g0 -fPIC -shared -fvisibility=hidden -fvisibility-inlines-hidden \
    -I "$SOURCE_DIR/sdk-headers" "$SOURCE_DIR/tests/plugins/$name.cpp" -o "$OUT_DIR/$name.so.tmp" \
    -Wl,--version-script="$SOURCE_DIR/cmake/plugin-exports.map" -Wl,-z,defs
  mv "$OUT_DIR/$name.so.tmp" "$OUT_DIR/$name.so"
done
# Proof of what was built: linked against libc++, not libstdc++.
for name in t_good t_events; do
  needed="$(readelf -d "$OUT_DIR/$name.so")"  # not piped into grep -q: SIGPIPE under pipefail
  grep -q 'libc++\.so' <<<"$needed" || { echo "$name.so does not use libc++" >&2; exit 1; }
  ! grep -q 'libstdc++' <<<"$needed" || { echo "$name.so links libstdc++" >&2; exit 1; }
done
echo "built with clang and libc++: $OUT_DIR/t_good.so $OUT_DIR/t_events.so"
