#!/usr/bin/env bash
# Builds the Debian package, checks its systemd unit, installs it with dpkg, and starts the
# installed binary with the installed configuration as the service's user, in the state
# directory systemd would give it; then purges it. Needs root and a Debian system (CI runs it;
# docs/operations.md). Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "package: $*" >&2; exit 1; }

command -v cargo-deb >/dev/null || cargo install cargo-deb --locked --version 3.8.0
cargo deb --locked -p parkstream-server
deb=$(ls -t target/debian/parkstream_*.deb | head -n 1)
echo "package: built $deb"

contents=$(dpkg-deb --contents "$deb")
for path in ./usr/bin/parkstream ./etc/parkstream/parkstream.toml \
            ./usr/share/doc/parkstream/operations.md; do
  grep -q " $path\$" <<<"$contents" || fail "$path is not in the package"
done
unit=$(grep -oE '\./(usr/)?lib/systemd/system/parkstream\.service$' <<<"$contents") ||
  fail "the unit is not in the package"
unit=${unit#.}

# A leftover of an interrupted run goes first, so the install below is a fresh one.
dpkg --purge parkstream >/dev/null 2>&1 || true
dpkg -i "$deb"
trap 'dpkg --purge parkstream >/dev/null || true' EXIT

dpkg-query -W -f='${Conffiles}\n' parkstream | grep -q /etc/parkstream/parkstream.toml ||
  fail "/etc/parkstream/parkstream.toml is not a conffile"
getent passwd parkstream >/dev/null || fail "the parkstream user was not created"
[ "$(stat -c '%U:%G %a' /etc/parkstream/parkstream.toml)" = "root:parkstream 640" ] ||
  fail "the configuration is not root:parkstream 640"
systemd-analyze verify "$unit"
for setting in NoNewPrivileges=yes ProtectSystem=strict StateDirectory=parkstream User=parkstream; do
  grep -qx "$setting" "$unit" || fail "the unit lacks $setting"
done

# The installed binary, the installed configuration, the service's user: as systemd starts
# it (ExecStart), but on a free port, in the state directory StateDirectory= would create.
/usr/bin/parkstream config check --config /etc/parkstream/parkstream.toml >/dev/null
install -d -o parkstream -g parkstream -m 0700 /var/lib/parkstream
log=$(mktemp)
(cd /var/lib/parkstream && exec runuser -u parkstream -- /usr/bin/parkstream serve \
  --config /etc/parkstream/parkstream.toml --bind 127.0.0.1:0 >"$log.out" 2>"$log") &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true; dpkg --purge parkstream >/dev/null || true; rm -f "$log" "$log.out"' EXIT
addr=
for _ in $(seq 100); do
  addr=$(grep -o '"message":"parkstream listening","addr":"[^"]*"' "$log" | grep -oE '[0-9.]+:[0-9]+' || true)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { cat "$log" >&2; fail "the installed server did not start"; }
curl -sf "http://$addr/readyz" >/dev/null || fail "/readyz did not answer 200"
grep -q "?token=" "$log.out" || fail "the first start printed no sign-in URL"
[ "$(stat -c '%U %a' /var/lib/parkstream/parkstream.db)" = "parkstream 600" ] ||
  fail "the database is not the service user's alone"
echo "package: installed, verified and started from $deb on $addr"
