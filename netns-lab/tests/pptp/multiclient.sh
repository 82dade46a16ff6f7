#!/usr/bin/env bash
# vpnpt PPTP lab test with crafted peers (peers/pptp): 8 clients behind
# one NAT router all use the SAME Call IDs (1000, 1001) toward one server,
# which assigns its own ids like pptpd. vpnpt must give the 16 calls 16
# distinct ids toward the server, bring every GRE packet back to the right
# client with its original Call ID, and restore the peer Call ID in OCRP.
#
#   phase 1  every client: SCCRQ, 2 x OCRQ/OCRP (+ SLI), GRE both ways (the
#            server starts ~0.5 s before the client), 2 x CCRQ/CDN,
#            StopCCRQ/StopCCRP, close; one message per send()
#   phase 2  the same clients again, but each OCRQ is written in two parts
#            cut inside the Call ID field (13 bytes, 200 ms, the rest;
#            TCP_NODELAY), and both CCRQs go out in one send(). It starts
#            about a second after phase 1's calls were cleared, so the
#            clients reconnect with the same Call IDs while vpnpt still
#            holds the old calls in their closing grace period (10 s).
#
# Checks (PASS/FAIL per line, summary with figures at the end):
#   (1) server: 16 distinct translated call ids; every client's GRE came
#       from the public IP with the server's key and the client's payload;
#       CCRQs arrived translated
#   (2) clients: every GRE packet a client received is its own (payload),
#       with its original call id; all N per call, exactly once; none at a
#       wrong client
#   (3) vpnpt: GRE counted and translated (xlat) exactly, in and out; while
#       the calls were up vpnpt_pptp_calls_v2 held exactly the 16 calls,
#       matching what the server saw; no GRE passed for lack of a call;
#       phase 2's split OCRQs were held (reason pptp_held) and recovered
#   (4) every OCRP reached its client with the client's own peer call id
#
# Usage: netns-lab/tests/pptp/multiclient.sh [VPNPT]   (default: $VPNPT, else <repo>/build/vpnpt)
# Exit:  0 pass, 1 fail, 77 skipped (no root / tool / kernel feature)
# Env:   NCLIENTS=8, N=50 GRE packets per call and direction,
#        SERVER_IDS=pptpd (128 * accept order + call index) | same (0/1 on
#        every connection) | random, PHASE2=1 (0: skip phase 2),
#        PHASE2_DELAY=0 (seconds between the phases; phase 2 normally starts
#        ~1 s after phase 1's calls were cleared: the clients reconnect),
#        PHASE2_CLIENTS="1 2 ... NCLIENTS" (which clients run phase 2),
#        SPLIT=13 (phase 2: first write of a split OCRQ, bytes),
#        SPLIT_OCRP=0 (phase 2: the server splits its OCRPs too, e.g. 15 =
#        inside the peer Call ID), P1_CLIENT_ARGS / P2_CLIENT_ARGS (more
#        peers/pptp client options for phase 1 / 2, e.g. --ocrq-one-send),
#        P1_SERVER_ARGS / P2_SERVER_ARGS (server options, e.g. --reject-calls 1),
#        CAPTURE=0 (1: tcpdump on the router's lan0 and wan0 and on the
#        switch ports facing them, kept with LAB_KEEP_LOGS=1),
#        LAB_KEEP_LOGS=1 keeps the state dir (reports, logs, map dumps).
set -euo pipefail

# shellcheck source=netns-lab/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lib/lib.sh"
lab_init "${1:-}"

NCLIENTS=${NCLIENTS:-8}
N=${N:-50}
SERVER_IDS=${SERVER_IDS:-pptpd}
PHASE2=${PHASE2:-1}
PHASE2_DELAY=${PHASE2_DELAY:-0}
SPLIT=${SPLIT:-13}
SPLIT_OCRP=${SPLIT_OCRP:-0}
P1_CLIENT_ARGS=${P1_CLIENT_ARGS:-}
P2_CLIENT_ARGS=${P2_CLIENT_ARGS:-}
P1_SERVER_ARGS=${P1_SERVER_ARGS:-}
P2_SERVER_ARGS=${P2_SERVER_ARGS:-}
SERVER_ARGS=()
CAPTURE=${CAPTURE:-0}
CALLS=2
PEERS=$LAB_PEERS/pptp
ABI=$LAB_REPO/abi/vpnpt_abi.h
T0=$SECONDS
PHASE2_CLIENTS=${PHASE2_CLIENTS:-$(seq -s ' ' 1 "$NCLIENTS")}

