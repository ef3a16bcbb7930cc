#!/usr/bin/env bash
# Every plugin .so in the given directories exports exactly one symbol:
# picloud_plugin (checked with nm -D --defined-only).
set -euo pipefail
checked=0 failed=0
for dir in "$@"; do
  for so in "$dir"/*.so; do
    [ -e "$so" ] || continue
    # Not PiCloud 2 plugins, on purpose.
    case "$(basename "$so")" in t_no_symbol.so | t_abi1.so) continue ;; esac
    symbols=$(nm -D --defined-only "$so" | awk '{print $NF}' | sort -u)
    if [ "$symbols" != "picloud_plugin" ]; then
      echo "FAIL $so exports:"; echo "$symbols" | sed 's/^/    /'; failed=$((failed + 1))
    fi
    checked=$((checked + 1))
  done
done
echo "$checked plugin(s) checked, $failed with extra exports"
[ "$checked" -gt 0 ] && [ "$failed" -eq 0 ]
