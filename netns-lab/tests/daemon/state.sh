#!/usr/bin/env bash
# vpnpt state save/restore across a detach: while a PPTP call, a raw-ESP
# SA pair and an L2TP tunnel (lib/crafted-sessions.sh) carry traffic, `vpnpt state save` writes their
# sessions (the daemon keeps running); the daemon is stopped, a restore of
# a copy naming another public IP is refused and changes nothing; then
# `vpnpt detach` removes programs and pins, `vpnpt attach --restore FILE`
# attaches afresh with the saved sessions, every session is listed again
# with its ids and age, and traffic passes both ways through the restored
# sessions (their counters grow, the peers' last packets are answered, the
# PPTP call is torn down through the restored control-stream trackers).
# Usage: netns-lab/tests/daemon/state.sh [VPNPT]   Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
. "$(dirname "$0")/../../lib/lib.sh"
lab_init "${1:-}"
N=${N:-600}           # packets per call/SA/tunnel, every INTERVAL: 30 s, to span the detach and a slow attach
INTERVAL=${INTERVAL:-0.05}

lab_site s1 1 1
lab_start_vpnpt s1
d=$LAB_STATE/state
mkdir -p "$d"
sessions() { lab_router_exec s1 "$VPNPT" sessions --json; }
cmp_py() { "$LAB_PY" "$LAB_DIR/tests/daemon/state_sessions.py" "$@"; }
# What identifies each session (protocol, hosts, every id, state), sorted: equal before and after.
ids() { cmp_py ids "$1"; }

# shellcheck source=netns-lab/lib/crafted-sessions.sh
. "$LAB_LIB/crafted-sessions.sh"
sessions_start s1 c1 x # a PPTP call, a raw-ESP SA pair and an L2TP tunnel from c1 to s1

# Every session up and carrying traffic both ways, then save with the daemon running.
for ((t = 0; t < 100; t++)); do
	[[ $(sessions | lab_json 'sum(1 for r in d if r["packets_in"] > 3 and r["packets_out"] > 3)') -ge 3 ]] && break
	sleep 0.1
done
lab_assert_eq "a PPTP call, an IPsec pair and an L2TP tunnel carry traffic both ways" "1 1 1" \
	"$(sessions | lab_json '"%d %d %d" % tuple(sum(r["proto"] == p and r["packets_in"] > 3 and r["packets_out"] > 3 for r in d) for p in ("pptp", "ipsec", "l2tp"))')"
lab_router_exec s1 "$VPNPT" state save "$d/state.json"
sessions >"$d/sessions-saved.json"
lab_assert "vpnpt state save wrote the file while the daemon ran" test -s "$d/state.json"
lab_assert_eq "the file names this router" "wan0 $(lab_wan_ip s1)" "$(lab_json '"%s %s" % (d["wan_if"], d["public_ip"])' <"$d/state.json")"

rc=0
lab_router_exec s1 "$VPNPT" state restore "$d/state.json" >"$d/running.log" 2>&1 || rc=$?
lab_assert_eq "vpnpt state restore refuses while the daemon runs" "1 1" \
	"$((rc != 0)) $(grep -c 'daemon of wan0 is running; stop it first.*nothing changed' "$d/running.log")"

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
	((grown >= 3)) && break
	sleep 0.1
done
lab_assert_eq "every restored session carries new traffic both ways (packets in and out grow)" 3 "$grown"

sessions_finish x
lab_log "packets the client got from its server (pptp esp l2tp, of $N each): $SESS_RX"
last=$((N - 1))
# Until the programs are attached again, GRE goes to the kernel's NAT, which without its PPTP
# helper does not bring it back: the checks are on the last packets, sent after the restore.
lab_assert_eq "PPTP: the server's last GRE arrived after the restore" "ok" \
	"$(lab_json '"ok" if '"$last"' in [g["seq"] for g in d["gre"] if g["key"] == 1000] else "got %s" % d["rx_at_ready"]' <"$d/x-pptp.json")"
lab_assert_eq "PPTP: the call was torn down through the restored control-stream trackers" "true" \
	"$(lab_json 'd["ok"] and len(d.get("cdn_ids", [])) == 1' <"$d/x-pptp.json")"
lab_assert_eq "IPsec: the last ESP packets were echoed after the restore" "ok" \
	"$(lab_json '"ok" if d["sas"] and all('"$last"' in s["rx_echo"] for s in d["sas"]) else "highest %s" % [max(s["rx_echo"] or [None]) for s in d["sas"]]' <"$d/x-esp.json")"
lab_assert_eq "L2TP: the last data messages were echoed after the restore" "ok" \
	"$(lab_json '"ok" if d["up"] and '"$last"' in d["echo_seqs"] else "up %s, highest %s" % (d["up"], max(d["echo_seqs"] or [None]))' <"$d/x-lac.json")"
lab_log "== PASS: state"
