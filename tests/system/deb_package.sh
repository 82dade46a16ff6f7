#!/usr/bin/env bash
# The Debian package (cmake/Package.cmake): cpack builds it into a temporary
# directory, it lists installed-files.txt with the config as a conffile and
# no dependency on iptables, `dpkg -i` installs it on this machine (the
# binary runs, the man pages render, the unit verifies, the completion
# loads), `dpkg -r` detaches an attachment (prerm) and removes all but the
# config, `dpkg -P` the config too.
# The package under test carries the version suffix +ctest; it is purged on
# any exit. A vpnpt package of another version, or a /usr/sbin/vpnpt no
# package owns, is this machine's own: the test refuses (fails) rather than
# replace it.
# Usage: deb_package.sh BUILD_DIR PROJECT_VERSION (build the default target first).
set -euo pipefail
build=$1
version=$2+ctest
here=$(cd "$(dirname "$0")" && pwd)
files=$(grep -v '^#' "$here/installed-files.txt")
fails=0
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
installed_version() { dpkg-query -W -f='${Version} ${db:Status-Status}' vpnpt 2>/dev/null | grep -v ' not-installed$' | cut -d' ' -f1 || true; }

found=$(installed_version)
if [ -n "$found" ] && [ "$found" != "$version" ]; then
  echo "FAIL: vpnpt $found is installed on this machine; the test installs and removes its own vpnpt package, so it refuses to replace that one (dpkg -P vpnpt first, if it may go)" >&2
  exit 1
fi
if [ -z "$found" ] && [ -e /usr/sbin/vpnpt ]; then
  echo "FAIL: /usr/sbin/vpnpt exists and no package owns it; the test's package would overwrite it (remove it first, if it may go)" >&2
  exit 1
fi

tmp=$(mktemp -d /tmp/vpnpt-deb.XXXXXX)
cleanup() {
  [ "$(installed_version)" = "$version" ] && dpkg -P vpnpt >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
cleanup  # a test package an interrupted run left behind
mkdir -p "$tmp"

cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp" -D CPACK_DEBIAN_PACKAGE_VERSION="$version" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log" >&2; echo "FAIL: cpack could not build the package (log above)" >&2; exit 1; }
deb=$(ls "$tmp"/vpnpt_*.deb)

listing=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in $files; do
  grep -qx "./$f" <<<"$listing" || bad "dpkg-deb -c: the package does not contain /$f"
done
[ "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)" = "vpnpt $version" ] || bad "the package is not vpnpt $version"
[ -n "$(dpkg-deb -f "$deb" Maintainer)" ] || bad "the package has no Maintainer"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libbpf1 libxdp1 libnetfilter-queue1; do
  grep -qw "$lib" <<<"$depends" || bad "Depends lacks $lib: $depends"
done
grep -qw iptables <<<"$depends" && bad "Depends names iptables: $depends"
[ "$(dpkg-deb -I "$deb" conffiles 2>/dev/null)" = /etc/vpnpt/vpnpt.conf ] || bad "/etc/vpnpt/vpnpt.conf is not the package's conffile"

DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; echo "FAIL: dpkg -i failed (log above)" >&2; exit 1; }
/usr/sbin/vpnpt --version | grep -q '^vpnpt ' || bad "/usr/sbin/vpnpt --version does not print 'vpnpt <version>'"
for page in /usr/share/man/man8/vpnpt.8 /usr/share/man/man5/vpnpt.conf.5; do
  out=$(MANWIDTH=80 man -l "$page" 2>&1) && [ -n "$out" ] || bad "man -l $page does not render: $out"
done
verify=$(systemd-analyze verify /usr/lib/systemd/system/vpnpt.service 2>&1) || bad "systemd-analyze verify vpnpt.service: $verify"
bash -c 'source /usr/share/bash-completion/completions/vpnpt && complete -p vpnpt' >/dev/null 2>&1 ||
  bad "the installed bash completion does not register vpnpt"

for s in postinst prerm postrm; do
  dpkg-deb -I "$deb" "$s" >/dev/null 2>&1 || bad "the package has no $s"
done

# Removal takes vpnpt off the interfaces (tools/debian/prerm): an attachment in
# a namespace of the test's own, its daemon stopped as `systemctl stop` leaves
# it (data plane attached), is gone after `dpkg -r` run in that namespace.
ns=vpnpt-deb-$$ daemon=''
in_ns() { nsenter --net="/run/netns/$ns" "$@"; }
cleanup_ns() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  if [ -e "/run/netns/$ns" ]; then
    in_ns "$build/vpnpt" detach wan0 >/dev/null 2>&1 || true
    ip netns del "$ns"
  fi
  return 0
}
trap 'cleanup_ns; cleanup' EXIT
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
ip netns add "$ns"
ip -n "$ns" link add wan0 type veth peer name wan0p
ip -n "$ns" link add lan0 type veth peer name lan0p
ip -n "$ns" addr add 198.51.100.2/24 dev wan0
ip -n "$ns" addr add 192.168.77.1/24 dev lan0
for l in wan0 wan0p lan0 lan0p; do ip -n "$ns" link set "$l" up; done
in_ns /usr/sbin/vpnpt attach wan0 --lan lan0 --no-metrics >"$tmp/attach.log" 2>&1 &
daemon=$!
for _ in $(seq 150); do
  in_ns /usr/sbin/vpnpt status wan0 >/dev/null 2>&1 && break
  sleep 0.2
done
in_ns /usr/sbin/vpnpt status wan0 >/dev/null 2>&1 || { cat "$tmp/attach.log" >&2; bad "the installed vpnpt did not attach in $ns"; }
pins=$(in_ns /usr/sbin/vpnpt status wan0 --json 2>/dev/null | sed -n 's/.*"pin_dir": "\(.*\)".*/\1/p')
kill -TERM "$daemon" && wait "$daemon" || true
daemon=''
[ -n "$pins" ] && [ -d "$pins" ] || bad "no pin directory for the attachment in $ns ($pins)"

in_ns dpkg -r vpnpt >"$tmp/remove.log" 2>&1 || { cat "$tmp/remove.log" >&2; bad "dpkg -r failed"; }
[ -n "$pins" ] && [ -e "$pins" ] && bad "dpkg -r left the attachment's pins ($pins): prerm did not detach"
for l in wan0 lan0; do
  [ -n "$(ip -n "$ns" -d link show "$l" | grep -o 'prog/xdp.*' || true)" ] && bad "dpkg -r left an XDP program on $l"
  [ -n "$(tc -n "$ns" filter show dev "$l" ingress 2>/dev/null)" ] && bad "dpkg -r left a TC filter on $l"
done
[ "$(dpkg-query -W -f='${db:Status-Status}' vpnpt 2>/dev/null)" = config-files ] || bad "after dpkg -r, vpnpt is not left as config-files"
for f in $files; do
  if [ "$f" = etc/vpnpt/vpnpt.conf ]; then
    [ -f "/$f" ] || bad "dpkg -r removed the conffile /$f (only a purge should)"
  else
    [ -e "/$f" ] && bad "dpkg -r left /$f"
  fi
done
dpkg -P vpnpt >/dev/null
[ -z "$(installed_version)" ] || bad "after dpkg -P, dpkg still knows vpnpt"
for f in $files; do
  [ -e "/$f" ] && bad "dpkg -P left /$f"
done
[ -e /etc/vpnpt ] && bad "dpkg -P left /etc/vpnpt"

[ "$fails" = 0 ] || exit 1
echo "deb_package: $(basename "$deb") built, installed, runs, removed and purged cleanly"
