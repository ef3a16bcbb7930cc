#!/usr/bin/env bash
# The dashboard's end-to-end tests as the build runs them (ctest
# "dashboard.e2e"): installs the dashboard's npm packages when they are
# missing or older than the lockfile, checks for Chromium, then runs every
# test in e2e/ one after the other. Exits non-zero on any failure.
#
#   PICLOUD_BINARY              the picloud under test (it must serve /admin)
#   PICLOUD_PLUGIN_DIR          its plugins (default: plugins/ beside it)
#   PICLOUD_EXAMPLE_PLUGIN_DIR  the directory holding the example plugin hello.so
#   PICLOUD_CHROMIUM            the browser (default /usr/bin/chromium)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi

chromium="${PICLOUD_CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$chromium" ]]; then
  echo "dashboard e2e: no Chromium at $chromium: install Debian's chromium package (apt-get install chromium) or set PICLOUD_CHROMIUM" >&2
  exit 1
fi
export PICLOUD_CHROMIUM="$chromium"

exec node --test --test-concurrency=1 e2e/
