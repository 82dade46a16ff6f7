#!/usr/bin/env bash
# Attach never mixes two builds' data planes: another build's is upgraded
# in place. Such a data plane (one whose map layouts differ, so its pins
# carry other names) is simulated without a second build: with a PPTP call
# carrying traffic, the daemon is stopped (the data plane keeps running) and
# a pin is renamed in bpffs to the name an older build would have given it.
# `vpnpt attach` must then upgrade: carry the renamed table's entries into
# this build's table, replace the running programs, leave exactly this
# build's pins, and keep the call passing every packet. Variant A renames a
# session table, B the interface table itself. (tools/upgrade-base and
# lab_upgrade run a real older build.)
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
. "$(dirname "$0")/../../lib/lib.sh"
lab_init "${1:-}"
N=${N:-300} # GRE packets each way, one every INTERVAL: the call outlives both upgrades
INTERVAL=${INTERVAL:-0.05}

lab_site s1 1 1
lab_start_vpnpt s1
S1=$(lab_server_ip s1 1)
PIN=${LAB_PIN_DIR[s1]}
d=$LAB_STATE/foreign
mkdir -p "$d"

lab_bg pptp-server ip netns exec "$(lab_ns s1 s1)" "$LAB_PY" "$LAB_PEERS/pptp" server --expect 1 --count "$N" \
	--interval "$INTERVAL" --report "$d/pptp-server.json" --ready-file "$d/pptp-server.ready" --max-time 90
for ((t = 0; t < 50; t++)); do [[ -e $d/pptp-server.ready ]] && break; sleep 0.1; done
lab_bg pptp-c1 ip netns exec "$(lab_ns s1 c1)" "$LAB_PY" "$LAB_PEERS/pptp" client --server "$S1" --name c1 \
	--index 1 --call-id 1000 --calls 1 --count "$N" --interval "$INTERVAL" --rx-wait 15 --report "$d/pptp-c1.json" \
	--ready-file "$d/pptp-c1.ready" --release-file "$d/release" --max-time 85
PPTP_CLIENT=$LAB_BG_PID
for ((t = 0; t < 100; t++)); do
	[[ $(lab_router_exec s1 "$VPNPT" sessions --json | lab_json 'sum(1 for r in d if r["packets_in"] > 3)') -ge 1 ]] && break
	sleep 0.1
done
lab_stop_vpnpt s1
lab_pass "daemon stopped with the call up; the data plane keeps running"

hooks() { lab_router_exec s1 bpftool -j net show | lab_json 'sorted(str(x) for x in d)'; }

ours=$(ls "$PIN" | tr '\n' ' ')

# upgraded NAME OLDNAME: renames pin NAME to OLDNAME, attaches, and checks the in-place upgrade.
upgraded() {
	local name=$1 old=$2 before seen
	before=$(hooks)
	seen=$(wc -l <"${LAB_VPNPT_LOG[s1]}")
	mv "$PIN/$name" "$PIN/$old"
	lab_assert_eq "status names another build's data plane and the way to upgrade it" 1 \
		"$(lab_router_exec s1 "$VPNPT" status wan0 2>&1 | grep -c "another vpnpt build.*upgrades it in place" || true)"
	lab_start_vpnpt s1
	lab_assert_eq "attach over a pin named $old upgraded in place (one log line)" 1 \
		"$(tail -n +$((seen + 1)) "${LAB_VPNPT_LOG[s1]}" | grep -c "upgraded the data plane on wan0 in place" || true)"
	lab_assert "the running programs were replaced" test "$before" != "$(hooks)"
	lab_assert_eq "exactly this build's pins remain ($old removed)" "$ours" "$(ls "$PIN" | tr '\n' ' ')"
	lab_assert_eq "the call is listed" 1 \
		"$(lab_router_exec s1 "$VPNPT" sessions --json | lab_json 'sum(r["proto"] == "pptp" for r in d)')"
	lab_stop_vpnpt s1
}
upgraded vpnpt_pptp_calls_v2 vpnpt_pptp_calls_v1
upgraded vpnpt_ifaces_v2 vpnpt_ifaces_v1

hooks_before=$(hooks)
lab_start_vpnpt s1
lab_assert_eq "this build's own data plane is adopted (same programs)" "$hooks_before" "$(hooks)"
lab_assert_eq "the call is listed" 1 "$(lab_router_exec s1 "$VPNPT" sessions --json | lab_json 'sum(r["proto"] == "pptp" for r in d)')"
for ((t = 0; t < 300; t++)); do [[ -e $d/pptp-c1.ready ]] && break; sleep 0.1; done
touch "$d/release"
lab_wait_pids 20 "$PPTP_CLIENT" || true
sleep 1
lab_assert_eq "every GRE packet the server sent on the call reached the client across both upgrades" "$N" \
	"$(lab_json '" ".join(str(v) for _, v in sorted(d["rx_at_ready"].items()))' <"$d/pptp-c1.json")"
lab_log "== PASS: foreign pins upgraded"
