#!/usr/bin/env bash
# Frames XDP could not deliver are seen, not lost in silence. vpnpt is made
# to use native XDP everywhere (--mode native) on a LAN whose switch-side
# veth peer has no GRO (LAB_LAN=veth-nogro): the kernel drops every frame
# the WAN redirects into lan0 (veth: no NAPI on the peer, ENXIO). A crafted
# PPTP call, ESP SA and L2TP tunnel run through it. Checks: their inbound
# packets do not arrive (the black hole is real); the metric
# vpnpt_undelivered_frames_total counts every inbound frame vpnpt counted
# as translated (all of them went into lan0); `vpnpt diagnose` names lan0
# and the reason. Then vpnpt's own choice (auto): the
# same sessions arrive and nothing more goes undelivered.
#
# Usage: netns-lab/tests/dataplane/undelivered.sh [VPNPT]    Exit: 0 pass, 1 fail.
set -euo pipefail

# shellcheck source=netns-lab/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lib/lib.sh"
export LAB_LAN=veth-nogro
lab_init "${1:-}"
# shellcheck source=netns-lab/lib/crafted-sessions.sh
. "$LAB_LIB/crafted-sessions.sh"
N=40
INTERVAL=0.05
d=$LAB_STATE/undelivered
mkdir -p "$d"
METRICS_PORT=9477

lab_site u 1 1
R=$(lab_ns u router)

# undelivered_to IFNAME: frames the metric counts as not delivered to IFNAME.
undelivered_to() {
	lab_nsenter "$R" curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
		awk -v to="to=\"$1\"" '/^vpnpt_undelivered_frames_total/ && index($0, to) { n += $NF } END { print n + 0 }'
}

# ---------------------------------------------------------------- forced XDP: the black hole
LAB_VPNPT_MODE=native lab_start_vpnpt u --metrics-address "127.0.0.1:$METRICS_PORT"
lab_status u | sed -n '/path/,+3p' | sed 's/^/    status| /'
sessions_start u c1 forced
sessions_wait_up u 3 >/dev/null
sessions_finish forced
read -r rx_pptp rx_esp rx_l2tp <<<"$SESS_RX"
lab_info "forced native XDP: the host received $rx_pptp/$N PPTP, $rx_esp/$N ESP, $rx_l2tp/$N L2TP echoes"
lab_check "forced XDP into a veth whose peer has no GRO: inbound frames vanish (the case to detect)" \
	"$(((rx_pptp + rx_esp + rx_l2tp) < N ? 1 : 0))" "received $rx_pptp $rx_esp $rx_l2tp"
lost=$(undelivered_to lan0)
lab_nsenter "$R" curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | grep '^vpnpt_undelivered' | sed 's/^/    metric| /' 
# Every inbound frame vpnpt counted as translated was redirected into lan0 and vanished.
fwd=$(lab_status_json u | lab_json "sum(c['translated_packets'] for c in d['counters']['inbound'].values())")
lab_assert_ge "vpnpt forwarded inbound frames into lan0" 20 "$fwd"
lab_check_eq "the metric counts every one of them as not delivered to lan0" "$fwd" "$lost"
diag=$(lab_router_exec u "$VPNPT" diagnose)
printf '%s\n' "$diag" | grep 'not delivered' | sed 's/^/    diagnose| /'
# A here-string, not a pipe: under pipefail, grep -q leaving early would fail the writer (SIGPIPE).
# The reason depends on the kernel: since 6.3 the redirect itself is refused (lan0 lacks
# NETDEV_XDP_ACT_NDO_XMIT), before that the veth's transmit drops the frames (ENXIO).
lab_check "diagnose names the device and the reason" \
	"$(grep -qE 'from wan0 were not delivered: lan0 (cannot take XDP frames|dropped them: a veth whose peer has neither GRO)' <<<"$diag" && echo 1 || echo 0)"
lab_detach_vpnpt u

# ---------------------------------------------------------------- vpnpt's own choice: delivered
lab_start_vpnpt u --metrics-address "127.0.0.1:$METRICS_PORT"
sessions_start u c1 auto
sessions_wait_up u 3 >/dev/null
sessions_finish auto
read -r rx_pptp rx_esp rx_l2tp <<<"$SESS_RX"
lab_check "vpnpt's own choice (TC into lan0): every echo arrives" \
	"$(((rx_pptp >= N && rx_esp >= N - 1 && rx_l2tp >= N) ? 1 : 0))" "received $rx_pptp $rx_esp $rx_l2tp of $N"
lab_check_eq "and nothing is counted undelivered" 0 "$(undelivered_to lan0)"
lab_detach_vpnpt u

((LAB_CHECK_FAILS == 0)) || exit 1
lab_log "== PASS: undelivered frames"
