#!/usr/bin/env bash
# The kernel and the script engine know no service plugin (DESIGN.md: "Nothing
# in the kernel knows a built-in plugin by name"). In kernel/ and scripting/
# code (comments stripped):
#   - no #include of anything under plugins/;
#   - no string literal naming what a plugin under plugins/ owns: its name
#     (which is also its config section and capability prefix), the script
#     namespaces and trigger kinds it declares. Forms caught: "kv", "kv::…",
#     "kv.…", "[kv]", "PICLOUD_KV_…".
# A plugin's name used as an ordinary word in code (a C++ namespace such as
# http::, a variable) is not knowledge of the plugin and is allowed; so is a
# literal on a line that says why it is not the plugin's name, with the
# comment `picloud-lint: not a plugin name (<why>)` (the URL scheme "http").
# Usage: kernel_knows_no_service.sh <source root>
set -euo pipefail
root="$1"
status=0

code_files() { find "$root/kernel" "$root/scripting" \( -name '*.cpp' -o -name '*.hpp' \) -print 2>/dev/null; }
# Prints "<file>:<line>:<text>" of every line matching the ERE $1, comments stripped.
code_grep() {
  local pattern="$1" file
  code_files | while read -r file; do
    sed -e '/picloud-lint: not a plugin name/s/.*//' -e 's|//.*$||' "$file" | { grep -nE -- "$pattern" || true; } |
      sed "s|^|${file#"$root"/}:|"
  done
}

hits=$(code_grep '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]([.][.]/)*plugins/')
if [ -n "$hits" ]; then
  echo "the kernel includes a plugin's files:"
  echo "$hits"
  status=1
fi

for dir in "$root"/plugins/*/; do
  plugin=$(basename "$dir")
  [ "$plugin" = support ] && continue
  sources=$(find "$dir" \( -name '*.cpp' -o -name '*.hpp' \) -print)
  [ -n "$sources" ] || continue
  # The plugin's name, and the first literal of its script declarations and
  # trigger kinds.
  names=$( {
    echo "$plugin"
    cat $sources | { grep -oE 'PICLOUD_PLUGIN\([^,]+, *"[a-z0-9_]+"' || true; } | { grep -oE '"[a-z0-9_]+"' || true; }
    cat $sources | { grep -oE '(ScriptHandleTypeDecl [a-z_]+ *\{|add_function\(\{|trigger_kind\() *"[a-z0-9_]+"' || true; } |
      { grep -oE '"[a-z0-9_]+"' || true; }
  } | tr -d '"' | sort -u)
  for name in $names; do
    upper=$(echo "$name" | tr '[:lower:]' '[:upper:]')
    found=$(code_grep "\"(${name}|${name}::[^\"]*|${name}\\.[^\"]*|\\[${name}\\]|PICLOUD_${upper}_[^\"]*)\"")
    if [ -n "$found" ]; then
      echo "the kernel names '$name', which the plugin '$plugin' owns:"
      echo "$found"
      status=1
    fi
  done
done
[ "$status" = 0 ] && echo "no kernel or scripting code names or includes a service plugin"
exit $status
