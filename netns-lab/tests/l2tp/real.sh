#!/usr/bin/env bash
# Real L2TP software through the lab router: one xl2tpd LNS in server s1,
# N xl2tpd LACs (one per client namespace, all with local UDP port 1701)
# behind the site's NAT router, with lcp_standin.py in place of pppd on both
# ends (this kernel has no PPP and no L2TP modules: xl2tpd runs with
# `force userspace = yes` and the stand-in speaks LCP on its pty). Reports
# per client whether the tunnel and the session came up, the tunnel IDs
# and how many LCP echoes flowed.
#
# Usage: netns-lab/tests/l2tp/real.sh [MODE] [VPNPT]
#   MODE (or $ROUTER_MODE, default masq):
#     masq   nftables masquerade only (the lab default)
#     vpnpt  masquerade + vpnpt attached on the router (lab_start_vpnpt)
#   VPNPT: vpnpt binary (only used in mode vpnpt; default $VPNPT, else
#          <repo>/build/vpnpt)
# Env: NCLIENTS=3, WAIT=30 (max seconds to wait for the echoes),
#      MIN_REPLIES=3 (LCP Echo-Replies a client needs to count as working),
#      ECHO_INTERVAL=1 (stand-in echo interval, s),
#      LNS_PORT=1701 (UDP port the LACs send to; the LNS listens there),
#      LNS_REPLY_PORT= (if set and != LNS_PORT: the LNS listens on this port
#        and a stateless nftables rewrite in the server namespace turns
#        incoming dport LNS_PORT into it, so the LNS answers *from*
#        LNS_REPLY_PORT, as RFC 2661 allows; xl2tpd cannot do that by itself),
#      LAC_PORT=1701 (the LACs' local port, xl2tpd's global `port`),
#      RAND_SOURCE= (xl2tpd `rand source` of every xl2tpd: dev (its default,
#        /dev/urandom) or sys (rand() seeded with time(): LACs started in the
#        same second pick the same tunnel ID)),
#      REPLY_PORT_DNAT=1 (experiment, needs LNS_REPLY_PORT and NCLIENTS=1: the
#        router forwards the LNS's answers from LNS_REPLY_PORT to c1),
#      CAPTURE=1 (tcpdump on the router's lan0 and wan0; 0 = off),
#      LAB_KEEP_LOGS=1 keeps the state directory (logs, configs, pcaps),
#      LAB_MUTE_CLIENTS=0 (default here: the clients' kernels answer like
#      real hosts; 1 mutes their ICMP errors and RSTs as the other lab tests).
# Exit: 0 every client got >= MIN_REPLIES LCP Echo-Replies, 1 otherwise (or
#       failure), 77 skipped (xl2tpd/tcpdump/kernel feature missing).
set -euo pipefail

L2TP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=netns-lab/lib/lib.sh
. "$L2TP_DIR/../../lib/lib.sh"

MODE=${ROUTER_MODE:-masq}
case "${1:-}" in
masq | vpnpt)
	MODE=$1
	shift
	;;
esac
case "$MODE" in
masq | vpnpt) ;;
*)
	echo "usage: $0 [masq|vpnpt] [VPNPT]   (or ROUTER_MODE=...)" >&2
	exit 1
	;;
esac
NCLIENTS=${NCLIENTS:-3}
WAIT=${WAIT:-30}
MIN_REPLIES=${MIN_REPLIES:-3}
ECHO_INTERVAL=${ECHO_INTERVAL:-1}
LNS_PORT=${LNS_PORT:-1701}
LNS_REPLY_PORT=${LNS_REPLY_PORT:-}
LAC_PORT=${LAC_PORT:-1701}
RAND_SOURCE=${RAND_SOURCE:-}
CAPTURE=${CAPTURE:-1}
PY=/usr/bin/python3
export LAB_MUTE_CLIENTS=${LAB_MUTE_CLIENTS:-0}
STANDIN=$LAB_LIB/lcp_standin.py
NSRUN=$LAB_LIB/nsrun.sh
LIFETIME=$((WAIT + 20)) # upper bound for every process this script starts
for v in NCLIENTS WAIT MIN_REPLIES LNS_PORT LAC_PORT; do
	[[ "${!v}" =~ ^[0-9]+$ ]] || { echo "$v must be a number" >&2; exit 1; }
