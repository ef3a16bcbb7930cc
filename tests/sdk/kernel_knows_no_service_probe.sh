#!/usr/bin/env bash
# Shows that kernel_knows_no_service.sh fails when it should: a made-up
# source tree with two plugins, clean first, then with each kind of knowledge
# of the plugin added to the kernel, one at a time.
set -euo pipefail
check="$(dirname "$0")/kernel_knows_no_service.sh"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/kernel" "$root/scripting" "$root/plugins/probe" "$root/plugins/support"
cat >"$root/plugins/probe/probe_plugin.cpp" <<'CPP'
PICLOUD_PLUGIN(ProbePlugin, "probe", "1.0.0", "", "")
void declare(Api& api) { api.add_function({"probe_ns", "get", {}}); }
sdk::TriggerKind kind() { return collection_trigger_kind("probe_kind", "…", {"x"}); }
CPP
mkdir -p "$root/plugins/http"
echo 'PICLOUD_PLUGIN(HttpPlugin, "http", "1.0.0", "", "")' >"$root/plugins/http/http_plugin.cpp"
cat >"$root/kernel/clean.cpp" <<'CPP'
// The word probe in code and in comments ("probe") is not knowledge of the plugin.
namespace probe { int probe = 0; }
std::string text = "probes and probe_nothing";
// A plugin named like one of the kernel's own C++ namespaces.
http::Router router;
CPP
expect() {  # expect STATUS WHAT
  local got=0
  bash "$check" "$root" >"$root/out" 2>&1 || got=$?
  if [ "$got" != "$1" ]; then echo "probe failed: $2 (exit $got, expected $1)"; cat "$root/out"; exit 1; fi
  echo "ok: $2"
}
expect 0 "a clean tree passes"
for line in '#include "plugins/probe/probe_store.hpp"' '#include "../plugins/probe/x.hpp"' \
            'auto s = "probe";' 'auto s = "probe.read";' 'auto s = "probe_ns::get";' \
            'auto s = "[probe]";' 'auto s = "PICLOUD_PROBE_LIMIT";' 'auto k = "probe_kind";' \
            'auto section = "http";'; do
  echo "$line" >"$root/scripting/knows.cpp"
  expect 1 "refused: $line"
  rm "$root/scripting/knows.cpp"
done
expect 0 "clean again"
