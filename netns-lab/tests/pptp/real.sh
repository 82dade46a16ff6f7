#!/usr/bin/env bash
# Real PPTP software through the lab router: pptpd (poptop) in server s1,
# N pptp-linux clients (one per client namespace) behind the site's NAT
# router, with lcp_standin.py in place of pppd on both ends (this kernel has
# no PPP: pppd cannot run). Reports per client whether the control
# connection and the call came up and how many LCP echoes flowed.
#
# Usage: netns-lab/tests/pptp/real.sh [MODE] [VPNPT]
#   MODE (or $ROUTER_MODE, default masq):
#     masq         nftables masquerade only (the lab default), no PPTP helper
#     masq-helper  masquerade + the kernel PPTP conntrack/NAT helper
#                  (nf_conntrack_pptp + nf_nat_pptp) assigned with an
#                  nftables `ct helper` object to TCP port 1723
#     vpnpt        masquerade, no helper, vpnpt attached on the router
#     vpnpt-helper masquerade + the kernel PPTP helper + vpnpt: vpnpt must
#                  detect the helper and defer PPTP to it (no double
#                  translation), so the clients still work
#   VPNPT: vpnpt binary (only used in mode vpnpt; default $VPNPT, else
#          <repo>/build/vpnpt)
# Env: NCLIENTS=3, WAIT=30 (max seconds to wait for the echoes),
#      MIN_REPLIES=3 (echo replies a client needs to count as working),
#      ECHO_INTERVAL=1 (stand-in LCP echo interval, s),
#      PPTP_LAUNCH=pty (default: the stand-in runs `pptp --nolaunchpppd` on
#      a pty, like pppd's `pty` option) or pppd (pptp launches "pppd"
#      itself: the stand-in is bind-mounted over /usr/sbin/pppd in the
#      client's private mount namespace), CAPTURE=1 (tcpdump
#      on the router's lan0 and wan0; 0 = off), LAB_KEEP_LOGS=1 keeps the
#      state directory (logs, syslogs, pcaps), LAB_MUTE_CLIENTS=1 mutes the
#      clients' kernels (ICMP errors, RSTs) as the other lab tests do
#      (default here: 0, real hosts).
# Exit: 0 every client got >= MIN_REPLIES LCP Echo-Replies, 1 otherwise (or
#       failure), 77 skipped (pptp/pptpd/tcpdump/kernel feature missing).
set -euo pipefail

PPTP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=netns-lab/lib/lib.sh
. "$PPTP_DIR/../../lib/lib.sh"

MODE=${ROUTER_MODE:-masq}
case "${1:-}" in
masq | masq-helper | vpnpt | vpnpt-helper)
	MODE=$1
	shift
	;;
esac
case "$MODE" in
masq | masq-helper | vpnpt | vpnpt-helper) ;;
*)
	echo "usage: $0 [masq|masq-helper|vpnpt|vpnpt-helper] [VPNPT]   (or ROUTER_MODE=...)" >&2
	exit 1
	;;
esac
NCLIENTS=${NCLIENTS:-3}
WAIT=${WAIT:-30}
MIN_REPLIES=${MIN_REPLIES:-3}
ECHO_INTERVAL=${ECHO_INTERVAL:-1}
PPTP_LAUNCH=${PPTP_LAUNCH:-pty}
[[ "$PPTP_LAUNCH" == pty || "$PPTP_LAUNCH" == pppd ]] || { echo "PPTP_LAUNCH must be pty or pppd" >&2; exit 1; }
CAPTURE=${CAPTURE:-1}
PY=/usr/bin/python3
# Real software: let the clients' kernels answer as real hosts would (ICMP
# errors, RSTs); the lab mutes them by default for exact vpnpt counters.
export LAB_MUTE_CLIENTS=${LAB_MUTE_CLIENTS:-0}
STANDIN=$LAB_LIB/lcp_standin.py
NSRUN=$LAB_LIB/nsrun.sh
LIFETIME=$((WAIT + 20)) # upper bound for every process this script starts

# ---------------------------------------------------------------- prerequisites
[[ $(id -u) -eq 0 ]] || lab_skip "needs root"
for t in /usr/sbin/pptp /usr/sbin/pptpd /usr/sbin/pptpctrl "$PY" timeout; do
	command -v "$t" >/dev/null 2>&1 || lab_skip "missing $t (apt-get install -y pptp-linux pptpd)"
done
if [[ "$CAPTURE" != 0 ]] && ! command -v tcpdump >/dev/null 2>&1; then
	lab_warn "tcpdump not found: no wire summary (CAPTURE=0)"
	CAPTURE=0
