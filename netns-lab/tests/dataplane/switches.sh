#!/usr/bin/env bash
# vpnpt protocol switches (`vpnpt set pptp|ipsec|l2tp on|off`) with crafted
# traffic of all three protocols flowing: c1 one PPTP call (peers/pptp) to
# s1, c2 one raw-ESP IKEv2 host (peers/ipsec) to s2, c3 and c4 two L2TP
# LACs from port 1701 with the same Tunnel ID (peers/l2tp) to an LNS on s3.
#
# A "round" runs all of them once (fresh processes, N packets each way).
#   round 0            all on: every protocol delivers, vpnpt translates each
#   for P in pptp ipsec l2tp:
#     (while the previous round's sessions are still up)
#     set P off        status switches show P off; P's sessions are flushed
#                      (`vpnpt sessions --proto P` empty), the others' kept
#     round P-off      vpnpt translates nothing of P (xlat counters of P's
#                      classes do not move), the reason P_off counts up, the
#                      other two protocols deliver everything and are
#                      translated
#     set P on         status switches show P on
#     round P-on       all three deliver again, P's session set up again
#                      and translated (its sessions are up during the next
#                      switch-off)
#
# Usage: netns-lab/tests/dataplane/switches.sh [VPNPT]   (default: $VPNPT, else <repo>/build/vpnpt)
# Exit:  0 pass, 1 fail, 77 skipped
# Env:   N=20 packets per session and direction, LAB_KEEP_LOGS=1 keeps the state dir.
set -euo pipefail

# shellcheck source=netns-lab/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lib/lib.sh"
lab_init "${1:-}"

N=${N:-20}
INTERVAL=0.02
TID=4242
T0=$SECONDS

lab_log "== vpnpt switches lab, run $LAB_ID, vpnpt $VPNPT"
lab_site s1 4 3
S1=$(lab_server_ip s1 1)
S2=$(lab_server_ip s1 2)
S3=$(lab_server_ip s1 3)
lab_start_vpnpt s1
lab_pass "site s1: PPTP c1 -> $S1, ESP c2 -> $S2, L2TP c3+c4 (Tunnel ID $TID) -> $S3; vpnpt attached"

declare -A CLASSES=([pptp]="gre pptp_ctrl" [ipsec]="esp natt" [l2tp]="l2tp")
PROTOS="pptp ipsec l2tp"

status_to() { lab_status_json s1 >"$1"; }
# xlat_sum FILE "CLASSES": translated packets of those classes, both directions.
xlat_sum() {
	lab_json "sum(d['counters'][r][c]['translated_packets'] for r in ('outbound', 'inbound') for c in '$2'.split())" <"$1"
}
reason_sum() { # reason_sum FILE REASON
	lab_json "sum(d['reasons'][r].get('$2', 0) for r in ('outbound', 'inbound'))" <"$1"
}
n_sessions() { # n_sessions PROTO
	lab_router_exec s1 "$VPNPT" sessions --proto "$1" --json | lab_json 'len(d)'
}
switch_state() { lab_status_json s1 | lab_json "'%s' % ('on' if d['switches']['$1'] else 'off')"; }