command -v bpftool >/dev/null 2>&1 || lab_skip "missing tool: bpftool (vpnpt's maps are read with it)"
[[ -r "$ABI" ]] || lab_skip "no $ABI (the map layout is read from it)"
if [[ "$CAPTURE" != 0 ]] && ! command -v tcpdump >/dev/null 2>&1; then
	lab_warn "tcpdump not found: CAPTURE=0"
	CAPTURE=0
fi

ck_ge() { # ck_ge DESC MIN ACTUAL
	if [[ "$3" =~ ^[0-9]+$ ]] && (($3 >= $2)); then lab_check "$1" 1 "$3 >= $2"; else lab_check "$1" 0 "expected >= $2, got $3"; fi
}
jq_py() { lab_json "$1"; } # EXPR over stdin JSON

lab_log "== vpnpt PPTP multi-client lab, run $LAB_ID, vpnpt $VPNPT"
lab_log "   $NCLIENTS clients x $CALLS calls (ids 1000, 1001 everywhere), N=$N GRE per call and direction, server ids: $SERVER_IDS"

# ---------------------------------------------------------------- topology
lab_site s1 "$NCLIENTS" 1
R=$(lab_ns s1 router)
SNS=$(lab_ns s1 s1)
SRV=$(lab_server_ip s1 1)
PUB=$(lab_wan_ip s1)
PIN=${LAB_PIN_DIR[s1]}
lab_pass "site s1: $NCLIENTS clients, server $SRV, public $PUB"
lab_start_vpnpt s1
lab_pass "vpnpt attached in the router (pid $(lab_vpnpt_pid s1), pins $PIN)"

