#!/usr/bin/env bash
# The systemd unit's RestrictAddressFamilies= must allow every socket family
# the daemon opens: a missing one (AF_PACKET for the L2TP slow path was)
# makes socket() fail under systemd only, and the unit restart-loops.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
unit=$repo/tools/vpnpt.service.in
allowed=$(sed -n 's/^RestrictAddressFamilies=//p' "$unit")
[ -n "$allowed" ] || { echo "unit_families: no RestrictAddressFamilies= in $unit" >&2; exit 1; }
used=$(grep -rohE --include='*.cpp' 'socket\((AF|PF)_[A-Z0-9]+' "$repo/loader" | sed 's/socket(//; s/^PF_/AF_/' | sort -u)
[ -n "$used" ] || { echo "unit_families: found no socket() call in loader/ (pattern out of date?)" >&2; exit 1; }
missing=0
for fam in $used; do
  if ! grep -qw -- "$fam" <<<"$allowed"; then
    echo "unit_families: the daemon opens $fam sockets but $unit does not allow them" >&2
    missing=1
  fi
done
[ "$missing" = 0 ] && echo "unit_families: $(echo $used) all allowed"
exit "$missing"
