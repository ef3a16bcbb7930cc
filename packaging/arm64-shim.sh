#!/usr/bin/env bash
# Makes DIR, where an arm64 cross build finds Poco and libpq (see
# packaging/arm64-toolchain.cmake): Poco's CMake package of the amd64
# libpoco-dev, pointed at the arm64 libraries (libpoco*80:arm64), its
# headers (the same for every architecture: libpoco-dev is Multi-Arch:
# same), and libpq.so for the arm64 libpq.so.5.
#
#   arm64-shim.sh DIR
set -euo pipefail
dir="$1" host=x86_64-linux-gnu target=aarch64-linux-gnu
[ -d "/usr/lib/$host/cmake/Poco" ] || { echo "arm64-shim: libpoco-dev (amd64) is not installed" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir/lib/$target/cmake/Poco" "$dir/include"
for f in "/usr/lib/$host/cmake/Poco"/*; do
  sed "s#$host#$target#g" "$f" >"$dir/lib/$target/cmake/Poco/$(basename "$f")"
done
ln -s /usr/include/Poco "$dir/include/Poco"
for lib in "/usr/lib/$target"/libPoco*.so.*; do
  ln -s "$lib" "$dir/lib/$target/$(basename "$lib")"
done
[ -e "/usr/lib/$target/libpq.so.5" ] || { echo "arm64-shim: libpq5:arm64 is not installed" >&2; exit 1; }
ln -s "/usr/lib/$target/libpq.so.5" "$dir/lib/$target/libpq.so"
