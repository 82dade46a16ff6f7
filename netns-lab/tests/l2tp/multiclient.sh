#!/usr/bin/env bash
# vpnpt L2TP lab test with crafted peers (peers/l2tp): NCLIENTS LACs behind
# one NAT router, all on local UDP port 1701 and all with the SAME Assigned
# Tunnel ID (4242), set up their tunnels to one LNS at the same time. vpnpt
# must keep every LAC's source port 1701 on the public side, give the LNS
# distinct tunnel IDs, and bring every answer back to the right LAC with its
# own Tunnel ID.
#
#   phase 1  the LNS answers from 1701
#   phase 2  the LNS receives on 1701 but answers from 1702 (RFC 2661 8.1):
#            the LACs send their SCCCN and data to 1702
#   phase 3  (PHASE3=1) c<N+1> with a hidden Assigned Tunnel ID (H bit,
#            RFC 2661 4.3) next to c1 with a visible one: per-port NAT, the
#            LNS sees the hidden one from a port in 61000-61999
#   phase 4  (PHASE4=1) fragments: c1 sends datagrams of FRAG_SIZE bytes (two
#            IPv4 fragments), the LNS pads every echo to FRAG_SIZE; each LAC
#            still gets exactly its own echoes, none goes to the kernel
#
# Checks per phase: every tunnel set up, every echo delivered, none
# misdelivered, the LNS saw NCLIENTS distinct tunnel IDs and every SCCRQ from
# the public IP with source port 1701; `vpnpt sessions --proto l2tp --json`
# lists the tunnels while they are up; vpnpt translated L2TP both ways
# (status counters: l2tp translated_packets).
#
# Usage: netns-lab/tests/l2tp/multiclient.sh [VPNPT]   (default: $VPNPT, else <repo>/build/vpnpt)
# Exit:  0 pass, 1 fail, 77 skipped
# Env:   NCLIENTS=8, N=20 data messages per LAC, TUNNEL_ID=4242, REPLY_PORT=1702,
#        PHASE3=1, PHASE4=1, FRAG_SIZE=2800, LAB_KEEP_LOGS=1 keeps the state dir.
set -euo pipefail

# shellcheck source=netns-lab/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lib/lib.sh"
lab_init "${1:-}"

NCLIENTS=${NCLIENTS:-8}
N=${N:-20}
TUNNEL_ID=${TUNNEL_ID:-4242}
REPLY_PORT=${REPLY_PORT:-1702}
PHASE3=${PHASE3:-1}
PHASE4=${PHASE4:-1}
FRAG_SIZE=${FRAG_SIZE:-2800}
PEERS=$LAB_PEERS/l2tp
T0=$SECONDS

lab_log "== vpnpt L2TP multi-client lab, run $LAB_ID, vpnpt $VPNPT"
lab_log "   $NCLIENTS LACs, all from port 1701 with Tunnel ID $TUNNEL_ID, N=$N data messages each"
NHOSTS=$NCLIENTS
[[ "$PHASE3" == 0 ]] || NHOSTS=$((NCLIENTS + 1))
lab_site s1 "$NHOSTS" 1
SNS=$(lab_ns s1 s1)
SRV=$(lab_server_ip s1 1)
PUB=$(lab_wan_ip s1)
lab_start_vpnpt s1
lab_pass "site s1: $NHOSTS clients, LNS $SRV, public $PUB, vpnpt attached (pid $(lab_vpnpt_pid s1))"

ck_ge() { # ck_ge DESC MIN ACTUAL
	if [[ "$3" =~ ^[0-9]+$ ]] && (($3 >= $2)); then lab_check "$1" 1 "$3 >= $2"; else lab_check "$1" 0 "expected >= $2, got $3"; fi
}
sessions_json() { lab_router_exec s1 "$VPNPT" sessions --proto l2tp --json; }
xlat() { # xlat DIR: l2tp translated_packets
	lab_status_json s1 | lab_json "d['counters']['$1']['l2tp']['translated_packets']"
}

