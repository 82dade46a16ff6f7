#!/usr/bin/env bash
# vpnpt state save/restore across a detach: while two PPTP calls, a raw-ESP
# SA pair and an L2TP tunnel carry traffic, `vpnpt state save` writes their
# sessions (the daemon keeps running); the daemon is stopped, a restore of
# a copy naming another public IP is refused and changes nothing; then
# `vpnpt detach` removes programs and pins, `vpnpt attach --restore FILE`
# attaches afresh with the saved sessions, every session is listed again
# with its ids and age, and traffic passes both ways through the restored
# sessions (their counters grow, the peers' last packets are answered, the
# PPTP calls are torn down through the restored control-stream trackers).
# Usage: netns-lab/tests/daemon/state.sh [VPNPT]   Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
. "$(dirname "$0")/../../lib/lib.sh"
lab_init "${1:-}"
N=${N:-240}           # packets per call/SA/tunnel, every INTERVAL: long enough to span the detach
INTERVAL=${INTERVAL:-0.05}

lab_site s1 3 2
lab_start_vpnpt s1
S1=$(lab_server_ip s1 1)
S2=$(lab_server_ip s1 2)
d=$LAB_STATE/state
mkdir -p "$d"
sessions() { lab_router_exec s1 "$VPNPT" sessions --json; }
cmp_py() { "$LAB_PY" "$LAB_DIR/tests/daemon/state_sessions.py" "$@"; }
# What identifies each session (protocol, hosts, every id, state), sorted: equal before and after.
ids() { cmp_py ids "$1"; }

lab_bg pptp-server ip netns exec "$(lab_ns s1 s1)" "$LAB_PY" "$LAB_PEERS/pptp" server --bind "$S1" --expect 1 \
	--count "$N" --interval "$INTERVAL" --report "$d/pptp-server.json" --ready-file "$d/pptp-server.ready" --max-time 60
lab_bg esp-server ip netns exec "$(lab_ns s1 s2)" "$LAB_PY" "$LAB_PEERS/ipsec" server --count "$N" \
	--interval "$INTERVAL" --report "$d/esp-server.json" --ready-file "$d/esp-server.ready" --release-file "$d/release" \
	--max-time 60
lab_bg lns ip netns exec "$(lab_ns s1 s1)" "$LAB_PY" "$LAB_PEERS/l2tp" lns --bind "$S1" --expect 1 \
	--report "$d/lns.json" --ready-file "$d/lns.ready" --max-time 60
for ((t = 0; t < 50; t++)); do [[ -e $d/pptp-server.ready && -e $d/esp-server.ready && -e $d/lns.ready ]] && break; sleep 0.1; done
lab_bg pptp-c1 ip netns exec "$(lab_ns s1 c1)" "$LAB_PY" "$LAB_PEERS/pptp" client --server "$S1" --name c1 \
	--index 1 --call-id 1000 --calls 2 --count "$N" --interval "$INTERVAL" --rx-wait 15 --report "$d/pptp-c1.json" \
	--ready-file "$d/pptp-c1.ready" --release-file "$d/release" --max-time 55
PPTP_CLIENT=$LAB_BG_PID
lab_bg esp-c2 ip netns exec "$(lab_ns s1 c2)" "$LAB_PY" "$LAB_PEERS/ipsec" host --server "$S2" --name c2 \
	--index 2 --count "$N" --interval "$INTERVAL" --rx-wait 15 --report "$d/esp-c2.json" --ready-file "$d/esp-c2.ready" \
	--release-file "$d/release" --max-time 55
ESP_HOST=$LAB_BG_PID
lab_bg lac-c3 ip netns exec "$(lab_ns s1 c3)" "$LAB_PY" "$LAB_PEERS/l2tp" lac --server "$S1" --name c3 --index 3 \
	--count "$N" --interval "$INTERVAL" --paced --rx-wait 10 --report "$d/lac-c3.json" --ready-file "$d/lac-c3.ready" \
	--release-file "$d/release" --max-time 55
LAC=$LAB_BG_PID

# Every session up and carrying traffic both ways, then save with the daemon running.
for ((t = 0; t < 100; t++)); do
	[[ $(sessions | lab_json 'sum(1 for r in d if r["packets_in"] > 3 and r["packets_out"] > 3)') -ge 4 ]] && break
	sleep 0.1
done
lab_assert_eq "2 PPTP calls, 1 IPsec pair and 1 L2TP tunnel carry traffic both ways" "2 1 1" \
	"$(sessions | lab_json '"%d %d %d" % tuple(sum(r["proto"] == p and r["packets_in"] > 3 and r["packets_out"] > 3 for r in d) for p in ("pptp", "ipsec", "l2tp"))')"
