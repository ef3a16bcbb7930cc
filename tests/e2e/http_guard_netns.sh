#!/usr/bin/env bash
# Runs the http plugin's end-to-end guard tests (http_guard_tests) inside a
# network namespace of their own, so that nothing they send can leave the
# machine, whatever the guard does: the namespace has only a loopback
# interface, carrying the private, link-local and other addresses the tests
# aim at (a listener of the test answers on them), and a test /etc/hosts
# bind-mounted in a mount namespace of its own.
#
#   http_guard_netns.sh <http_guard_tests binary> [gtest flags...]
set -euo pipefail
binary=$1
shift

if [[ -z "${PICLOUD_IN_GUARD_NETNS:-}" ]]; then
  command -v unshare >/dev/null || { echo "unshare (util-linux) is needed" >&2; exit 1; }
  command -v ip >/dev/null || { echo "ip (iproute2) is needed" >&2; exit 1; }
  exec env PICLOUD_IN_GUARD_NETNS=1 unshare --net --mount -- bash "$0" "$binary" "$@"
fi

# Inside: lo up, with the addresses of the tests' table on it.
ip link set lo up
for address in 10.0.0.1 172.16.0.1 192.168.0.1 100.64.0.1 169.254.169.254 192.0.0.1 198.18.0.1 11.0.0.1 12.0.0.1; do
  ip address add "$address/32" dev lo
done
for address in fd00::1 fc00::1; do
  ip -6 address add "$address/128" dev lo nodad
done

hosts=$(mktemp)
resolv=$(mktemp)
trap 'rm -f "$hosts" "$resolv"' EXIT
cat >"$hosts" <<'HOSTS'
127.0.0.1 localhost
::1 localhost ip6-localhost
11.0.0.1 public.test
10.0.0.1 internal.test
169.254.169.254 metadata.test
fd00::1 ula.test
11.0.0.1 mixed.test
10.0.0.1 mixed.test
12.0.0.1 self.test
HOSTS
chmod 644 "$hosts"
mount --bind "$hosts" /etc/hosts
# Names not in the hosts file go to a name server on the namespace's
# loopback, where the tests may run one that never answers.
printf 'nameserver 127.0.0.1\noptions timeout:5 attempts:1\n' >"$resolv"
chmod 644 "$resolv"
mount --bind "$resolv" /etc/resolv.conf

exec "$binary" "$@"
