#!/usr/bin/env bash
# The kernel and the script engine know no built-in service by name: no code
# line (comments stripped) in kernel/ or scripting/ names a folder of
# plugins/ as a word. Documentation strings (openapi.json) are not code.
set -euo pipefail
root="$1"
status=0
for dir in "$root"/plugins/*/; do
  name=$(basename "$dir")
  [ "$name" = support ] && continue
  hits=$(find "$root/kernel" "$root/scripting" \( -name '*.cpp' -o -name '*.hpp' -o -name '*.in' \) -print |
    while read -r file; do sed -e 's|//.*$||' "$file" | { grep -nw -- "$name" || true; } | sed "s|^|${file#"$root"/}:|"; done)
  if [ -n "$hits" ]; then
    echo "the kernel names the plugin '$name':"
    echo "$hits"
    status=1
  fi
done
[ "$status" = 0 ] && echo "no kernel or scripting code names a built-in plugin"
exit $status
