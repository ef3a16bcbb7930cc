#!/usr/bin/env bash
# The Debian packages, installed for real on this machine and removed again:
#
#  1. cpack makes picloud and picloud-dev from this build tree (the binaries
#     the other tests ran, stripped; nothing is rebuilt) and the package is
#     checked to hold every built plugin and migration;
#  2. apt installs both: the picloud user, /var/lib/picloud (0700, its),
#     /etc/picloud/picloud.ini (a conffile, 0640 root:picloud), the unit
#     enabled; `systemd-analyze verify` passes the unit;
#  3. the installed binary is started as the picloud user with the installed
#     config, the way the unit starts it, under strace:
#     /readyz answers, the dashboard is served, a script route using kv
#     answers, its database and master key are the picloud user's alone, and
#     no system call it made is one the unit's SystemCallFilter refuses;
#  4. a reinstall keeps a changed config (it is a conffile);
#  5. apt purge removes everything: the files, the config, the data
#     directory, the unit's enablement. The picloud user stays, as Debian
#     keeps system users.
#
#   install_test.sh BUILD_DIR
#
# Needs root. Skips (77) when not root, when the build has no dashboard
# compiled in (PICLOUD_SKIP_DASHBOARD=1), and when this machine has PiCloud
# installed or its directories exist: it never touches an installation it
# did not make.
set -euo pipefail
BUILD_DIR="$(cd "$1" && pwd)"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/scenario.bash"
SKIP=77
MARK=/var/tmp/picloud-package-test.installed

[ "$(id -u)" -eq 0 ] || { echo "SKIP: installing a package needs root"; exit $SKIP; }
for tool in cpack dpkg-shlibdeps apt-get systemd-analyze setpriv strace curl python3; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing (./dev test installs it)"; exit 1; }
done
if ! grep -q picloud_dashboard_file_0 "$BUILD_DIR/generated/kernel/dashboard/dashboard_files.cpp"; then
  echo "SKIP: this build has no dashboard compiled in (PICLOUD_SKIP_DASHBOARD=1?); a package must hold it"
  exit $SKIP
fi

# One run at a time on this machine (ctest runs of several build trees).
exec 9>/var/lock/picloud-package-test.lock
flock -w 900 9 || { echo "error: another package test held the lock for 15 minutes"; exit 1; }

apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -qq "$@"; }
installed() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qv '^not-installed$'; }

if [ -e "$MARK" ]; then
  echo "== an earlier run of this test left its installation: purging it"
  apt_get purge picloud picloud-dev >/dev/null
  rm -f "$MARK"
fi
if installed picloud || installed picloud-dev || [ -e /var/lib/picloud ] || [ -e /etc/picloud ]; then
  echo "SKIP: PiCloud is installed on this machine (or /var/lib/picloud, /etc/picloud exist): not touching it"
  exit $SKIP
fi