declare -A CAP_PID=()
if [[ "$CAPTURE" != 0 ]]; then
	# The router's own lan0/wan0 show what its XDP programs let through
	# (rewritten); the switch ports facing it (rtr, r1) show both sides;
	# the server's eth0 what reached it (with LAB_TX_OFFLOAD, checksums
	# finished on the way: tcpdump -vv says "incorrect" for a wrong one).
	for cap in "$R:lan0" "$R:wan0" "$(lab_ns s1 lan):rtr" "$(lab_ns - inet):r1" "$SNS:eth0"; do
		dev=${cap#*:}
		lab_bg "tcpdump-$dev" timeout 120 nsenter --net="/run/netns/${cap%%:*}" tcpdump -i "$dev" -n -U \
			--immediate-mode -w "$LAB_STATE/$dev.pcap" 'tcp port 1723 or ip proto 47'
		CAP_PID[$dev]=$LAB_BG_PID
	done
	sleep 0.5
fi

counters_json() { "$LAB_PY" "$PEERS" counters --pin-dir "$PIN" --abi "$ABI"; }
calls_json() { lab_router_exec s1 "$VPNPT" sessions --wan wan0 --proto pptp --json | "$LAB_PY" "$PEERS" calls; }

# Evidence kept in the state dir (and printed on failure).
dump_evidence() { # dump_evidence TAG
	local d=$LAB_STATE/evidence-$1 m
	mkdir -p "$d"
	lab_status s1 >"$d/status.txt" 2>&1 || true
	lab_status_json s1 >"$d/status.json" 2>&1 || true
	counters_json >"$d/counters.json" 2>&1 || true
	calls_json >"$d/calls.json" 2>&1 || true
	for m in vpnpt_pptp_streams_v2; do
		bpftool map dump pinned "$PIN/$m" >"$d/$m.txt" 2>&1 || true
	done
	lab_nsenter "$R" conntrack -L >"$d/conntrack.txt" 2>&1 || true
}

# run_phase PHASE "CLIENT INDICES" EXTRA CLIENT ARGS...: server + clients,
# snapshot of vpnpt's call table while every call is up, then teardown.
run_phase() {
	local ph=$1 list=$2 d i pids=() cidx=() n=0 deadline waiting
	shift 2
	d=$LAB_STATE/p$ph
	mkdir -p "$d"
	for i in $list; do n=$((n + 1)); done
	lab_bg "p$ph-server" ip netns exec "$SNS" "$LAB_PY" "$PEERS" server --phase "$ph" --expect "$n" \
		--count "$N" --server-ids "$SERVER_IDS" --report "$d/server.json" --ready-file "$d/server.ready" --max-time 25 \
		"${SERVER_ARGS[@]}"
	SERVER_PID=$LAB_BG_PID
	for ((i = 0; i < 50; i++)); do [[ -e $d/server.ready ]] && break; sleep 0.1; done
	[[ -e $d/server.ready ]] || { sed 's/^/    server| /' "$LAB_STATE/p$ph-server.log"; lab_fail "phase $ph: server not listening after 5 s"; }
	for i in $list; do
		lab_bg "p$ph-c$i" ip netns exec "$(lab_ns s1 "c$i")" "$LAB_PY" "$PEERS" client --phase "$ph" \
			--server "$SRV" --name "c$i" --index "$i" --call-id 1000 --calls "$CALLS" --count "$N" \
			--report "$d/c$i.json" --ready-file "$d/c$i.ready" --release-file "$d/release" --max-time 20 "$@"
		pids+=("$LAB_BG_PID")
		cidx+=("$i")
	done
	# Every client has both calls up and its GRE exchanged, or has given up.
	deadline=$((SECONDS + 15))
	while ((SECONDS < deadline)); do
		waiting=0
		for i in "${!pids[@]}"; do
			[[ -e $d/c${cidx[$i]}.ready ]] || ! _lab_pid_alive "${pids[$i]}" || waiting=1
		done
		((waiting == 0)) && break
		sleep 0.1
	done
	calls_json >"$d/calls-up.json"
	counters_json >"$d/counters-up.json"
	lab_status_json s1 >"$d/status-up.json"
	dump_evidence "p$ph-up"
	touch "$d/release"
	lab_wait_pids 8 "${pids[@]}" || lab_warn "phase $ph: a client failed or was stopped (see its report)"
	lab_wait_pids 5 "$SERVER_PID" || lab_warn "phase $ph: the server failed or was stopped"
	PHASE_CLIENT_REPORTS=()
	for i in $list; do PHASE_CLIENT_REPORTS+=("$d/c$i.json"); done
}

# check_calls_table PHASE: (3) vpnpt's call table while the calls were up
# against what the server saw (translated id, client, original id).
check_calls_table() {
	local ph=$1 d=$LAB_STATE/p$1 out
	out=$("$LAB_PY" "$LAB_DIR/tests/pptp/multiclient_calls.py" "$d/calls-up.json" "$d/summary.json" "$SRV" "$ph" "$LAB_LAN_PREFIX")
	mapfile -t CT <<<"$out"
	CT_ENTRIES=${CT[0]}
}

# ---------------------------------------------------------------- phase 1
lab_log "-- phase 1: $NCLIENTS clients, one message per send()"
C0=$(counters_json)
# shellcheck disable=SC2206  # extra server options, word-split on purpose
SERVER_ARGS=($P1_SERVER_ARGS)
# shellcheck disable=SC2086  # extra client options, word-split on purpose
run_phase 1 "$(seq -s ' ' 1 "$NCLIENTS")" $P1_CLIENT_ARGS
rc=0
"$LAB_PY" "$PEERS" analyze --label p1 --server-report "$LAB_STATE/p1/server.json" --public-ip "$PUB" --server-ip "$SRV" \
	--calls "$CALLS" --summary "$LAB_STATE/p1/summary.json" "${PHASE_CLIENT_REPORTS[@]}" || rc=$?
((rc == 0)) || LAB_CHECK_FAILS=$((LAB_CHECK_FAILS + 1))
[[ -s $LAB_STATE/p1/summary.json ]] || lab_fail "phase 1: analysis produced no summary"
S1=$(cat "$LAB_STATE/p1/summary.json")
NCALLS1=$(jq_py 'd["calls"]' <<<"$S1")
XL1=$(jq_py 'd["translated_calls"]' <<<"$S1")

lab_log "-- phase 1: vpnpt's view"
check_calls_table 1
CT_ENTRIES_P1=$CT_ENTRIES
lab_check_eq "[p1] vpnpt_pptp_calls_v2 held exactly the $((NCLIENTS * CALLS)) calls toward $SRV while they were up" \
	"$((NCLIENTS * CALLS))" "$CT_ENTRIES"
lab_check "[p1] every call in vpnpt's table: the server's translated id and own id, state established" \
	"$([[ -z ${CT[2]} ]] && echo 1 || echo 0)" "${CT[2]:-${CT[1]} calls match}"
lab_check "[p1] no unexpected entry in vpnpt's table" "$([[ -z ${CT[3]} ]] && echo 1 || echo 0)" "${CT[3]}"
C1=$(counters_json)
delta() { # delta BEFORE AFTER SECTION DIR NAME
	local b a
	b=$(jq_py "d['$3']['$4']['$5']" <<<"$1")
	a=$(jq_py "d['$3']['$4']['$5']" <<<"$2")
	echo $((a - b))
}
G=$((NCLIENTS * CALLS * N))
lab_check_eq "[p1] outbound gre counted" "$G" "$(delta "$C0" "$C1" counters outbound gre)"
lab_check_eq "[p1] inbound gre counted" "$G" "$(delta "$C0" "$C1" counters inbound gre)"
lab_check_eq "[p1] outbound gre translated (xlat, redirected at XDP)" "$G" "$(delta "$C0" "$C1" xlat outbound gre)"
lab_check_eq "[p1] inbound gre translated (xlat, redirected at XDP)" "$G" "$(delta "$C0" "$C1" xlat inbound gre)"
lab_check_eq "[p1] no GRE passed for lack of a call (gre_no_call out+in)" 0 \
	$(($(delta "$C0" "$C1" reasons outbound gre_no_call) + $(delta "$C0" "$C1" reasons inbound gre_no_call)))
lab_check_eq "[p1] no control message refused as another client's id (pptp_foreign_id)" 0 \
	"$(delta "$C0" "$C1" reasons outbound pptp_foreign_id)"
P1_CTRL_OUT=$(delta "$C0" "$C1" xlat outbound pptp_ctrl)
P1_CTRL_IN=$(delta "$C0" "$C1" xlat inbound pptp_ctrl)
# Segments that must have been rewritten: per client one per translated call
# for OCRQs and CCRQs sent one per send(), one per client when sent together.
seg_min() { # seg_min SUMMARY_JSON CLIENT_ARGS
	local o=0 c=0
	[[ " $2 " == *" --ocrq-one-send "* ]] && o=1
	[[ " $2 " == *" --ccrq-one-send "* ]] && c=1
	jq_py "sum((1 if $o else t) + (1 if $c else t) for t in d['translated_by_client'].values())" <<<"$1"
}
ck_ge "[p1] outbound control segments rewritten (OCRQs, CCRQs of the $XL1 translated calls)" "$(seg_min "$S1" "$P1_CLIENT_ARGS")" "$P1_CTRL_OUT"
ck_ge "[p1] inbound control segments rewritten (OCRP of the $XL1 translated calls)" "$XL1" "$P1_CTRL_IN"
P1_HELD=$(($(delta "$C0" "$C1" reasons outbound pptp_held) + $(delta "$C0" "$C1" reasons inbound pptp_held)))
lab_info "phase 1: held control segments $P1_HELD, counters: gre out $(delta "$C0" "$C1" counters outbound gre) in $(delta "$C0" "$C1" counters inbound gre), pptp_ctrl out $(delta "$C0" "$C1" counters outbound pptp_ctrl) in $(delta "$C0" "$C1" counters inbound pptp_ctrl)"
calls_json >"$LAB_STATE/p1/calls-after.json"
P1_AFTER=$(jq_py '"%d entries: %s" % (len(d), ", ".join("%s=%d" % (s, sum(1 for c in d if c["state"] == s)) for s in sorted({c["state"] for c in d})))' <"$LAB_STATE/p1/calls-after.json")
lab_info "phase 1 over (CDN, StopCCRP, TCP closed): vpnpt_pptp_calls_v2 now has $P1_AFTER"

# ---------------------------------------------------------------- phase 2
if [[ "$PHASE2" != 0 ]]; then
	# shellcheck disable=SC2086  # a list of indices
	set -- $PHASE2_CLIENTS
	NP2=$#
	if [[ "$PHASE2_DELAY" != 0 ]]; then
		lab_info "waiting ${PHASE2_DELAY}s before phase 2 (PHASE2_DELAY)"
		sleep "$PHASE2_DELAY"
	fi
	lab_log "-- phase 2: clients $PHASE2_CLIENTS again; OCRQ split after $SPLIT bytes (inside the Call ID), both CCRQs in one send()"
	# shellcheck disable=SC2206  # extra server options, word-split on purpose
	SERVER_ARGS=($P2_SERVER_ARGS)
	[[ "$SPLIT_OCRP" == 0 ]] || SERVER_ARGS+=(--split-ocrp "$SPLIT_OCRP")
	# shellcheck disable=SC2086  # extra client options, word-split on purpose
	run_phase 2 "$PHASE2_CLIENTS" --split-ocrq "$SPLIT" --ccrq-one-send $P2_CLIENT_ARGS
	rc=0
	"$LAB_PY" "$PEERS" analyze --label p2 --server-report "$LAB_STATE/p2/server.json" --public-ip "$PUB" --server-ip "$SRV" \
		--calls "$CALLS" --summary "$LAB_STATE/p2/summary.json" "${PHASE_CLIENT_REPORTS[@]}" || rc=$?
	((rc == 0)) || LAB_CHECK_FAILS=$((LAB_CHECK_FAILS + 1))
	[[ -s $LAB_STATE/p2/summary.json ]] || lab_fail "phase 2: analysis produced no summary"
	S2=$(cat "$LAB_STATE/p2/summary.json")
	NCALLS2=$(jq_py 'd["calls"]' <<<"$S2")
	check_calls_table 2
	lab_check "[p2] every phase-2 call in vpnpt's table: the server's translated id and own id, state established" \
		"$([[ -z ${CT[2]} ]] && echo 1 || echo 0)" "${CT[2]:-${CT[1]} calls match; $CT_ENTRIES entries toward $SRV}"
	C2=$(counters_json)
	G2=$((NP2 * CALLS * N))
	lab_check_eq "[p2] outbound gre counted" "$G2" "$(delta "$C1" "$C2" counters outbound gre)"
	lab_check_eq "[p2] inbound gre counted" "$G2" "$(delta "$C1" "$C2" counters inbound gre)"
	lab_check_eq "[p2] outbound gre translated (xlat)" "$G2" "$(delta "$C1" "$C2" xlat outbound gre)"
	lab_check_eq "[p2] inbound gre translated (xlat)" "$G2" "$(delta "$C1" "$C2" xlat inbound gre)"
	lab_check_eq "[p2] no GRE passed for lack of a call (gre_no_call out+in)" 0 \
		$(($(delta "$C1" "$C2" reasons outbound gre_no_call) + $(delta "$C1" "$C2" reasons inbound gre_no_call)))
	P2_HELD=$(delta "$C1" "$C2" reasons outbound pptp_held)
	P2_HELD_IN=$(delta "$C1" "$C2" reasons inbound pptp_held)
	if ((SPLIT > 12 && SPLIT < 14)); then
		ck_ge "[p2] the split OCRQs were held by vpnpt (outbound pptp_held, 1 per split at least)" $((NP2 * CALLS)) "$P2_HELD"
	fi
	if ((SPLIT_OCRP > 14 && SPLIT_OCRP < 16)); then
		ck_ge "[p2] the split OCRPs were held by vpnpt (inbound pptp_held, 1 per split at least)" $((NP2 * CALLS)) "$P2_HELD_IN"
	fi
	lab_info "phase 2: held control segments: outbound $P2_HELD, inbound $P2_HELD_IN"
	lab_info "phase 2: OCRP delays (split + hold + TCP retransmit): $(for f in "${PHASE_CLIENT_REPORTS[@]}"; do jq_py '"/".join("%.2f" % c["ocrp_delay"] for c in d["calls"])' <"$f" 2>/dev/null || echo '?'; done | tr '\n' ' ')"
fi

# ---------------------------------------------------------------- verdict
# Checksums (issue 17, finding 13): no host's stack dropped a segment or
# datagram vpnpt rewrote; with LAB_TX_OFFLOAD=on the hosts send partial
# checksums, which the wire ports finish (netns-lab/lib/lib.sh).
lab_info "bad checksums dropped per host (TCP UDP): $(lab_csum_errors | awk '{ printf "%s %s/%s  ", $1, $2, $3 }')"
lab_check_csum_errors
lab_info "paths: $(lab_paths s1 | paste -sd ';' -)"
lab_check_partial_paths s1
for dev in "${!CAP_PID[@]}"; do lab_kill "${CAP_PID[$dev]}" 3; done
dump_evidence end
lab_log "-- summary"
lab_log "   phase 1: $NCALLS1 calls, $XL1 of them translated; translated ids $(jq_py '" ".join(map(str, d["xlat_ids"]))' <<<"$S1")"
lab_log "            GRE: $(jq_py 'd["gre_at_server"]' <<<"$S1") at the server, $(jq_py 'd["gre_at_clients"]' <<<"$S1") at the right clients, $(jq_py 'd["gre_wrong_client"]' <<<"$S1") misdelivered (expected $G / $G / 0)"
lab_log "            vpnpt: $CT_ENTRIES_P1 call entries while up; control segments rewritten out $P1_CTRL_OUT in $P1_CTRL_IN; held $P1_HELD"
if [[ "$PHASE2" != 0 ]]; then
	lab_log "   phase 2: $NCALLS2 calls (split OCRQ, one-send CCRQs); translated ids $(jq_py '" ".join(map(str, d["xlat_ids"]))' <<<"$S2")"
	lab_log "            GRE: $(jq_py 'd["gre_at_server"]' <<<"$S2") at the server, $(jq_py 'd["gre_at_clients"]' <<<"$S2") at the right clients, $(jq_py 'd["gre_wrong_client"]' <<<"$S2") misdelivered (expected $G2 / $G2 / 0); held segments out $P2_HELD in $P2_HELD_IN"
fi
if ((LAB_CHECK_FAILS > 0)); then
	lab_log "   vpnpt status at the end:"
	sed 's/^/    | /' "$LAB_STATE/evidence-end/status.txt"
	lab_log "   call table at the end (decoded):"
	jq_py '"\n".join("    | %s xlat %5d <- %s id %d, server id %d, %s, gre out %d in %d" % (c["server"], c["xlat_id"], c["client"], c["client_call_id"], c["server_call_id"], c["state"], c["packets_out"], c["packets_in"]) for c in d)' \
		<"$LAB_STATE/evidence-end/calls.json" || true
	[[ -n "${LAB_KEEP_LOGS:-}" ]] || lab_log "   (LAB_KEEP_LOGS=1 keeps reports, logs and map dumps; CAPTURE=1 adds pcaps)"
	lab_log "== FAIL: PPTP multi-client, $LAB_CHECK_FAILS check group(s) failed ($((SECONDS - T0)) s)"
	exit 1
fi
lab_log "== PASS: PPTP multi-client ($((SECONDS - T0)) s)"