# round_start TAG: servers, then every client; returns once every client is
# done with its traffic (ready) or gone. The clients hold their sessions
# until round_finish.
round_start() {
	local tag=$1 d i t
	d=$LAB_STATE/$tag
	RD=$d
	mkdir -p "$d"
	status_to "$d/status-before.json"
	lab_bg "$tag-pptp-server" ip netns exec "$(lab_ns s1 s1)" "$LAB_PY" "$LAB_PEERS/pptp" server --expect 1 \
		--count "$N" --interval "$INTERVAL" --report "$d/pptp-server.json" --ready-file "$d/pptp-server.ready" --max-time 25
	R_PIDS=("$LAB_BG_PID")
	lab_bg "$tag-esp-server" ip netns exec "$(lab_ns s1 s2)" "$LAB_PY" "$LAB_PEERS/ipsec" server --count "$N" \
		--interval "$INTERVAL" --report "$d/esp-server.json" --ready-file "$d/esp-server.ready" \
		--release-file "$d/release" --max-time 25
	R_PIDS+=("$LAB_BG_PID")
	lab_bg "$tag-lns" ip netns exec "$(lab_ns s1 s3)" "$LAB_PY" "$LAB_PEERS/l2tp" lns --bind "$S3" --expect 2 \
		--report "$d/lns.json" --ready-file "$d/lns.ready" --max-time 25
	R_PIDS+=("$LAB_BG_PID")
	for ((t = 0; t < 50; t++)); do
		[[ -e $d/pptp-server.ready && -e $d/esp-server.ready && -e $d/lns.ready ]] && break
		sleep 0.1
	done
	lab_bg "$tag-c1" ip netns exec "$(lab_ns s1 c1)" "$LAB_PY" "$LAB_PEERS/pptp" client --server "$S1" --name c1 \
		--index 1 --call-id 1000 --calls 1 --count "$N" --interval "$INTERVAL" --rx-wait 3 --report "$d/pptp-c1.json" \
		--ready-file "$d/c1.ready" --release-file "$d/release" --max-time 20
	C_PIDS=("$LAB_BG_PID")
	lab_bg "$tag-c2" ip netns exec "$(lab_ns s1 c2)" "$LAB_PY" "$LAB_PEERS/ipsec" host --server "$S2" --name c2 \
		--index 2 --count "$N" --interval "$INTERVAL" --rx-wait 3 --tries 3 --report "$d/esp-c2.json" \
		--ready-file "$d/c2.ready" --release-file "$d/release" --max-time 20
	C_PIDS+=("$LAB_BG_PID")
	for i in 3 4; do
		lab_bg "$tag-c$i" ip netns exec "$(lab_ns s1 "c$i")" "$LAB_PY" "$LAB_PEERS/l2tp" lac --server "$S3" \
			--name "c$i" --index "$i" --tunnel-id "$TID" --count "$N" --tries 3 --rx-wait 2 --report "$d/l2tp-c$i.json" \
			--ready-file "$d/c$i.ready" --release-file "$d/release" --max-time 20
		C_PIDS+=("$LAB_BG_PID")
	done
	for ((t = 0; t < 150; t++)); do
		local waiting=0
		for i in 1 2 3 4; do
			[[ -e $d/c$i.ready ]] || ! _lab_pid_alive "${C_PIDS[i - 1]}" || waiting=1
		done
		((waiting == 0)) && break
		sleep 0.1
	done
	status_to "$d/status-ready.json"
}

# round_finish: release, wait, evaluate. Sets OK_pptp OK_ipsec OK_l2tp
# (1 = every packet of that protocol came back to its own client, and none
# of another's, by the time the client was ready: a held round is released
# after a switch-off, so its teardown is no longer translated) and
# XL_<proto> (packets vpnpt translated of that protocol during the round).
round_finish() {
	local d=$RD p
	touch "$d/release"
	lab_wait_pids 10 "${C_PIDS[@]}" || true
	lab_wait_pids 5 "${R_PIDS[@]}" || true
	status_to "$d/status-after.json"
	OK_pptp=$(lab_json "1 if d.get('rx_at_ready') and all(v == $N for v in d['rx_at_ready'].values()) else 0" \
		<"$d/pptp-c1.json" 2>/dev/null || echo 0)
	# ESP from the server before the daemon binds its new SPI is dropped, never guessed (docs/ipsec.md):
	# one echo normally, two when the machine is busy; nothing may ever reach the wrong host.
	OK_ipsec=$(lab_json "1 if d['sas'] and not d['foreign'] and all(len(set(s['rx_echo'])) >= $N - 2 for s in d['sas']) else 0" \
		<"$d/esp-c2.json" 2>/dev/null || echo 0)
	OK_l2tp=1
	for p in 3 4; do
		[[ $(lab_json "1 if d['up'] and d.get('echoes_at_ready') == $N and d.get('foreign_at_ready') == 0 else 0" <"$d/l2tp-c$p.json" 2>/dev/null ||
			echo 0) == 1 ]] || OK_l2tp=0
	done
	for p in $PROTOS; do
		printf -v "XL_$p" '%d' $(($(xlat_sum "$d/status-after.json" "${CLASSES[$p]}") - $(xlat_sum "$d/status-before.json" "${CLASSES[$p]}")))
		printf -v "OFF_$p" '%d' $(($(reason_sum "$d/status-after.json" "${p}_off") - $(reason_sum "$d/status-before.json" "${p}_off")))
	done
	# shellcheck disable=SC2154  # XL_* and OFF_* are set by printf -v above
	lab_info "round $(basename "$d"): delivered pptp=$OK_pptp ipsec=$OK_ipsec l2tp=$OK_l2tp; xlat pptp=$XL_pptp ipsec=$XL_ipsec l2tp=$XL_l2tp; *_off pptp=$OFF_pptp ipsec=$OFF_ipsec l2tp=$OFF_l2tp"
}

