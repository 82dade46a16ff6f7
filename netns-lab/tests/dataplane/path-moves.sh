#!/usr/bin/env bash
# Data-path moves under link changes: vpnpt serves an interface with native
# XDP only while every device it forwards to can transmit XDP frames, and
# the daemon moves it to TC (and back) when that changes, within a second.
# The LAN is a veth whose switch-side peer has no GRO (LAB_LAN=veth-nogro):
# the WAN starts on TC; GRO on that peer moves it to XDP, GRO off (or the
# peer going down) moves it back. Each move is timed from the change: a move
# to TC (away from frames the kernel would drop) within a second, a move to
# XDP (only faster) within 5 s, as its first one loads the XDP program.
# Then the same moves under traffic: losses only in the gap before a move
# to TC, each counted undelivered.
#
# Usage: netns-lab/tests/dataplane/path-moves.sh [VPNPT]    Exit: 0 pass, 1 fail.
set -euo pipefail

# shellcheck source=netns-lab/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lib/lib.sh"
export LAB_LAN=veth-nogro
lab_init "${1:-}"
command -v ethtool >/dev/null 2>&1 || lab_skip "missing tool: ethtool"

lab_site s 1 1
SW=$(lab_ns s lan)
lab_start_vpnpt s

# path IFNAME: the mode status reports for the interface.
path() { lab_status_json s | lab_json "[i['mode'] for i in d['interfaces'] if i['name'] == '$1'][0]"; }
# wait_path IFNAME MODE: waits up to 8 s; prints the milliseconds it took, or "timeout".
wait_path() {
	local t0 now
	t0=$(date +%s%N)
	for ((i = 0; i < 160; i++)); do
		if [[ "$(path "$1")" == "$2" ]]; then
			now=$(date +%s%N)
			echo $(((now - t0) / 1000000))
			return 0
		fi
		sleep 0.05
	done
	echo timeout
}
check_move() { # DESC IFNAME MODE MAX_MS
	local ms
	ms=$(wait_path "$2" "$3")
	if [[ "$ms" == timeout ]]; then
		lab_check "$1" 0 "$2 still on $(path "$2") 8 s later"
	else
		lab_check "$1" "$((ms <= $4 ? 1 : 0))" "$2 on $3 after $ms ms (at most $4)"
	fi
}

lab_check_eq "lan0's peer without GRO: the WAN cannot redirect into lan0, so wan0 is on TC" tc "$(path wan0)"
lab_check_eq "lan0 redirects into wan0, whose peer has GRO: native XDP" native "$(path lan0)"
lab_status s | sed 's/^/    status| /'

lab_nsenter "$SW" ethtool -K rtr gro on >/dev/null
check_move "GRO on lan0's peer: wan0 moves to XDP" wan0 native 5000
lab_nsenter "$SW" ethtool -K rtr gro off >/dev/null
check_move "GRO off again: wan0 moves back to TC within a second" wan0 tc 1000
lab_nsenter "$SW" ethtool -K rtr gro on >/dev/null
check_move "GRO on again: XDP" wan0 native 5000
ip -n "$SW" link set rtr down
check_move "lan0's peer down (NDO_XMIT stays set, but the frames would be lost): wan0 on TC within a second" wan0 tc 1000
ip -n "$SW" link set rtr up
check_move "peer up again: XDP" wan0 native 5000
# Partial checksums (docs/dataplane.md "Checksums"): XDP cannot tell them from finished ones.
lab_nsenter "$SW" ethtool -K rtr tx on >/dev/null
check_move "TX checksum offload on at lan0's peer (partial checksums): lan0 moves to TC within a second" lan0 tc 1000
lab_status s | grep -A1 '^ *lan0' | sed 's/^/    status| /' || true
lab_nsenter "$SW" ethtool -K rtr tx off >/dev/null
check_move "offload off again: lan0 back to XDP" lan0 native 5000

moves=$(grep -c '(moved from ' "${LAB_VPNPT_LOG[s]}" || true)
lab_check_eq "the daemon logged each move in one line" 7 "$moves"

# ---------------------------------------------------------------- under traffic
# A PPTP call, an ESP SA and an L2TP tunnel (crafted-sessions.sh) run while
# wan0 moves to XDP and back twice. A move to XDP loses nothing (the new
# path is in place before the old one goes); after GRO goes off, frames XDP
# still redirects into lan0 until the daemon moves wan0 are lost, and every
# one of them is counted undelivered (diagnose). Nothing else is lost.
# shellcheck source=netns-lab/lib/crafted-sessions.sh
. "$LAB_LIB/crafted-sessions.sh"
N=160
INTERVAL=0.05
d=$LAB_STATE/moves
mkdir -p "$d"
undelivered() { # frames diagnose reports as not delivered, summed
	lab_router_exec s "$VPNPT" diagnose | awk '/^now: [0-9]+ frames vpnpt forwarded/ { n += $2 } END { print n + 0 }'
}
u0=$(undelivered)
sessions_start s c1 move
sessions_wait_up s 3 >/dev/null
for flip in 1 2; do
	lab_nsenter "$SW" ethtool -K rtr gro on >/dev/null
	check_move "under traffic ($flip): GRO on, wan0 to XDP" wan0 native 5000
	sleep 1
	lab_nsenter "$SW" ethtool -K rtr gro off >/dev/null
	check_move "under traffic ($flip): GRO off, wan0 back to TC within a second" wan0 tc 1000
	sleep 1
done
sessions_finish move
read -r rx_pptp rx_esp rx_l2tp <<<"$SESS_RX"
lost=$((3 * N - rx_pptp - rx_esp - rx_l2tp))
undel=$(($(undelivered) - u0))
lab_info "under traffic: received $rx_pptp $rx_esp $rx_l2tp of $N each; $lost missing, $undel counted undelivered"
# ESP's last echo may still be in flight when its host stops listening (as in netns-lab/tests/dataplane/firewall.sh).
lab_check "every missing echo is a frame counted undelivered during a move (none lost silently)" \
	"$((lost <= undel + 1 ? 1 : 0))" "$lost missing, $undel undelivered"
lab_check "at most a second of traffic lost per move to TC (2 moves, 3 sessions at 20 packets/s)" \
	"$((undel <= 2 * 3 * 25 ? 1 : 0))" "$undel undelivered"
grep '(moved from ' "${LAB_VPNPT_LOG[s]}" | sed 's/^/    log| /'
((LAB_CHECK_FAILS == 0)) || lab_fail "$LAB_CHECK_FAILS check(s) failed"
lab_pass "data path moves with its devices"