fi
# Modes without vpnpt do not need the binary, but lab_init insists on one.
VPNPT_ARG=${1:-${VPNPT:-$LAB_REPO/build/vpnpt}}
if [[ "$MODE" != vpnpt* && ! -x "$VPNPT_ARG" ]]; then
	VPNPT_ARG=$(type -P true)
fi
if [[ "$MODE" == *-helper ]]; then
	# Built in (=y) on some kernels (no /sys/module entry then), modules on
	# others; whether it works is checked when the ct helper object is made.
	for m in nf_conntrack_pptp nf_nat_pptp; do
		[[ -d /sys/module/$m ]] || ! command -v modprobe >/dev/null || modprobe "$m" 2>/dev/null || true
	done
fi

lab_init "$VPNPT_ARG"

# Processes the VPN daemons fork are ended by lab_cleanup (lab_stop_netns_procs).

S=$LAB_STATE
lab_log "== real PPTP lab: mode $MODE, $NCLIENTS clients, run $LAB_ID, state $S"
lab_site s1 "$NCLIENTS" 1
R=$(lab_ns s1 router)
SRV=$(lab_server_ip s1 1)
PUB=$(lab_wan_ip s1)
lab_info "site s1: clients 192.168.1.11..$((10 + NCLIENTS)), router public $PUB, pptpd on $SRV"

# ---------------------------------------------------------------- router mode
case "$MODE" in
masq) lab_info "router: masquerade only (no PPTP helper)" ;;
masq-helper | vpnpt-helper)
	lab_nsenter "$R" nft -f - <<'EOF' || lab_skip "nftables cannot create a \"pptp\" ct helper (nf_conntrack_pptp/nf_nat_pptp missing?)"
table ip lab_pptp {
	ct helper pptp-h {
		type "pptp" protocol tcp
		l3proto ip
	}
	chain pre {
		type filter hook prerouting priority filter; policy accept;
		tcp dport 1723 ct helper set "pptp-h"
	}
}
EOF
	lab_info "router: masquerade + ct helper pptp on tcp dport 1723"
	if [[ "$MODE" == vpnpt-helper ]]; then
		lab_start_vpnpt s1
		deferred=$(lab_status_json s1 | lab_json 'd["deferred"]["pptp"]')
		lab_assert_eq "vpnpt saw the kernel's PPTP helper and deferred PPTP to it" "true" "$deferred"
	fi
	;;
vpnpt)
	lab_start_vpnpt s1
	lab_info "router: masquerade + vpnpt (pid $(lab_vpnpt_pid s1))"
	;;
esac

# ---------------------------------------------------------------- logs, captures
sinkargs=("$S/server.sock=$S/server.syslog")
for ((i = 1; i <= NCLIENTS; i++)); do sinkargs+=("$S/c$i.sock=$S/c$i.syslog"); done
lab_bg syslog-sink "$PY" "$LAB_LIB/syslog_sink.py" --max-time "$LIFETIME" "${sinkargs[@]}"
SINK_PID=$LAB_BG_PID
for ((i = 0; i < 50; i++)); do [[ -S $S/server.sock ]] && break; sleep 0.1; done
[[ -S $S/server.sock ]] || lab_fail "syslog sink did not start (see $S/syslog-sink.log)"

if [[ "$CAPTURE" != 0 ]]; then
	for ifn in lan0 wan0; do
		lab_bg "tcpdump-$ifn" nsenter --net="/run/netns/$R" timeout "$LIFETIME" tcpdump --immediate-mode -U -nn -s 200 -i "$ifn" -w "$S/$ifn.pcap"
	done
	for ((i = 0; i < 50; i++)); do
		[[ -s $S/lan0.pcap && -s $S/wan0.pcap ]] && break
		sleep 0.1
	done
fi

# ---------------------------------------------------------------- server
cat >"$S/pptpd.conf" <<EOF
# private pptpd configuration of this lab run (never /etc/pptpd.conf)
ppp $STANDIN
option $S/pptpd-ppp-options
pidfile $S/pptpd.pid
listen $SRV
localip 10.77.0.1
remoteip 10.77.0.10-60
connections 20
stimeout 10
debug
EOF
# pptpd passes "file <this>" to its ppp program; the stand-in reads its settings here.
cat >"$S/pptpd-ppp-options" <<EOF
standin-logdir $S
standin-echo-interval $ECHO_INTERVAL
standin-max-time $LIFETIME
EOF
lab_bg pptpd ip netns exec "$(lab_ns s1 s1)" "$NSRUN" --syslog "$S/server.sock" -- \
	timeout "$LIFETIME" /usr/sbin/pptpd -c "$S/pptpd.conf" -f