done
[[ -z "$LNS_REPLY_PORT" || "$LNS_REPLY_PORT" =~ ^[0-9]+$ ]] || { echo "LNS_REPLY_PORT must be a number" >&2; exit 1; }
[[ "$LNS_REPLY_PORT" != "$LNS_PORT" ]] || LNS_REPLY_PORT=""
[[ -z "$RAND_SOURCE" || "$RAND_SOURCE" == dev || "$RAND_SOURCE" == sys ]] || { echo "RAND_SOURCE must be dev or sys" >&2; exit 1; }
LNS_LISTEN_PORT=${LNS_REPLY_PORT:-$LNS_PORT}

# ---------------------------------------------------------------- prerequisites
[[ $(id -u) -eq 0 ]] || lab_skip "needs root"
for t in /usr/sbin/xl2tpd /usr/sbin/pppd "$PY" timeout ss; do
	command -v "$t" >/dev/null 2>&1 || lab_skip "missing $t (apt-get install -y xl2tpd; it pulls in ppp)"
done
[[ -d /etc/xl2tpd ]] || lab_skip "/etc/xl2tpd missing (needed as a bind-mount target; apt-get install -y xl2tpd)"
if [[ "$CAPTURE" != 0 ]] && ! command -v tcpdump >/dev/null 2>&1; then
	lab_warn "tcpdump not found: no wire summary (CAPTURE=0)"
	CAPTURE=0
fi
if [[ -n "${1:-}" && ! -x "$1" ]]; then
	echo "usage: $0 [masq|vpnpt] [VPNPT]   ('$1' is neither a mode nor an executable)" >&2
	exit 1
fi
# masq does not need the vpnpt binary, but lab_init insists on one.
VPNPT_ARG=${1:-${VPNPT:-$LAB_REPO/build/vpnpt}}
if [[ "$MODE" != vpnpt && ! -x "$VPNPT_ARG" ]]; then
	VPNPT_ARG=$(type -P true)
fi

lab_init "$VPNPT_ARG"

# Processes the VPN daemons fork are ended by lab_cleanup (lab_stop_netns_procs).

S=$LAB_STATE
lab_log "== real L2TP lab: mode $MODE, $NCLIENTS clients, run $LAB_ID, state $S"
lab_site s1 "$NCLIENTS" 1
R=$(lab_ns s1 router)
SNS=$(lab_ns s1 s1)
SRV=$(lab_server_ip s1 1)
PUB=$(lab_wan_ip s1)
lab_info "site s1: clients 192.168.1.11..$((10 + NCLIENTS)), router public $PUB, xl2tpd LNS on $SRV:$LNS_LISTEN_PORT"
lab_info "LACs: local port $LAC_PORT -> $SRV:$LNS_PORT${RAND_SOURCE:+, rand source = $RAND_SOURCE}"

# ---------------------------------------------------------------- router mode
case "$MODE" in
masq) lab_info "router: masquerade only" ;;
vpnpt)
	lab_start_vpnpt s1
	lab_info "router: masquerade + vpnpt (pid $(lab_vpnpt_pid s1))"
	;;
esac

# ---------------------------------------------------------------- LNS answering from another port
if [[ -n "$LNS_REPLY_PORT" ]]; then
	# Stateless (notrack) rewrite in the server namespace: what the LACs send
	# to LNS_PORT reaches xl2tpd's socket on LNS_REPLY_PORT, and xl2tpd's
	# answers leave from LNS_REPLY_PORT unchanged. The raw form (@th) does
	# not touch the UDP checksum: xl2tpd sends none (SO_NO_CHECK, checksum
	# 0), and `udp dport set` would "update" that 0 into a wrong checksum,
	# so the kernel would drop every packet.
	lab_nsenter "$SNS" nft -f - <<EOF
table ip lab_l2tp_port {
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		udp dport $LNS_PORT notrack @th,16,16 set $LNS_REPLY_PORT
	}
	chain out {
		type filter hook output priority raw; policy accept;
		udp sport $LNS_REPLY_PORT notrack
	}
}
EOF
	lab_info "server: incoming udp dport $LNS_PORT rewritten to $LNS_REPLY_PORT (notrack): the LNS answers from port $LNS_REPLY_PORT"
fi