# run_phase PHASE "CLIENT INDICES" LNS_ARGS -- LAC_ARGS...: LNS + LACs at once;
# snapshot of `vpnpt sessions` while every tunnel is up; StopCCN; reports.
run_phase() {
	local ph=$1 list=$2 lns_args=$3 d i n=0 pids=() cidx=() deadline waiting
	shift 3
	[[ "${1:-}" == -- ]] && shift
	d=$LAB_STATE/p$ph
	mkdir -p "$d"
	for i in $list; do n=$((n + 1)); done
	# shellcheck disable=SC2086  # lns_args: options, word-split on purpose
	lab_bg "p$ph-lns" ip netns exec "$SNS" "$LAB_PY" "$PEERS" lns --bind "$SRV" --expect "$n" \
		--report "$d/lns.json" --ready-file "$d/lns.ready" --max-time 25 $lns_args
	LNS_PID=$LAB_BG_PID
	for ((i = 0; i < 50; i++)); do [[ -e $d/lns.ready ]] && break; sleep 0.1; done
	[[ -e $d/lns.ready ]] || { sed 's/^/    lns| /' "$LAB_STATE/p$ph-lns.log"; lab_fail "phase $ph: LNS not listening after 5 s"; }
	for i in $list; do
		local c1_args=()
		((i != 1)) || [[ -z "${C1_SIZE:-}" ]] || c1_args=(--size "$C1_SIZE")
		lab_bg "p$ph-c$i" ip netns exec "$(lab_ns s1 "c$i")" "$LAB_PY" "$PEERS" lac --server "$SRV" \
			--name "c$i" --index "$i" --phase "$ph" --tunnel-id "$TUNNEL_ID" --count "$N" \
			--report "$d/c$i.json" --ready-file "$d/c$i.ready" --release-file "$d/release" --max-time 20 \
			"${c1_args[@]}" "$@"
		pids+=("$LAB_BG_PID")
		cidx+=("$i")
	done
	deadline=$((SECONDS + 15))
	while ((SECONDS < deadline)); do
		waiting=0
		for i in "${!pids[@]}"; do
			[[ -e $d/c${cidx[$i]}.ready ]] || ! _lab_pid_alive "${pids[$i]}" || waiting=1
		done
		((waiting == 0)) && break
		sleep 0.1
	done
	sessions_json >"$d/sessions-up.json" || echo '[]' >"$d/sessions-up.json"
	lab_status_json s1 >"$d/status-up.json"
	touch "$d/release"
	lab_wait_pids 8 "${pids[@]}" || lab_warn "phase $ph: a LAC failed or was stopped (see its report)"
	lab_wait_pids 5 "$LNS_PID" || lab_warn "phase $ph: the LNS failed or was stopped"
	PHASE_REPORTS=()
	for i in $list; do PHASE_REPORTS+=("$d/c$i.json"); done
}

analyze() { # analyze PHASE EXTRA ANALYZE ARGS...
	local ph=$1 rc=0
	shift
	"$LAB_PY" "$PEERS" analyze --label "p$ph" --lns-report "$LAB_STATE/p$ph/lns.json" --public-ip "$PUB" \
		--server-ip "$SRV" --count "$N" --summary "$LAB_STATE/p$ph/summary.json" "$@" "${PHASE_REPORTS[@]}" || rc=$?
	((rc == 0)) || LAB_CHECK_FAILS=$((LAB_CHECK_FAILS + 1))
}

# check_sessions PHASE EXPECTED_TUNNELS PORTS: vpnpt's tunnels toward SRV while they were up.
check_sessions() {
	local ph=$1 want=$2 out
	out=$("$LAB_PY" "$LAB_DIR/tests/l2tp/multiclient_sessions.py" "$LAB_STATE/p$ph/sessions-up.json" "$SRV" "$TUNNEL_ID")
	read -r S_N S_XL S_CID S_PPN S_STATES <<<"$out"
	lab_check_eq "[p$ph] vpnpt sessions --proto l2tp lists $want tunnels toward $SRV (states $S_STATES)" "$want" "$S_N"
	lab_check_eq "[p$ph] ... with $want distinct translated tunnel IDs" "$want" "$S_XL"
	lab_check_eq "[p$ph] ... every one for client tunnel ID $TUNNEL_ID" "$want" "$S_CID"
}

