#!/usr/bin/env bash
# Builds @picloud/client and runs its tests: unit tests against small local
# servers, and integration tests against the picloud binary (PICLOUD_BINARY,
# default ../../build/picloud; skipped with the reason when it is not built,
# the realtime ones while realtime.so is missing from the plugin directory).
# Needs only node (18 or later) and npm. Exits with the tests' status.
set -euo pipefail
cd "$(dirname "$0")"

command -v node >/dev/null && command -v npm >/dev/null || {
  echo "test.sh: node and npm are needed (Debian: apt-get install nodejs npm)" >&2
  exit 2
}
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "test.sh: node $(node --version) is too old: 18 or later is needed" >&2
  exit 2
fi

# npm ci when node_modules is missing or was installed from another lockfile.
stamp=node_modules/.picloud-lockfile
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  npm ci --no-audit --no-fund
  echo "$lock_hash" > "$stamp"
fi

npm run --silent build
npm test