# Experiment (NCLIENTS=1 only): a static router rule that forwards the
# LNS's answers from LNS_REPLY_PORT to c1, to see what the LAC does with an
# SCCRP from a new port (does it send to that port from then on?).
if [[ -n "$LNS_REPLY_PORT" && "${REPLY_PORT_DNAT:-0}" == 1 ]]; then
	((NCLIENTS == 1)) || lab_fail "REPLY_PORT_DNAT=1 needs NCLIENTS=1"
	lab_nsenter "$R" nft -f - <<EOF
table ip lab_l2tp_fwd {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "wan0" ip saddr $SRV udp sport $LNS_REPLY_PORT udp dport $LAC_PORT dnat to $(lab_client_ip s1 1):$LAC_PORT
	}
}
EOF
	lab_info "router: experiment: udp from $SRV:$LNS_REPLY_PORT to port $LAC_PORT is forwarded to c1"
fi

# ---------------------------------------------------------------- captures
if [[ "$CAPTURE" != 0 ]]; then
	for ifn in lan0 wan0; do
		lab_bg "tcpdump-$ifn" nsenter --net="/run/netns/$R" timeout "$LIFETIME" tcpdump --immediate-mode -U -nn -s 600 -i "$ifn" -w "$S/$ifn.pcap" udp or icmp
	done
	for ((i = 0; i < 50; i++)); do
		[[ -s $S/lan0.pcap && -s $S/wan0.pcap ]] && break
		sleep 0.1
	done
fi

# ---------------------------------------------------------------- configuration
# Each xl2tpd gets its own directory, bind-mounted over /etc/xl2tpd in its
# private mount namespace (nsrun.sh); pid file and control pipe are the
# defaults, in the private /run.
rand_line=""
[[ -z "$RAND_SOURCE" ]] || rand_line="rand source = $RAND_SOURCE"
mkdir -p "$S/etc-lns"
cat >"$S/etc-lns/xl2tpd.conf" <<EOF
; private xl2tpd configuration of this lab run (LNS), seen as /etc/xl2tpd
[global]
port = $LNS_LISTEN_PORT
listen-addr = $SRV
force userspace = yes
debug tunnel = yes
$rand_line

[lns default]
ip range = 10.77.0.10-10.77.0.250
local ip = 10.77.0.1
require authentication = no
hostname = lab-lns
length bit = yes
pppoptfile = /etc/xl2tpd/ppp-options
EOF
: >"$S/etc-lns/l2tp-secrets"
chmod 600 "$S/etc-lns/l2tp-secrets"
cat >"$S/etc-lns/ppp-options" <<EOF
standin-role lns
standin-logdir $S
standin-echo-interval $ECHO_INTERVAL
standin-max-time $LIFETIME
EOF
for ((i = 1; i <= NCLIENTS; i++)); do
	d=$S/etc-c$i
	mkdir -p "$d"
	cat >"$d/xl2tpd.conf" <<EOF
; private xl2tpd configuration of this lab run (LAC c$i), seen as /etc/xl2tpd
[global]
port = $LAC_PORT
force userspace = yes
debug tunnel = yes
$rand_line

[lac lab]
lns = $SRV:$LNS_PORT
autodial = yes
redial = no
require authentication = no
hostname = c$i
length bit = yes
pppoptfile = /etc/xl2tpd/ppp-options
EOF
	: >"$d/l2tp-secrets"
	chmod 600 "$d/l2tp-secrets"
	cat >"$d/ppp-options" <<EOF
standin-role lac
standin-name c$i
standin-logdir $S
standin-echo-interval $ECHO_INTERVAL
standin-max-time $LIFETIME
EOF
	lab_client_ip s1 "$i" >"$S/c$i.ip"
done

# ---------------------------------------------------------------- LNS
lab_bg lns ip netns exec "$SNS" "$NSRUN" --mkdir /run/xl2tpd --bind "$S/etc-lns:/etc/xl2tpd" \
	--pppd "$STANDIN" -- timeout "$LIFETIME" /usr/sbin/xl2tpd -D
LNS_PID=$LAB_BG_PID
for ((i = 0; i < 50; i++)); do
	lab_nsenter "$SNS" ss -Hlun "sport = :$LNS_LISTEN_PORT" 2>/dev/null | grep -q . && break
	_lab_pid_alive "$LNS_PID" || break
	sleep 0.1
