# What the package tests ask of a started server (sourced, not run): sign
# the owner in, make an API key, an app, a script that reads and writes the
# app's key-value store, a route to it, and call the route twice.
#
#   package_scenario PORT WORKDIR
#
# The server must have been started with PICLOUD_OWNER_USERNAME=operator
# and PICLOUD_OWNER_PASSWORD="$PACKAGE_OWNER_PASSWORD". Prints what it does;
# returns non-zero (under set -e: exits) at the first answer that is wrong.

PACKAGE_OWNER_PASSWORD="tried on the installed binary"

package_scenario() {
  local port="$1" dir="$2" admin key answer
  admin="http://localhost:$port/api/v1/admin"
  curl -fsS -c "$dir/jar" -H 'Content-Type: application/json' \
    -d "{\"username\":\"operator\",\"password\":\"$PACKAGE_OWNER_PASSWORD\"}" "$admin/login" >/dev/null
  key=$(curl -fsS -b "$dir/jar" -H 'Content-Type: application/json' \
    -d '{"name":"package","scopes":["app:admin","app:write","app:read","script:write","script:read","logs:read"]}' \
    "$admin/keys" | python3 -c 'import sys, json; print(json.load(sys.stdin)["key"])')
  local h=(-H "Authorization: Bearer $key" -H 'Content-Type: application/json')
  curl -fsS "${h[@]}" -d '{"slug":"smoke","hostnames":["smoke.test"]}' "$admin/apps" >/dev/null
  python3 - "$admin/apps/smoke/scripts" "$key" <<'PY'
import json, sys, urllib.request
source = ('void handle(request@ req, response@ res) {\n'
          '  kv::Collection@ c = kv::collection("smoke");\n'
          '  json v = c.get("counter");\n'
          '  json n = {{"n", v.get_int("n") + 1}};\n'
          '  c.set("counter", n);\n'
          '  res.text("n=" + c.get("counter").get_int("n"));\n}')
req = urllib.request.Request(sys.argv[1], json.dumps({"name": "counter", "source": source}).encode(), method="POST",
                             headers={"Authorization": "Bearer " + sys.argv[2], "Content-Type": "application/json"})
urllib.request.urlopen(req).read()
PY
  curl -fsS "${h[@]}" -d '{"script":"counter","path":"/counter","methods":["GET"]}' "$admin/apps/smoke/routes" >/dev/null
  local expected
  for expected in n=1 n=2; do
    answer=$(curl -fsS -H 'Host: smoke.test' "http://127.0.0.1:$port/counter")
    echo "GET smoke.test/counter: $answer"
    [ "$answer" = "$expected" ] || { echo "expected $expected"; return 1; }
  done
}

# package_wait_ready URL [SECONDS [PID]]: until URL answers 200 (default
# 30 s), or the process PID has ended.
package_wait_ready() {
  local url="$1" limit="${2:-30}" pid="${3:-}" start=$SECONDS
  until curl -fs -o /dev/null "$url"; do
    [ $((SECONDS - start)) -lt "$limit" ] || { echo "no answer from $url in $limit s"; return 1; }
    [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || { echo "the server ended before answering $url"; return 1; }
    sleep 0.1
  done
}

package_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