lab_router_exec s1 "$VPNPT" state save "$d/state.json"
sessions >"$d/sessions-saved.json"
lab_assert "vpnpt state save wrote the file while the daemon ran" test -s "$d/state.json"
lab_assert_eq "the file names this router" "wan0 $(lab_wan_ip s1)" "$(lab_json '"%s %s" % (d["wan_if"], d["public_ip"])' <"$d/state.json")"

lab_stop_vpnpt s1
lab_pass "daemon stopped (SIGTERM); the data plane and its sessions stay"
# A copy for another public IP: refused in one line, nothing changed.
lab_json 'dict(d, public_ip="203.0.113.99")' <"$d/state.json" >"$d/other-ip.json"
rc=0
lab_router_exec s1 "$VPNPT" state restore "$d/other-ip.json" >"$d/refused.log" 2>&1 || rc=$?
lab_assert_ne "restore of a file for another public IP fails" 0 "$rc"
lab_assert_eq "... in one line naming the problem" "1 1" \
	"$(wc -l <"$d/refused.log") $(grep -c 'public IP 203.0.113.99, this attachment has .*nothing changed' "$d/refused.log")"
sessions >"$d/sessions-refused.json"
lab_assert_eq "... and changes no session" "$(ids "$d/sessions-saved.json")" "$(ids "$d/sessions-refused.json")"

lab_detach_vpnpt s1
any_sessions() { lab_router_exec s1 "$VPNPT" sessions --json >/dev/null 2>&1; }
lab_assert_not "vpnpt detach removed the sessions with the pins" any_sessions
lab_start_vpnpt s1 --restore "$d/state.json"
grep -h 'restored from' "$LAB_STATE/vpnpt-s1.log" | tail -1 | sed 's/^/    /'
sessions >"$d/sessions-restored.json"
lab_assert_eq "every saved session is listed again after attach --restore, ids and states unchanged" \
	"$(ids "$d/sessions-saved.json")" "$(ids "$d/sessions-restored.json")"
lab_assert_eq "... and no session is younger than at the save (timers kept)" "ok" \
	"$(cmp_py younger "$d/sessions-saved.json" "$d/sessions-restored.json")"

# Traffic through the restored sessions: each one's counters grow both ways.
for ((t = 0; t < 50; t++)); do
	sessions >"$d/sessions-now.json"
	grown=$(cmp_py grown "$d/sessions-restored.json" "$d/sessions-now.json" 5)
	((grown >= 4)) && break
	sleep 0.1
done
lab_assert_eq "every restored session carries new traffic both ways (packets in and out grow)" 4 "$grown"

for ((t = 0; t < 300; t++)); do [[ -e $d/pptp-c1.ready && -e $d/esp-c2.ready && -e $d/lac-c3.ready ]] && break; sleep 0.1; done
touch "$d/release"
lab_wait_pids 20 "$PPTP_CLIENT" "$ESP_HOST" "$LAC" || true
last=$((N - 1))
# Until the programs are attached again, GRE goes to the kernel's NAT, which without its PPTP
# helper does not bring it back: the checks are on the last packets, sent after the restore.
lab_assert_eq "PPTP: the server's last GRE of both calls arrived after the restore" "ok" \
	"$(lab_json '"ok" if d["call_ids"] and all('"$last"' in [g["seq"] for g in d["gre"] if g["key"] == c] for c in d["call_ids"]) else "got %s" % d["rx_at_ready"]' <"$d/pptp-c1.json")"
lab_assert_eq "PPTP: the calls were torn down through the restored control-stream trackers" "true" \
	"$(lab_json 'd["ok"] and len(d.get("cdn_ids", [])) == 2' <"$d/pptp-c1.json")"
lab_assert_eq "IPsec: the last ESP packets were echoed after the restore" "ok" \
	"$(lab_json '"ok" if d["sas"] and all('"$last"' in s["rx_echo"] for s in d["sas"]) else "highest %s" % [max(s["rx_echo"] or [None]) for s in d["sas"]]' <"$d/esp-c2.json")"
lab_assert_eq "L2TP: the last data messages were echoed after the restore" "ok" \
	"$(lab_json '"ok" if d["up"] and '"$last"' in d["echo_seqs"] else "up %s, highest %s" % (d["up"], max(d["echo_seqs"] or [None]))' <"$d/lac-c3.json")"
lab_log "== PASS: state"
