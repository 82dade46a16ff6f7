#!/usr/bin/env bash
# vpnpt lifecycle lab test: attach, count every class exactly, daemon stop
# (data plane keeps running), re-adopt (counters kept), a second router with
# the same interface names in parallel, detach (nothing left behind), and
# `vpnpt attach wan0` without --lan (vpnpt picks lan0 itself).
#
# Usage: netns-lab/tests/daemon/lifecycle.sh [VPNPT]   (default: $VPNPT, else <repo>/build/vpnpt)
# Exit:  0 pass, 1 fail, 77 skipped (no root / tool / kernel feature)
# Env:   K=20 packets per class, LAB_KEEP_LOGS=1 keeps the daemon logs,
#        LAB_FAIL_AFTER_ATTACH=1 fails on purpose after the first attach
#        (to check that cleanup leaves nothing behind).
set -euo pipefail

# shellcheck source=netns-lab/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lib/lib.sh"
lab_init "${1:-}"

K=${K:-20}
K2=7
CLASSES=(pptp_ctrl gre ike natt esp ah l2tp other)
T0=$SECONDS

lab_log "== vpnpt lifecycle lab, run $LAB_ID, vpnpt $VPNPT, K=$K"

# ---------------------------------------------------------------- a. topology
lab_log "-- a. two sites with identical interface names"
lab_site s1 2 1
lab_site s2 2 1
R1=$(lab_ns s1 router)
R2=$(lab_ns s2 router)
SRV1=$(lab_server_ip s1 1)
SRV2=$(lab_server_ip s2 1)
PUB1=$(lab_wan_ip s1)
lab_pass "built site s1 ($R1, public $PUB1, server $SRV1) and s2 ($R2, public $(lab_wan_ip s2), server $SRV2)"
lab_assert "s1 and s2 routers both have wan0 and lan0" \
	sh -c "{ ip -n $R1 link show wan0 && ip -n $R1 link show lan0 && ip -n $R2 link show wan0 && ip -n $R2 link show lan0; } >/dev/null"
lab_assert_not "server has no route to the LAN 192.168.1.0/24" \
	sh -c "ip -n $(lab_ns s1 s1) route get 192.168.1.11 >/dev/null 2>&1"

# ---------------------------------------------------------------- b. attach + count
lab_log "-- b. attach vpnpt in s1, send $K packets of every class each way"
lab_start_vpnpt s1
S1_PID=$(lab_vpnpt_pid s1)
lab_pass "vpnpt daemon ready in s1 (pid $S1_PID)"
[[ -z "${LAB_FAIL_AFTER_ATTACH:-}" ]] || lab_fail "LAB_FAIL_AFTER_ATTACH is set: failing on purpose after the attach"

ST=$(lab_status_json s1)
lab_assert_eq "s1 pin dir is the one for this netns" "${LAB_PIN_DIR[s1]}" "$(lab_json 'd["pin_dir"]' <<<"$ST")"
lab_assert_eq "s1 public IP" "$PUB1" "$(lab_json 'd["public_ip"]' <<<"$ST")"
lab_assert_eq "s1 interfaces attached (wan0, lan0)" "wan0:wan:True lan0:lan:True" \
	"$(lab_json '" ".join(sorted(("%s:%s:%s" % (i["name"], i["role"], i["attached"]) for i in d["interfaces"]), reverse=True))' <<<"$ST")"
PROGS_B=$(lab_json '" ".join("%s=%s" % (i["name"], i["prog_id"]) for i in sorted(d["interfaces"], key=lambda i: i["name"]))' <<<"$ST")
BASE_OUT=$(lab_json 'sum(v["packets"] for k, v in d["counters"]["outbound"].items() if k != "non_ipv4")' <<<"$ST")
lab_assert_eq "s1 outbound IPv4 counters start at zero" 0 "$BASE_OUT"

lab_traffic s1 c1 -- --class all --count "$K" --dst "$SRV1" --interval 0.002 --timeout 15
lab_traffic s1 s1 -- --class all --count "$K" --dst "$PUB1" --interval 0.002 --timeout 15
lab_wait_counters s1 outbound "$K" "${CLASSES[@]}" || true
lab_wait_counters s1 inbound "$K" "${CLASSES[@]}" || true
ST=$(lab_status_json s1)
for c in "${CLASSES[@]}"; do
	lab_assert_eq "s1 outbound $c == $K" "$K" "$(lab_json "d['counters']['outbound']['$c']['packets']" <<<"$ST")"
