#!/usr/bin/env bash
# Daemon restarts lose no session: while two PPTP calls (colliding Call IDs
# are not needed here) and a raw-ESP tunnel carry traffic, the vpnpt daemon
# is killed with SIGKILL and started again. The data plane keeps forwarding
# on its own throughout, the restarted daemon adopts the pinned state (same
# programs, same sessions), and every packet arrives.
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
. "$(dirname "$0")/../../lib/lib.sh"
lab_init "${1:-}"
N=${N:-80}            # packets per call/SA and direction
INTERVAL=${INTERVAL:-0.05}

lab_site s1 2 2
lab_start_vpnpt s1
S1=$(lab_server_ip s1 1)
S2=$(lab_server_ip s1 2)
d=$LAB_STATE/restart
mkdir -p "$d"
progs_before=$(lab_status_json s1 | lab_json '" ".join(str(i["prog_id"]) for i in d["interfaces"])')

lab_bg pptp-server ip netns exec "$(lab_ns s1 s1)" "$LAB_PY" "$LAB_PEERS/pptp" server --expect 1 --count "$N" \
	--interval "$INTERVAL" --report "$d/pptp-server.json" --ready-file "$d/pptp-server.ready" --max-time 40
lab_bg esp-server ip netns exec "$(lab_ns s1 s2)" "$LAB_PY" "$LAB_PEERS/ipsec" server --count "$N" \
	--interval "$INTERVAL" --report "$d/esp-server.json" --ready-file "$d/esp-server.ready" --release-file "$d/release" \
	--max-time 40
for ((t = 0; t < 50; t++)); do [[ -e $d/pptp-server.ready && -e $d/esp-server.ready ]] && break; sleep 0.1; done
lab_bg pptp-c1 ip netns exec "$(lab_ns s1 c1)" "$LAB_PY" "$LAB_PEERS/pptp" client --server "$S1" --name c1 \
	--index 1 --call-id 1000 --calls 2 --count "$N" --interval "$INTERVAL" --rx-wait 15 --report "$d/pptp-c1.json" \
	--ready-file "$d/pptp-c1.ready" --release-file "$d/release" --max-time 35
PPTP_CLIENT=$LAB_BG_PID
lab_bg esp-c2 ip netns exec "$(lab_ns s1 c2)" "$LAB_PY" "$LAB_PEERS/ipsec" host --server "$S2" --name c2 \
	--index 2 --count "$N" --interval "$INTERVAL" --rx-wait 15 --report "$d/esp-c2.json" --ready-file "$d/esp-c2.ready" \
	--release-file "$d/release" --max-time 35

# Let the sessions come up and carry traffic, then kill the daemon mid-flow.
for ((t = 0; t < 100; t++)); do
	[[ $(lab_router_exec s1 "$VPNPT" sessions --json | lab_json 'sum(1 for r in d if r["packets_in"] > 3)') -ge 3 ]] && break
	sleep 0.1
done
pid=$(lab_vpnpt_pid s1)
kill -KILL "$pid"
lab_stop_vpnpt s1 # reaps it
lab_pass "daemon (pid $pid) killed with SIGKILL while traffic flowed"
lab_assert "the data plane stays attached without a daemon" \
	bash -c "ip -n '$(lab_ns s1 router)' link show wan0 | grep -q xdp && ip -n '$(lab_ns s1 router)' link show lan0 | grep -q xdp"
sleep 1 # traffic keeps flowing with no daemon at all
lab_start_vpnpt s1
progs_after=$(lab_status_json s1 | lab_json '" ".join(str(i["prog_id"]) for i in d["interfaces"])')
lab_assert_eq "the restarted daemon adopted the same programs" "$progs_before" "$progs_after"
lab_assert_eq "the sessions survived the restart (2 PPTP calls + 1 IPsec pair)" "2 1" \
	"$(lab_router_exec s1 "$VPNPT" sessions --json | lab_json '"%d %d" % (sum(r["proto"] == "pptp" for r in d), sum(r["proto"] == "ipsec" and r["state"] == "bound" for r in d))')"

for ((t = 0; t < 200; t++)); do [[ -e $d/pptp-c1.ready && -e $d/esp-c2.ready ]] && break; sleep 0.1; done
touch "$d/release"
lab_wait_pids 15 "$PPTP_CLIENT" || true
sleep 1
lab_assert_eq "PPTP: every GRE packet of both calls arrived despite the restart" "$N $N" \
	"$(lab_json '" ".join(str(v) for _, v in sorted(d["rx_at_ready"].items()))' <"$d/pptp-c1.json")"
lab_assert_eq "IPsec: every ESP echo after the binding arrived despite the restart (one lost to the binding at most)" \
	"ok" "$(lab_json '"ok" if d["sas"] and all(len(set(s["rx_echo"])) >= '"$N"' - 1 for s in d["sas"]) else "got %s" % [len(set(s["rx_echo"])) for s in d["sas"]]' <"$d/esp-c2.json")"
lab_log "== PASS: restart"