done
lab_nsenter "$SNS" ss -Hlun "sport = :$LNS_LISTEN_PORT" | grep -q . ||
	{ sed 's/^/    lns| /' "$S/lns.log" 2>/dev/null; lab_fail "xl2tpd LNS is not listening on $SRV:$LNS_LISTEN_PORT"; }
lab_info "xl2tpd LNS listening on $SRV:$LNS_LISTEN_PORT (udp)"

# ---------------------------------------------------------------- LACs (all at once)
T0=$SECONDS
CLIENT_PIDS=()
for ((i = 1; i <= NCLIENTS; i++)); do
	lab_bg "c$i" ip netns exec "$(lab_ns s1 "c$i")" "$NSRUN" --mkdir /run/xl2tpd \
		--bind "$S/etc-c$i:/etc/xl2tpd" --pppd "$STANDIN" -- timeout "$LIFETIME" /usr/sbin/xl2tpd -D
	CLIENT_PIDS+=("$LAB_BG_PID")
done
lab_info "started $NCLIENTS xl2tpd LACs; waiting up to ${WAIT}s for $MIN_REPLIES echo replies each"

lab_wait_echo_replies "$S" "$MIN_REPLIES" "$((WAIT - (SECONDS - T0)))" "${CLIENT_PIDS[@]}"
lab_info "waited $((SECONDS - T0))s"
if [[ "$MODE" == vpnpt ]]; then
	lab_info "vpnpt counters (outbound): $(lab_counters s1 outbound 2>/dev/null | tr '\n' ' ')"
	lab_info "vpnpt counters (inbound):  $(lab_counters s1 inbound 2>/dev/null | tr '\n' ' ')"
	lab_router_exec s1 "$VPNPT" sessions --proto l2tp --json >"$S/sessions.json" 2>/dev/null || true
	lab_router_exec s1 "$VPNPT" sessions --proto l2tp | sed 's/^/    vpnpt sessions| /' || true
fi
# The router's conntrack view of the L2TP flows (which LAC got which public port).
lab_nsenter "$R" cat /proc/net/nf_conntrack 2>/dev/null | grep -E ' udp ' >"$S/conntrack.txt" || true
sed -E 's/^ipv4 +2 +//; s/^/    router conntrack| /' "$S/conntrack.txt"

# Stop the LACs, then the LNS, let the captures drain, then everything else
# in our namespaces.
for p in "${CLIENT_PIDS[@]}"; do lab_kill "$p" 5; done
lab_kill "$LNS_PID" 5
sleep 0.5
lab_stop_netns_procs
for p in "${LAB_PIDS[@]}"; do lab_kill "$p" 3; done
rc=0
report_args=(--state "$S" --mode "$MODE" --clients "$NCLIENTS" --min-replies "$MIN_REPLIES"
	--public "$PUB" --server "$SRV" --lns-port "$LNS_PORT")
[[ "$CAPTURE" != 0 ]] || report_args+=(--no-wire)
"$PY" "$LAB_PEERS/l2tp/l2tp_report.py" "${report_args[@]}" | tee "$S/report.txt" || rc=$?
[[ "${PIPESTATUS[0]}" == 0 ]] || rc=1
if [[ "$MODE" == vpnpt ]]; then
	# vpnpt's promise: every LAC keeps its local port on the public side, the
	# LNS sees distinct tunnel IDs even when the LACs chose the same, and
	# vpnpt lists one tunnel per LAC.
	n_peers=$(grep -c "^LNS tunnel .* peer=$PUB:$LAC_PORT\$" "$S/report.txt" || true)
	lab_check_eq "every LNS tunnel comes from $PUB:$LAC_PORT (the LACs' own port)" "$NCLIENTS" "$n_peers"
	# (no tunnel at all is a 0 here, not a pipefail exit before the verdict)
	n_ids=$({ grep -o "^LNS tunnel .* lac_tunnel_id=[0-9]*" "$S/report.txt" || true; } | sed 's/.*=//' | sort -u | wc -l)
	lab_check_eq "the LNS sees $NCLIENTS distinct LAC tunnel IDs" "$NCLIENTS" "$n_ids"
	n_ses=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$S/sessions.json" 2>/dev/null || echo 0)
	lab_check_eq "vpnpt sessions lists $NCLIENTS L2TP tunnels" "$NCLIENTS" "$n_ses"
	[[ "${LAB_CHECK_FAILS:-0}" == 0 ]] || rc=1
fi
exit "$rc"
