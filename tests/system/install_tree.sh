#!/usr/bin/env bash
# cmake --install into a staging root (DESTDIR): every file of
# installed-files.txt lands where the package puts it, the unit runs the
# installed binary with the installed config, a second install keeps an
# edited config, and another prefix moves the unit's paths with it.
# Usage: install_tree.sh BUILD_DIR (build the default target first).
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/vpnpt-install-tree.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

install_to() { # install_to ROOT PREFIX
  DESTDIR=$1 cmake --install "$build" --prefix "$2" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; echo "FAIL: cmake --install $build --prefix $2 failed (build the default target first)" >&2; exit 1; }
}

root=$tmp/usr-root
install_to "$root" /usr
while read -r f; do
  [ -f "$root/$f" ] || bad "/$f not installed"
done < <(grep -v '^#' "$here/installed-files.txt")
[ -x "$root/usr/sbin/vpnpt" ] || bad "/usr/sbin/vpnpt is not executable"
unit=$root/usr/lib/systemd/system/vpnpt.service
grep -qx 'ExecStart=/usr/sbin/vpnpt attach --config /etc/vpnpt/vpnpt.conf' "$unit" ||
  bad "the unit's ExecStart is not the installed binary with /etc/vpnpt/vpnpt.conf: $(grep ExecStart= "$unit")"
grep -q '@VPNPT_[A-Z_]*@' "$unit" && bad "the unit has an unreplaced placeholder: $(grep -n '@VPNPT_' "$unit")"
cmp -s "$root/etc/vpnpt/vpnpt.conf" "$here/../../tools/vpnpt.conf.example" || bad "/etc/vpnpt/vpnpt.conf is not the example"

echo "wan = wan9  # edited" >>"$root/etc/vpnpt/vpnpt.conf"
install_to "$root" /usr
grep -q 'wan9  # edited' "$root/etc/vpnpt/vpnpt.conf" || bad "a second install overwrote the edited /etc/vpnpt/vpnpt.conf"

opt=$tmp/opt-root
install_to "$opt" /opt/vpnpt
grep -qx 'ExecStart=/opt/vpnpt/sbin/vpnpt attach --config /opt/vpnpt/etc/vpnpt/vpnpt.conf' \
  "$opt/opt/vpnpt/lib/systemd/system/vpnpt.service" 2>/dev/null ||
  bad "with --prefix /opt/vpnpt the unit does not run /opt/vpnpt/sbin/vpnpt with /opt/vpnpt/etc/vpnpt/vpnpt.conf"
[ -f "$opt/opt/vpnpt/etc/vpnpt/vpnpt.conf" ] || bad "with --prefix /opt/vpnpt the config is not in /opt/vpnpt/etc/vpnpt"

[ "$fails" = 0 ] || exit 1
echo "install_tree: $(grep -vc '^#' "$here/installed-files.txt") files in place, unit paths follow the prefix, edited config kept"
