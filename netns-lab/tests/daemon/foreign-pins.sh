#!/usr/bin/env bash
# Attach never mixes two builds' data planes. A data plane another vpnpt
# build attached (one whose map layouts differ, so its pins carry other
# names) is simulated without a second build: with a PPTP call carrying
# traffic, the daemon is stopped (the data plane keeps running) and a pin is
# renamed in bpffs to the name an older build would have given it. `vpnpt
# attach` must then refuse in one line naming the pin, create no pin, leave
# the running programs and the call untouched; with the names put back it
# adopts the data plane as before. Variant A renames a session table, B the
# interface table itself.
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
. "$(dirname "$0")/../../lib/lib.sh"
lab_init "${1:-}"
N=${N:-200} # GRE packets each way, one every INTERVAL: the call outlives both refused attaches
INTERVAL=${INTERVAL:-0.05}

lab_site s1 1 1
lab_start_vpnpt s1
S1=$(lab_server_ip s1 1)
PIN=${LAB_PIN_DIR[s1]}
d=$LAB_STATE/foreign
mkdir -p "$d"

lab_bg pptp-server ip netns exec "$(lab_ns s1 s1)" "$LAB_PY" "$LAB_PEERS/pptp" server --expect 1 --count "$N" \
	--interval "$INTERVAL" --report "$d/pptp-server.json" --ready-file "$d/pptp-server.ready" --max-time 60
for ((t = 0; t < 50; t++)); do [[ -e $d/pptp-server.ready ]] && break; sleep 0.1; done
lab_bg pptp-c1 ip netns exec "$(lab_ns s1 c1)" "$LAB_PY" "$LAB_PEERS/pptp" client --server "$S1" --name c1 \
	--index 1 --call-id 1000 --calls 1 --count "$N" --interval "$INTERVAL" --rx-wait 15 --report "$d/pptp-c1.json" \
	--ready-file "$d/pptp-c1.ready" --release-file "$d/release" --max-time 55
PPTP_CLIENT=$LAB_BG_PID
for ((t = 0; t < 100; t++)); do
	[[ $(lab_router_exec s1 "$VPNPT" sessions --json | lab_json 'sum(1 for r in d if r["packets_in"] > 3)') -ge 1 ]] && break
	sleep 0.1
done
lab_stop_vpnpt s1
lab_pass "daemon stopped with the call up; the data plane keeps running"

hooks() { lab_router_exec s1 bpftool -j net show | lab_json 'sorted(str(x) for x in d)'; }
hooks_before=$(hooks)

# refused NAME OLDNAME: renames pin NAME to OLDNAME, attaches, and checks the refusal.
refused() {
	local name=$1 old=$2 rc=0 out pins
	mv "$PIN/$name" "$PIN/$old"
	pins=$(ls "$PIN" | tr '\n' ' ')
	out=$(lab_router_exec s1 timeout 20 "$VPNPT" attach wan0 --lan lan0 2>&1) || rc=$?
	printf '%s\n' "$out" | sed 's/^/    vpnpt| /'
	lab_assert_eq "attach over a pin named $old is refused (exit 1), not adopted" 1 "$rc"
	lab_assert_eq "the refusal is one line, naming $old and the way out" 1 \
		"$(printf '%s\n' "$out" | grep -c "$old.*vpnpt detach wan0" || true)"
	lab_assert_eq "no pin was created or removed" "$pins" "$(ls "$PIN" | tr '\n' ' ')"
	lab_assert_eq "the running hooks are the same programs" "$hooks_before" "$(hooks)"
	mv "$PIN/$old" "$PIN/$name"
}
refused vpnpt_pptp_calls_v2 vpnpt_pptp_calls_v1
refused vpnpt_ifaces_v2 vpnpt_ifaces_v1

lab_start_vpnpt s1
lab_assert_eq "with its own pin names back, the data plane is adopted (same programs)" "$hooks_before" "$(hooks)"
lab_assert_eq "the call is listed" 1 "$(lab_router_exec s1 "$VPNPT" sessions --json | lab_json 'sum(r["proto"] == "pptp" for r in d)')"
for ((t = 0; t < 300; t++)); do [[ -e $d/pptp-c1.ready ]] && break; sleep 0.1; done
touch "$d/release"
lab_wait_pids 20 "$PPTP_CLIENT" || true
sleep 1
lab_assert_eq "every GRE packet the server sent on the call reached the client despite the refused attaches" "$N" \
	"$(lab_json '" ".join(str(v) for _, v in sorted(d["rx_at_ready"].items()))' <"$d/pptp-c1.json")"
lab_log "== PASS: foreign pins"