done
# Byte counters: Ethernet frame bytes (14-byte header + the IP datagram).
while read -r c n ipbytes; do
	lab_assert_eq "s1 outbound $c bytes == $n frames of its size" $((ipbytes + 14 * n)) \
		"$(lab_json "d['counters']['outbound']['$c']['bytes']" <<<"$ST")"
done < <("$LAB_PY" "$LAB_LIB/traffic.py" --class all --count "$K" --dst "$SRV1" --dry-run)
for c in "${CLASSES[@]}"; do
	lab_assert_ge "s1 inbound $c >= $K" "$K" "$(lab_json "d['counters']['inbound']['$c']['packets']" <<<"$ST")"
done
lab_assert_eq "s1 no malformed packets" "0 0" \
	"$(lab_json '"%d %d" % (d["counters"]["outbound"]["malformed"]["packets"], d["counters"]["inbound"]["malformed"]["packets"])' <<<"$ST")"

# ---------------------------------------------------------------- c. daemon stopped
lab_log "-- c. stop the daemon: the data plane keeps running"
lab_stop_vpnpt s1
lab_assert_eq "daemon exited 0 on SIGTERM" 0 "$LAB_VPNPT_EXIT"
lab_assert "wan0 still has an XDP program" sh -c "ip -n $R1 link show wan0 | grep -q xdp"
lab_assert "lan0 still has an XDP program" sh -c "ip -n $R1 link show lan0 | grep -q xdp"
lab_assert "pins still exist" test -e "${LAB_PIN_DIR[s1]}/vpnpt_counters_v1"
ST=$(lab_status_json s1)
lab_assert_eq "status shows no daemon" null "$(lab_json 'd["daemon_pid"]' <<<"$ST")"
BEFORE=$(lab_json "d['counters']['outbound']['esp']['packets']" <<<"$ST")
lab_traffic s1 c2 -- --class esp --count "$K" --dst "$SRV1" --interval 0.002 --timeout 15
lab_wait_counters s1 outbound $((BEFORE + K)) esp || true
AFTER=$(lab_counter s1 outbound esp)
lab_assert_eq "outbound esp grew by $K without a daemon" $((BEFORE + K)) "$AFTER"

# ---------------------------------------------------------------- d. re-adopt
lab_log "-- d. start vpnpt again: it adopts the running data plane"
lab_start_vpnpt s1
S1_PID2=$(lab_vpnpt_pid s1)
ST=$(lab_status_json s1)
lab_assert_eq "daemon_pid is the new daemon" "$S1_PID2" "$(lab_json 'd["daemon_pid"]' <<<"$ST")"
for c in "${CLASSES[@]}"; do
	want=$K
	[[ $c == esp ]] && want=$((2 * K))
	lab_assert_eq "s1 outbound $c kept" "$want" "$(lab_json "d['counters']['outbound']['$c']['packets']" <<<"$ST")"
done
PROGS_D=$(lab_json '" ".join("%s=%s" % (i["name"], i["prog_id"]) for i in sorted(d["interfaces"], key=lambda i: i["name"]))' <<<"$ST")
if [[ "$PROGS_B" == "$PROGS_D" ]]; then
	lab_info "programs adopted as they were (ids $PROGS_D)"
else
	lab_info "program ids changed on restart ($PROGS_B -> $PROGS_D); counters were kept"
fi

# ---------------------------------------------------------------- e. second router
lab_log "-- e. vpnpt in s2 at the same time (same names wan0/lan0)"
lab_start_vpnpt s2
ST1=$(lab_status_json s1)
ST2=$(lab_status_json s2)
P1=$(lab_json 'd["pin_dir"]' <<<"$ST1")
P2=$(lab_json 'd["pin_dir"]' <<<"$ST2")
lab_assert_ne "separate pin dirs" "$P1" "$P2"
lab_assert_eq "s2 pin dir is the one for its netns" "${LAB_PIN_DIR[s2]}" "$P2"
lab_assert_eq "s1 daemon still live" "$S1_PID2" "$(lab_json 'd["daemon_pid"]' <<<"$ST1")"
lab_assert_eq "s2 daemon live" "$(lab_vpnpt_pid s2)" "$(lab_json 'd["daemon_pid"]' <<<"$ST2")"
lab_assert_eq "s1 still attached" "True True" "$(lab_json '" ".join(str(i["attached"]) for i in d["interfaces"])' <<<"$ST1")"
lab_assert_eq "s2 attached" "True True" "$(lab_json '" ".join(str(i["attached"]) for i in d["interfaces"])' <<<"$ST2")"
lab_assert_eq "s2 outbound l2tp starts at zero (not s1's)" 0 "$(lab_json "d['counters']['outbound']['l2tp']['packets']" <<<"$ST2")"
lab_traffic s2 c1 -- --class l2tp --count "$K2" --dst "$SRV2" --interval 0.002 --timeout 15
lab_wait_counters s2 outbound "$K2" l2tp || true
lab_assert_eq "s2 outbound l2tp == $K2" "$K2" "$(lab_counter s2 outbound l2tp)"
lab_assert_eq "s1 outbound l2tp unchanged" "$K" "$(lab_counter s1 outbound l2tp)"
lab_assert_eq "s2 outbound ike untouched" 0 "$(lab_counter s2 outbound ike)"