# check_all_work TAG: every protocol delivered and was translated in this round.
check_all_work() {
	local p ok xl
	for p in $PROTOS; do
		ok=OK_$p xl=XL_$p
		lab_check "[$1] $p: every packet back at its own client(s)" "${!ok}"
		lab_check "[$1] $p: translated by vpnpt (xlat ${CLASSES[$p]// /+})" "$((${!xl} > 0 ? 1 : 0))" "${!xl} packets"
	done
}

# ---------------------------------------------------------------- round 0
lab_log "-- round 0: all protocols on"
round_start r0
for p in $PROTOS; do
	lab_check "[r0] switch $p is on in status" "$([[ $(switch_state "$p") == on ]] && echo 1 || echo 0)"
done
HELD_TAG=r0

for P in $PROTOS; do
	# The previous round's sessions are up (clients held): count them, switch off.
	declare -A BEFORE=()
	for p in $PROTOS; do BEFORE[$p]=$(n_sessions "$p"); done
	lab_check "[$P-off] $P has sessions before the switch" "$((BEFORE[$P] > 0 ? 1 : 0))" "${BEFORE[$P]}"
	lab_router_exec s1 "$VPNPT" set "$P" off >>"$LAB_STATE/set.log" 2>&1 || lab_check "vpnpt set $P off" 0 "exit status $?"
	lab_check_eq "[$P-off] status switches: $P" off "$(switch_state "$P")"
	nleft=${BEFORE[$P]}
	for ((t = 0; t < 30; t++)); do
		nleft=$(n_sessions "$P")
		((nleft == 0)) && break
		sleep 0.1
	done
	lab_check_eq "[$P-off] $P's sessions flushed (vpnpt sessions --proto $P)" 0 "$nleft"
	for p in $PROTOS; do
		[[ $p == "$P" ]] && continue
		n=$(n_sessions "$p")
		lab_check "[$P-off] $p's sessions kept" "$((n > 0 ? 1 : 0))" "$n (before: ${BEFORE[$p]})"
	done
	round_finish # releases the held round: its traffic was done before the switch
	check_all_work "$HELD_TAG"

	lab_log "-- round $P-off: $P switched off"
	round_start "$P-off"
	round_finish
	lab_check_eq "[$P-off] vpnpt translated nothing of $P (xlat ${CLASSES[$P]// /+})" 0 "$(eval echo "\$XL_$P")"
	off=OFF_$P
	lab_check "[$P-off] reason ${P}_off counted $P's packets" "$((${!off} > 0 ? 1 : 0))" "${!off}"
	for p in $PROTOS; do
		[[ $p == "$P" ]] && continue
		ok=OK_$p xl=XL_$p
		lab_check "[$P-off] $p: every packet back at its own client(s)" "${!ok}"
		lab_check "[$P-off] $p: translated by vpnpt" "$((${!xl} > 0 ? 1 : 0))" "${!xl} packets"
	done
	ok=OK_$P
	lab_info "$P while off (kernel NAT only): delivered=${!ok} (not asserted)"

	lab_router_exec s1 "$VPNPT" set "$P" on >>"$LAB_STATE/set.log" 2>&1 || lab_check "vpnpt set $P on" 0 "exit status $?"
	lab_check_eq "[$P-on] status switches: $P" on "$(switch_state "$P")"
	lab_log "-- round $P-on: $P switched on again"
	round_start "$P-on"
	lab_check "[$P-on] $P's session set up again" "$(($(n_sessions "$P") > 0 ? 1 : 0))" "$(n_sessions "$P") sessions"
	HELD_TAG=$P-on
done
round_finish
check_all_work "$HELD_TAG"
for p in $PROTOS; do
	lab_check "[end] switch $p is on in status" "$([[ $(switch_state "$p") == on ]] && echo 1 || echo 0)"
done

lab_info "run time $((SECONDS - T0)) s"
if ((LAB_CHECK_FAILS > 0)); then
	lab_log "== FAIL: $LAB_CHECK_FAILS check(s) failed (LAB_KEEP_LOGS=1 keeps $LAB_STATE)"
	exit 1
fi
lab_log "== PASS: switches (pptp, ipsec, l2tp off and on again with traffic of all three)"