# ---------------------------------------------------------------- phase 1
lab_log "-- phase 1: $NCLIENTS LACs at once, the LNS answers from 1701"
X0_OUT=$(xlat outbound)
X0_IN=$(xlat inbound)
ALL=$(seq -s ' ' 1 "$NCLIENTS")
run_phase 1 "$ALL" ""
analyze 1
check_sessions 1 "$NCLIENTS"
lab_check_eq "[p1] no tunnel under per-port NAT" 0 "$S_PPN"
X1_OUT=$(xlat outbound)
X1_IN=$(xlat inbound)
ck_ge "[p1] vpnpt translated outbound L2TP (xlat: SCCCN, data, StopCCN of every LAC)" "$((NCLIENTS * (N + 2)))" "$((X1_OUT - X0_OUT))"
ck_ge "[p1] vpnpt translated inbound L2TP (xlat: SCCRP, 2 ZLBs, echoes of every LAC)" "$((NCLIENTS * (N + 3)))" "$((X1_IN - X0_IN))"

# ---------------------------------------------------------------- phase 2
lab_log "-- phase 2: the same LACs again; the LNS answers from port $REPLY_PORT"
run_phase 2 "$ALL" "--reply-port $REPLY_PORT"
analyze 2 --reply-port "$REPLY_PORT"
check_sessions 2 "$NCLIENTS"
SP=$(lab_json "sorted({r['ids']['server_port'] for r in d if r.get('server') == '$SRV' and r.get('state') != 'closing'})" \
	<"$LAB_STATE/p2/sessions-up.json")
lab_check_eq "[p2] vpnpt recorded the LNS's answer port" "[$REPLY_PORT]" "$SP"
X2_OUT=$(xlat outbound)
X2_IN=$(xlat inbound)
ck_ge "[p2] vpnpt translated outbound L2TP (xlat: SCCCN, data, StopCCN of every LAC)" "$((NCLIENTS * (N + 2)))" "$((X2_OUT - X1_OUT))"
ck_ge "[p2] vpnpt translated inbound L2TP (xlat: SCCRP, 2 ZLBs, echoes of every LAC)" "$((NCLIENTS * (N + 3)))" "$((X2_IN - X1_IN))"

# ---------------------------------------------------------------- phase 3
if [[ "$PHASE3" != 0 ]]; then
	H=$NHOSTS
	lab_log "-- phase 3: c$H with a hidden Assigned Tunnel ID (per-port NAT) next to c1 with a visible one"
	# c1 visible and cH hidden: two processes, the hidden flag only for cH.
	d=$LAB_STATE/p3
	mkdir -p "$d"
	lab_bg p3-lns ip netns exec "$SNS" "$LAB_PY" "$PEERS" lns --bind "$SRV" --expect 2 \
		--report "$d/lns.json" --ready-file "$d/lns.ready" --max-time 25
	P3_LNS=$LAB_BG_PID
	for ((i = 0; i < 50; i++)); do [[ -e $d/lns.ready ]] && break; sleep 0.1; done
	lab_bg p3-c1 ip netns exec "$(lab_ns s1 c1)" "$LAB_PY" "$PEERS" lac --server "$SRV" --name c1 --index 1 \
		--phase 3 --tunnel-id "$TUNNEL_ID" --count "$N" --report "$d/c1.json" --ready-file "$d/c1.ready" \
		--release-file "$d/release" --max-time 20
	P3_C1=$LAB_BG_PID
	lab_bg "p3-c$H" ip netns exec "$(lab_ns s1 "c$H")" "$LAB_PY" "$PEERS" lac --server "$SRV" --name "c$H" \
		--index "$H" --phase 3 --tunnel-id "$TUNNEL_ID" --hidden --count "$N" --report "$d/c$H.json" \
		--ready-file "$d/c$H.ready" --release-file "$d/release" --max-time 20
	P3_CH=$LAB_BG_PID
	for ((i = 0; i < 150; i++)); do
		[[ (-e $d/c1.ready || ! -e /proc/$P3_C1) && (-e $d/c$H.ready || ! -e /proc/$P3_CH) ]] && break
		sleep 0.1
	done
	sessions_json >"$d/sessions-up.json" || echo '[]' >"$d/sessions-up.json"
	touch "$d/release"
	lab_wait_pids 8 "$P3_C1" "$P3_CH" || lab_warn "phase 3: a LAC failed or was stopped"
	lab_wait_pids 5 "$P3_LNS" || lab_warn "phase 3: the LNS failed or was stopped"
	PHASE_REPORTS=("$d/c1.json" "$d/c$H.json")
	analyze 3 --per-port-nat "c$H"
	HP=$(lab_json "[r['ids']['public_port'] for r in d if r.get('server') == '$SRV' and r['ids']['per_port_nat'] and r.get('state') != 'closing']" <"$d/sessions-up.json")
	lab_check "[p3] vpnpt sessions lists the hidden-id tunnel with per-port NAT, public port in 61000-61999" \
		"$(lab_json "1 if len(d) == 1 and 61000 <= d[0] <= 61999 else 0" <<<"$HP")" "public ports $HP"