work="$(mktemp -d /tmp/picloud-package-test.XXXXXX)"
chmod 0755 "$work"
server=""
cleanup() {
  local rc=$?
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    pkill -TERM -P "$server" 2>/dev/null || true
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  if [ $rc -ne 0 ] && [ -f "$work/server.log" ]; then echo "--- server log"; tail -n 40 "$work/server.log"; fi
  if [ -e "$MARK" ]; then apt_get purge picloud picloud-dev >/dev/null 2>&1 && rm -f "$MARK"; fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

fail() { echo "FAILED: $*"; exit 1; }
expect_stat() {  # expect_stat PATH "mode owner:group"
  local got
  got="$(stat -c '%a %U:%G' "$1")"
  [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
  echo "ok: $1 $got"
}

echo "== cpack: the packages from $BUILD_DIR"
start=$SECONDS
(cd "$BUILD_DIR" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack"; }
echo "made in $((SECONDS - start)) s: $(cd "$work/out" && ls ./*.deb | tr '\n' ' ')"
deb=$(ls "$work"/out/picloud_*.deb)
dev=$(ls "$work"/out/picloud-dev_*_all.deb)

echo "== what the package holds"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's#^\./#/#' >"$work/files"
for so in "$BUILD_DIR"/plugins/*.so "$BUILD_DIR"/plugins/*/tls.so; do
  rel="${so#"$BUILD_DIR"/plugins/}"
  grep -qx "/usr/lib/picloud/plugins/$rel" "$work/files" || fail "the package lacks the plugin $rel"
done
grep -qx /usr/lib/picloud/picloud_postgres.so "$work/files" || fail "the package lacks picloud_postgres.so"
for sql in $(cd "$BUILD_DIR/migrations/" && find . -name '*.sql' | sed 's#^\./##'); do
  grep -qx "/usr/share/picloud/migrations/$sql" "$work/files" || fail "the package lacks the migration $sql"
done
echo "ok: $(grep -c '\.so$' "$work/files") shared objects, $(grep -c '\.sql$' "$work/files") migrations"
[ "$(dpkg-deb -I "$deb" conffiles)" = /etc/picloud/picloud.ini ] || fail "conffiles: $(dpkg-deb -I "$deb" conffiles)"
depends="$(dpkg-deb -f "$deb" Depends)"
for d in adduser libc6 libstdc++6 libsqlite3-0 libangelscript2 libpq5; do
  grep -q "$d" <<<"$depends" || fail "Depends lacks $d: $depends"
done
echo "ok: Depends: $depends"

echo "== install"
touch "$MARK"
apt_get install --no-install-recommends "$deb" "$dev" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "apt-get install"; }
version="$(dpkg-query -W -f='${Version}' picloud)"
echo "installed picloud $version"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd picloud) || fail "no picloud user"
[ "$uid" -lt 1000 ] && [ "$home" = /var/lib/picloud ] && [ "$shell" = /usr/sbin/nologin ] ||
  fail "picloud user: uid $uid, home $home, shell $shell"
echo "ok: picloud is a system user (uid $uid), home $home, shell $shell"
expect_stat /var/lib/picloud "700 picloud:picloud"
expect_stat /etc/picloud/picloud.ini "640 root:picloud"
grep -qx 'data_dir = /var/lib/picloud' /etc/picloud/picloud.ini || fail "the installed config's data_dir"
grep -qx 'host = 127.0.0.1' /etc/picloud/picloud.ini && grep -qx 'port = 8080' /etc/picloud/picloud.ini ||
  fail "the installed config does not listen on 127.0.0.1:8080"
[ -L /etc/systemd/system/multi-user.target.wants/picloud.service ] || fail "the unit was not enabled"
echo "ok: the unit is enabled"
test -f /usr/include/picloud/picloud.h && test -f /usr/lib/cmake/PiCloudSDK/PiCloudSDKConfig.cmake ||
  fail "picloud-dev's SDK is not installed"
/usr/bin/picloud --version | grep -q "${version%%[+-]*}" || fail "picloud --version: $(/usr/bin/picloud --version)"

echo "== systemd-analyze verify"
systemd-analyze verify /lib/systemd/system/picloud.service >"$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "systemd-analyze verify"; }
[ ! -s "$work/verify.log" ] || { cat "$work/verify.log"; fail "systemd-analyze verify printed warnings"; }
echo "ok: no warnings"

echo "== plugins the installed binary finds"
setpriv --reuid=picloud --regid=picloud --init-groups -- /usr/bin/picloud --config /etc/picloud/picloud.ini plugins >"$work/plugins.txt"
for so in "$BUILD_DIR"/plugins/*.so; do
  name="$(basename "$so" .so)"
  grep -Eq "^$name +[0-9.]+ +[0-9.]+ +yes" "$work/plugins.txt" || { cat "$work/plugins.txt"; fail "plugin $name not loaded"; }
done
echo "ok: $(grep -Ec ' yes' "$work/plugins.txt") plugins enabled"

echo "== start it as the unit does: the picloud user, the installed config, under strace"
port=$(package_free_port)
mkdir -p "$work/trace" && chown picloud: "$work/trace"
(cd /var/lib/picloud && exec setpriv --reuid=picloud --regid=picloud --init-groups -- \
   env -i PATH=/usr/bin:/bin LANG=C.UTF-8 PICLOUD_SERVER_PORT="$port" PICLOUD_OWNER_USERNAME=operator \
   PICLOUD_OWNER_PASSWORD="$PACKAGE_OWNER_PASSWORD" \
   strace -f -c -o "$work/trace/summary" /usr/bin/picloud serve --config /etc/picloud/picloud.ini) \
  >"$work/server.log" 2>&1 &
server=$!
package_wait_ready "http://127.0.0.1:$port/readyz" 60 "$server"
readyz="$(curl -fsS "http://127.0.0.1:$port/readyz")"
echo "GET /readyz: $readyz"
grep -q '"ready":true' <<<"$readyz" || fail "/readyz: $readyz"
curl -fsS "http://localhost:$port/admin/" >"$work/admin.html"
grep -qi '<script' "$work/admin.html" && ! grep -q 'not part of this build' "$work/admin.html" ||
  fail "/admin/ does not serve the dashboard"
echo "ok: /admin/ serves the dashboard"
package_scenario "$port" "$work"
expect_stat /var/lib/picloud/picloud.db "600 picloud:picloud"
expect_stat /var/lib/picloud/keyring.keys "600 picloud:picloud"

echo "== stop (SIGTERM)"
pid="$(pgrep -P "$server" -x picloud || true)"
[ -n "$pid" ] || fail "the picloud process is not found"
kill -TERM "$pid"
wait "$server" || fail "the server exited with $?"
server=""
grep -q 'msg=stopped' "$work/server.log" || { cat "$work/server.log"; fail "no clean stop"; }
echo "ok: stopped cleanly"
python3 "$HERE/syscalls.py" "$work/trace/summary" /lib/systemd/system/picloud.service

echo "== reinstall: a changed config is kept"
echo "; changed by the package test" >>/etc/picloud/picloud.ini
apt_get install --reinstall --no-install-recommends "$deb" >"$work/reinstall.log" 2>&1 || { cat "$work/reinstall.log"; fail "reinstall"; }
grep -q 'changed by the package test' /etc/picloud/picloud.ini || fail "the reinstall replaced the changed config"
expect_stat /etc/picloud/picloud.ini "640 root:picloud"

echo "== purge"
apt_get purge picloud picloud-dev >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "apt-get purge"; }
rm -f "$MARK"
! installed picloud && ! installed picloud-dev || fail "dpkg still knows the packages"
for path in /usr/bin/picloud /usr/lib/picloud /usr/share/picloud /usr/share/doc/picloud /etc/picloud /var/lib/picloud \
            /lib/systemd/system/picloud.service /etc/systemd/system/multi-user.target.wants/picloud.service \
            /usr/include/picloud /usr/lib/cmake/PiCloudSDK; do
  [ ! -e "$path" ] && [ ! -L "$path" ] || fail "$path is left after purge"
done
[ -z "$(dpkg-statoverride --list /etc/picloud/picloud.ini)" ] || fail "the config's stat override is left"
getent passwd picloud >/dev/null || fail "the picloud user was removed (Debian keeps system users)"
echo "ok: nothing left but the picloud user"
echo "PASS"
