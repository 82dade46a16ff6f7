#!/usr/bin/env bash
# Suite hygiene: `snapshot` records what exists before the lab tests run,
# `check` (run after all of them, as a ctest fixture cleanup) fails if any
# network namespace, vpnpt pin directory, root-namespace XDP attachment,
# root-namespace vpnpt nftables table or vpnpt process appeared and was not removed.
set -euo pipefail
state=${VPNPT_HYGIENE_STATE:-/tmp/vpnpt-hygiene.state}

observe() {
  echo "# netns"; ip netns list 2>/dev/null | awk '{print $1}' | sort
  echo "# pins"; { ls -1 /sys/fs/bpf/vpnpt 2>/dev/null || true; } | sort
  if [ -d /sys/fs/bpf/vpnpt ]; then echo "pin root /sys/fs/bpf/vpnpt"; fi
  echo "# xdp"; { ip -o link show 2>/dev/null | grep -E 'prog/xdp|xdpgeneric|xdpdrv' || true; } | awk -F': ' '{print $2}' | sort
  echo "# nft"; { nft list tables 2>/dev/null | grep ' vpnpt_' || true; } | sort  # the IKE queue's tables
  echo "# procs"; { pgrep -x vpnpt 2>/dev/null || true; } | sort
}

case "${1:-}" in
  snapshot) observe > "$state"; echo "hygiene: snapshot taken" ;;
  check)
    [ -f "$state" ] || { echo "hygiene: no snapshot at $state" >&2; exit 1; }
    now=$(mktemp)
    observe > "$now"
    # Lines present now but not before = left behind by the tests.
    left=$(comm -13 <(sort "$state") <(sort "$now") | grep -v '^#' || true)
    rm -f "$now" "$state"
    if [ -n "$left" ]; then
      echo "hygiene: tests left these behind:" >&2
      echo "$left" >&2
      exit 1
    fi
    echo "hygiene: nothing left behind"
    ;;
  *) echo "usage: $0 snapshot|check" >&2; exit 2 ;;
esac