fi

# ---------------------------------------------------------------- phase 4
if [[ "$PHASE4" != 0 ]]; then
	# Fragments (finding 3 of issue 17): were they left to the kernel, c1's would make its masquerade
	# hold public:1701 <-> LNS:1701 for c1, and the LNS's fragmented answers to every other LAC on that
	# tuple would be reassembled and delivered to c1. vpnpt sends a datagram's later fragments where
	# it sent the first (bpf/lib/frag.h), so each LAC gets its own echoes and the kernel none.
	lab_log "-- phase 4: c1 sends datagrams of $FRAG_SIZE bytes, the LNS answers everyone with $FRAG_SIZE (IPv4 fragments)"
	R0=$(lab_status_json s1)
	C1_SIZE=$FRAG_SIZE run_phase 4 "$ALL" "--echo-size $FRAG_SIZE"
	analyze 4
	R1=$(lab_status_json s1)
	frag_delta() { # frag_delta DIR REASON
		"$LAB_PY" -c 'import json, sys; a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(b["reasons"][sys.argv[3]].get(sys.argv[4], 0) - a["reasons"][sys.argv[3]].get(sys.argv[4], 0))' "$R0" "$R1" "$1" "$2"
	}
	lab_check_eq "[p4] no L2TP fragment left to the kernel (inbound l2tp_fragment)" 0 "$(frag_delta inbound l2tp_fragment)"
	lab_check_eq "[p4] no L2TP fragment left to the kernel (outbound l2tp_fragment)" 0 "$(frag_delta outbound l2tp_fragment)"
	lab_check_eq "[p4] no later fragment vpnpt could not place (frag_unplaced)" 0 "$(frag_delta outbound frag_unplaced)"
fi

# ---------------------------------------------------------------- verdict
# Checksums (issue 17, finding 13): no host's stack dropped a segment or
# datagram vpnpt rewrote; with LAB_TX_OFFLOAD=on the hosts send partial
# checksums, which the wire ports finish (netns-lab/lib/lib.sh).
lab_info "bad checksums dropped per host (TCP UDP): $(lab_csum_errors | awk '{ printf "%s %s/%s  ", $1, $2, $3 }')"
lab_check_csum_errors
lab_info "paths: $(lab_paths s1 | paste -sd ';' -)"
lab_check_partial_paths s1
lab_info "vpnpt l2tp xlat: outbound $(xlat outbound), inbound $(xlat inbound); reasons: $(lab_status_json s1 |
	lab_json "' '.join('%s/%s=%d' % (k, r, v) for k, per in sorted(d['reasons'].items()) for r, v in sorted(per.items()) if v and 'l2tp' in r)")"
lab_info "run time $((SECONDS - T0)) s"
if ((LAB_CHECK_FAILS > 0)); then
	lab_log "== FAIL: $LAB_CHECK_FAILS check(s) failed (state $LAB_STATE; LAB_KEEP_LOGS=1 keeps it)"
	[[ -n "${LAB_KEEP_LOGS:-}" ]] || sed 's/^/    vpnpt| /' "$LAB_STATE/vpnpt-s1.log" | tail -40
	exit 1
fi
lab_log "== PASS: L2TP multi-client ($NCLIENTS LACs, Tunnel ID $TUNNEL_ID, port 1701)"