# ---------------------------------------------------------------- f. detach
lab_log "-- f. detach both routers"
D1=$(lab_vpnpt_pid s1)
D2=$(lab_vpnpt_pid s2)
lab_assert "vpnpt detach wan0 in s1" lab_detach_vpnpt s1
lab_assert "vpnpt detach wan0 in s2" lab_detach_vpnpt s2
for pid in "$D1" "$D2"; do
	lab_assert_not "daemon $pid exited" _lab_pid_alive "$pid"
done
for s in s1 s2; do
	R=$(lab_ns $s router)
	lab_assert_not "$s: pin dir gone" test -e "${LAB_PIN_DIR[$s]}"
	lab_assert_not "$s: lock file gone" test -e "/run/vpnpt/$(basename "${LAB_PIN_DIR[$s]}").lock"
	lab_assert_not "$s: no xdp on any router interface" sh -c "ip -n $R link | grep -q xdp"
	for dev in wan0 lan0; do
		for hook in ingress egress; do
			out=$(tc -n "$R" filter show dev "$dev" "$hook" 2>&1 | grep -v 'Cannot find' || true)
			lab_assert_eq "$s: no tc $hook filter on $dev" "" "$out"
		done
	done
	lab_assert_not "$s: status reports no attachment" sh -c "nsenter --net=/run/netns/$R $VPNPT status wan0 --json >/dev/null 2>&1"
done

# ---------------------------------------------------------------- g. attach without --lan
lab_log "-- g. \`vpnpt attach wan0\` without --lan in s1: vpnpt picks the LAN side itself"
lab_start_vpnpt s1 --no-lan
# This attach's lines: the daemon log after its last "--- vpnpt attach" marker.
PICK_LOG=$(awk '/^--- vpnpt attach/ { n = 0; next } { l[++n] = $0 } END { for (i = 1; i <= n; i++) print l[i] }' \
	"${LAB_VPNPT_LOG[s1]}")
lab_info "its choice: $(grep -E ': (picked|skipped): ' <<<"$PICK_LOG" | sed 's/.* info //' | paste -sd '|' -)"
lab_assert "log: lan0 picked, with its private prefix" \
	grep -qE " lan0: picked: [a-z]+ with 192\.168\.1\.1/24 \(RFC 1918\)$" <<<"$PICK_LOG"
lab_assert "log: wan0 skipped as the WAN" grep -q " wan0: skipped: the WAN$" <<<"$PICK_LOG"
lab_assert "log: lo skipped as loopback" grep -q " lo: skipped: loopback$" <<<"$PICK_LOG"
lab_assert_eq "log: lan0 is the only interface picked" 1 "$(grep -c ': picked: ' <<<"$PICK_LOG")"
ST=$(lab_status_json s1)
lab_assert_eq "s1 interfaces attached without --lan (wan0, lan0)" "wan0:wan:True lan0:lan:True" \
	"$(lab_json '" ".join(sorted(("%s:%s:%s" % (i["name"], i["role"], i["attached"]) for i in d["interfaces"]), reverse=True))' <<<"$ST")"
D1=$(lab_vpnpt_pid s1)
lab_assert "vpnpt detach wan0 in s1 (auto-picked LAN)" lab_detach_vpnpt s1
lab_assert_not "daemon $D1 exited" _lab_pid_alive "$D1"
lab_assert_not "s1: pin dir gone" test -e "${LAB_PIN_DIR[s1]}"
lab_assert_not "s1: no xdp on any router interface" sh -c "ip -n $R1 link | grep -q xdp"

lab_delete_namespaces
left=$(ip netns list | awk '{print $1}' | grep -c "^$LAB_ID-" || true)
lab_assert_eq "no namespace of run $LAB_ID left" 0 "$left"

lab_log "== PASS: lifecycle ($((SECONDS - T0)) s)"