PPTPD_PID=$LAB_BG_PID
for ((i = 0; i < 50; i++)); do
	lab_nsenter "$(lab_ns s1 s1)" ss -Hltn "sport = :1723" 2>/dev/null | grep -q LISTEN && break
	sleep 0.1
done
lab_nsenter "$(lab_ns s1 s1)" ss -Hltn "sport = :1723" | grep -q LISTEN ||
	{ sed 's/^/    pptpd| /' "$S/pptpd.log" "$S/server.syslog" 2>/dev/null; lab_fail "pptpd is not listening on $SRV:1723"; }
lab_info "pptpd listening on $SRV:1723"

# ---------------------------------------------------------------- clients (all at once)
T0=$SECONDS
CLIENT_PIDS=()
for ((i = 1; i <= NCLIENTS; i++)); do
	lab_client_ip s1 "$i" >"$S/c$i.ip"
	if [[ "$PPTP_LAUNCH" == pty ]]; then
		lab_bg "c$i" ip netns exec "$(lab_ns s1 "c$i")" "$NSRUN" --syslog "$S/c$i.sock" -- \
			"$PY" "$STANDIN" --client --name "c$i" --log "$S/c$i.lcp.log" --child-log "$S/c$i.pptp.err" \
			--echo-interval "$ECHO_INTERVAL" --max-time "$LIFETIME" -- \
			/usr/sbin/pptp "$SRV" --nolaunchpppd --nohostroute --loglevel 2 --logstring "c$i"
	else
		# pptp execs "/usr/sbin/pppd /dev/pts/N 38400 <its non-option args>"
		# in its original process and goes on as a forked child.
		lab_bg "c$i" ip netns exec "$(lab_ns s1 "c$i")" \
			"$NSRUN" --syslog "$S/c$i.sock" --pppd "$STANDIN" -- timeout "$LIFETIME" \
			/usr/sbin/pptp "$SRV" --nohostroute --loglevel 2 --logstring "c$i" \
			standin-name "c$i" standin-logdir "$S" standin-echo-interval "$ECHO_INTERVAL" \
			standin-max-time "$LIFETIME"
	fi
	CLIENT_PIDS+=("$LAB_BG_PID")
done
lab_info "started $NCLIENTS pptp clients (launch: $PPTP_LAUNCH); waiting up to ${WAIT}s for $MIN_REPLIES echo replies each"

lab_wait_echo_replies "$S" "$MIN_REPLIES" "$((WAIT - (SECONDS - T0)))" "${CLIENT_PIDS[@]}"
lab_info "waited $((SECONDS - T0))s"
# Call IDs as pptpd shows them in its process titles: "pptpd [IP:PNS - PAC]".
for p in $(ip netns pids "$(lab_ns s1 s1)" 2>/dev/null); do
	t=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
	t=${t%"${t##*[! ]}"} # drop the title's space padding
	[[ "$t" == *"pptpd ["*":"* ]] && lab_info "pptpctrl $p title: $t"
done
if [[ "$MODE" == vpnpt-helper ]]; then
	calls=$(lab_status_json s1 | lab_json 'd["maps"]["vpnpt_pptp_calls_v2"]["used"]')
	lab_assert_eq "vpnpt translated no call itself while deferring (no double translation)" "0" "$calls"
fi
if [[ "$MODE" == vpnpt* ]]; then
	lab_info "vpnpt counters (outbound): $(lab_counters s1 outbound 2>/dev/null | tr '\n' ' ')"
	lab_info "vpnpt counters (inbound):  $(lab_counters s1 inbound 2>/dev/null | tr '\n' ' ')"
fi
# The router's conntrack view of the GRE flows (keys = Call IDs).
lab_nsenter "$R" cat /proc/net/nf_conntrack 2>/dev/null | grep -E ' gre ' |
	sed -E 's/^ipv4 +2 +//; s/^/    router conntrack| /' || true

# Stop the clients (they clear their calls), then pptpd (it ends its
# pptpctrl children), let the captures drain, then everything else in our
# namespaces; the syslog sink goes last (lab_cleanup).
for p in "${CLIENT_PIDS[@]}"; do lab_kill "$p" 5; done
lab_kill "$PPTPD_PID" 5
sleep 1
lab_stop_netns_procs
for p in "${LAB_PIDS[@]}"; do
	[[ "$p" == "$SINK_PID" ]] || lab_kill "$p" 3
done
rc=0
report_args=(--state "$S" --mode "$MODE" --clients "$NCLIENTS" --min-replies "$MIN_REPLIES")
[[ "$CAPTURE" != 0 ]] || report_args+=(--no-wire)
"$PY" "$LAB_PEERS/pptp/pptp_report.py" "${report_args[@]}" || rc=$?
exit "$rc"
