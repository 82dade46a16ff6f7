#!/usr/bin/env bash
# An upgrade keeps every session and its traffic: the OLD build (the previous
# release: tools/upgrade-base, built by tools/build-base.sh) is attached, one
# LAN host has a PPTP call, a raw-ESP SA and an L2TP tunnel to a server with
# steady traffic both ways (a packet every INTERVAL on each), and the router
# is upgraded as a package update restarts the service: SIGTERM to the old
# daemon (its pins and programs stay; the data plane forwards on its own),
# then the NEW build's `vpnpt attach` with the same arguments, which adopts
# the pinned state (same layouts) or upgrades it in place.
#
# Checks: the old daemon leaves the data plane attached; the new daemon runs,
# serves and has both interfaces attached; every session vpnpt listed before
# is listed after (`vpnpt sessions --json`: protocol, host, server, IDs);
# traffic passes both ways after the upgrade, nothing lost before or after it
# (netns-lab/tests/daemon/upgrade_measure.py); if the new daemon adopted the very same
# programs (a same-build restart), nothing lost during it either.
# Figures (not checked: timing on a shared machine is not a guarantee): per
# protocol and direction, packets sent, received and lost, and the longest
# inter-arrival gap: the lines "MEASURE" (docs/operations.md, "The upgrade test").
#
# Usage: netns-lab/tests/daemon/upgrade.sh OLD_VPNPT NEW_VPNPT
#        (OLD = NEW: a plain restart of one build, the baseline)
# Exit:  0 pass, 1 fail, 77 skipped
# Env:   N=2000 packets per stream, INTERVAL=0.01 s, PRE=2 s of traffic before
#        the upgrade, SETTLE=0.5 s, MIN_AFTER=100 packets per stream after it,
#        LAB_KEEP_LOGS=1 keeps the state dir (reports, measure.json).
set -euo pipefail
# shellcheck source=netns-lab/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lib/lib.sh"
[[ $# -eq 2 ]] || lab_fail "usage: upgrade.sh OLD_VPNPT NEW_VPNPT (got $# arguments)"
NEW=$2
[[ -x "$NEW" ]] || lab_fail "new vpnpt binary not found or not executable: $NEW"
NEW=$(cd "$(dirname "$NEW")" && pwd)/$(basename "$NEW")
lab_init "$1"
OLD=$VPNPT
N=${N:-2000}
INTERVAL=${INTERVAL:-0.01}
PRE=${PRE:-2}
SETTLE=${SETTLE:-0.5}
MIN_AFTER=${MIN_AFTER:-100}
MAXT=$(awk -v n="$N" -v i="$INTERVAL" 'BEGIN { printf "%d", n * i * 3 + 60 }') # the peers' bound, s

lab_log "== vpnpt upgrade lab, run $LAB_ID"
lab_log "   old $OLD (sha256 $(sha256sum "$OLD" | cut -c1-12))"
lab_log "   new $NEW (sha256 $(sha256sum "$NEW" | cut -c1-12))"
lab_log "   $N packets per stream, every $INTERVAL s"

# Monotonic time (the peers' clock, time.monotonic(): one clock for every
# namespace) without a Python start per reading: the wall clock as bash reads
# it at the call ($EPOCHREALTIME) minus the offset between the two clocks.
MONO_OFF=$("$LAB_PY" -c 'import time; print("%.6f" % (time.time() - time.monotonic()))')
mono() { awk -v w="$EPOCHREALTIME" -v o="$MONO_OFF" 'BEGIN { printf "%.4f\n", w - o }'; }

lab_site s1 1 1
lab_start_vpnpt s1
SNS=$(lab_ns s1 s1)
HNS=$(lab_ns s1 c1)
SRV=$(lab_server_ip s1 1)
d=$LAB_STATE/upgrade
mkdir -p "$d"
lab_pass "old vpnpt attached (pid $(lab_vpnpt_pid s1))"
progs_before=$(lab_status_json s1 | lab_json '" ".join("%s:%s" % (i["name"], i["prog_id"]) for i in d["interfaces"])')

# The servers, then the client's three sessions (as lib/crafted-sessions.sh, with
# the ESP server and the LNS sending their own steady streams: --push N).
lab_bg pptp-server ip netns exec "$SNS" "$LAB_PY" "$LAB_PEERS/pptp" server --expect 1 --count "$N" \
	--interval "$INTERVAL" --report "$d/pptp-server.json" --ready-file "$d/pptp-server.ready" --max-time "$MAXT"
SRV_PIDS=("$LAB_BG_PID")
lab_bg esp-server ip netns exec "$SNS" "$LAB_PY" "$LAB_PEERS/ipsec" server --count "$N" --push "$N" \
	--interval "$INTERVAL" --report "$d/esp-server.json" --ready-file "$d/esp-server.ready" \
	--release-file "$d/release" --max-time "$MAXT"
SRV_PIDS+=("$LAB_BG_PID")
lab_bg lns ip netns exec "$SNS" "$LAB_PY" "$LAB_PEERS/l2tp" lns --report "$d/lns.json" \
	--ready-file "$d/lns.ready" --expect 1 --push "$N" --push-interval "$INTERVAL" --max-time "$MAXT"
SRV_PIDS+=("$LAB_BG_PID")
for ((t = 0; t < 50; t++)); do
	[[ -e $d/pptp-server.ready && -e $d/esp-server.ready && -e $d/lns.ready ]] && break
	sleep 0.1
done
[[ -e $d/pptp-server.ready && -e $d/esp-server.ready && -e $d/lns.ready ]] || lab_fail "the servers did not start in 5 s"
lab_bg pptp-client ip netns exec "$HNS" "$LAB_PY" "$LAB_PEERS/pptp" client --server "$SRV" --name c1 \
	--index 1 --call-id 1000 --calls 1 --count "$N" --interval "$INTERVAL" --rx-wait 20 \
	--report "$d/pptp-client.json" --ready-file "$d/pptp-client.ready" --release-file "$d/release" --max-time "$MAXT"
CLI_PIDS=("$LAB_BG_PID")
lab_bg esp-host ip netns exec "$HNS" "$LAB_PY" "$LAB_PEERS/ipsec" host --server "$SRV" --name c1 \
	--index 1 --count "$N" --interval "$INTERVAL" --rx-wait 20 --report "$d/esp-host.json" \
	--ready-file "$d/esp-host.ready" --release-file "$d/release" --max-time "$MAXT"
CLI_PIDS+=("$LAB_BG_PID")
lab_bg lac ip netns exec "$HNS" "$LAB_PY" "$LAB_PEERS/l2tp" lac --server "$SRV" --name c1 \
	--index 1 --tunnel-id 4242 --count "$N" --interval "$INTERVAL" --paced --rx-wait 20 --report "$d/lac.json" \
	--ready-file "$d/lac.ready" --release-file "$d/release" --max-time "$MAXT"
CLI_PIDS+=("$LAB_BG_PID")

# sessions_json FILE: `vpnpt sessions --json` of the router into FILE.
sessions_json() { lab_router_exec s1 "$VPNPT" sessions --json >"$1"; }
# sessions_missing BEFORE AFTER: the sessions of BEFORE that AFTER does not list (one line each):
# the same protocol, host and server, and every ID BEFORE names with the same value (a newer
# build may name more IDs; its counters and states are not compared).
sessions_missing() {
	"$LAB_PY" - "$1" "$2" <<'PY'
import json, sys
before, after = (json.load(open(p)) for p in sys.argv[1:3])
def same(b, a):
    return (all(b[k] == a.get(k) for k in ("proto", "host", "server"))
            and all(a.get("ids", {}).get(k) == v for k, v in b.get("ids", {}).items()))
for b in before:
    if not any(same(b, a) for a in after):
        print("%s %s>%s %s" % (b["proto"], b["host"], b["server"], json.dumps(b.get("ids"), sort_keys=True)))
PY
}
# up: PPTP, ESP (bound) and L2TP sessions with inbound packets
up=""
for ((t = 0; t < 150; t++)); do
	up=$(lab_router_exec s1 "$VPNPT" sessions --json | lab_json '"%d %d %d" % tuple(sum(1 for r in d if r["proto"] == p and r["packets_in"] > 3 and r["packets_out"] > 3 and r["state"] != "closing") for p in ("pptp", "ipsec", "l2tp"))')
	[[ "$up" == "1 1 1" ]] && break
	sleep 0.1
done
lab_assert_eq "old vpnpt: a PPTP call, an ESP SA and an L2TP tunnel carry traffic both ways" "1 1 1" "$up"
sleep "$PRE" # steady traffic through the old build
sessions_json "$d/sessions-before.json"
lab_router_exec s1 "$VPNPT" sessions >"$d/sessions-before.txt"
lab_info "sessions before the upgrade:"
sed 's/^/     | /' "$d/sessions-before.txt"

# ---- the upgrade: SIGTERM the old daemon, attach the new build with the same arguments.
old_pid=$(lab_vpnpt_pid s1)
T_STOP=$(mono)
lab_stop_vpnpt s1
T_STOPPED=$(mono)
lab_pass "old daemon (pid $old_pid) stopped by SIGTERM (exit $LAB_VPNPT_EXIT) in $(awk -v a="$T_STOP" -v b="$T_STOPPED" 'BEGIN { printf "%.2f", b - a }') s"
lab_assert_eq "the data plane stays attached without a daemon" "lan0 wan0" \
	"$(lab_status_json s1 | lab_json '" ".join(sorted(i["name"] for i in d["interfaces"] if i["attached"]))')"
VPNPT=$NEW # from here on (and lab_cleanup's detach): the new build
lab_start_vpnpt s1 # fails if the new attach refuses or exits, or is not serving with both interfaces in 10 s
T_READY=$(mono)
new_pid=$(lab_vpnpt_pid s1)
lab_pass "new vpnpt attached, serving (pid $new_pid) $(awk -v a="$T_STOP" -v b="$T_READY" 'BEGIN { printf "%.2f", b - a }') s after the SIGTERM"
st=$(lab_status_json s1)
lab_check_eq "status --json: the new daemon runs and serves" "$new_pid True" \
	"$(lab_json '"%s %s" % (d["daemon_pid"], bool(d["daemon_serving"]))' <<<"$st")"
lab_check_eq "status --json: wan0 and lan0 attached with a program" "lan0 wan0" \
	"$(lab_json '" ".join(sorted(i["name"] for i in d["interfaces"] if i["attached"] and i.get("prog_id")))' <<<"$st")"
progs_after=$(lab_json '" ".join("%s:%s" % (i["name"], i["prog_id"]) for i in d["interfaces"])' <<<"$st")
adopted=()
if [[ "$progs_before" == "$progs_after" ]]; then
	lab_info "the new daemon adopted the old programs ($progs_after): a same-build restart"
	adopted=(--adopted)
else
	lab_info "the new daemon replaced the programs ($progs_before -> $progs_after): an upgrade"
fi
sessions_json "$d/sessions-after.json"
lab_router_exec s1 "$VPNPT" sessions >"$d/sessions-after.txt"
lab_info "sessions after the upgrade:"
sed 's/^/     | /' "$d/sessions-after.txt"
missing=$(sessions_missing "$d/sessions-before.json" "$d/sessions-after.json")
n_before=$(lab_json 'len(d)' <"$d/sessions-before.json")
lab_check "every session listed before the upgrade ($n_before) is listed after it" "$([[ -z $missing ]] && echo 1 || echo 0)" \
	"${missing:+missing: $missing}"
lab_check_eq "... the PPTP call, the ESP SA and the L2TP tunnel" "1 1 1" \
	"$(lab_router_exec s1 "$VPNPT" sessions --json | lab_json '"%d %d %d" % (sum(r["proto"] == "pptp" for r in d), sum(r["proto"] == "ipsec" and r["state"] == "bound" for r in d), sum(r["proto"] == "l2tp" for r in d))')"

# ---- the rest of the traffic, then the figures.
for ((t = 0; t < 10 * (MAXT - 10); t++)); do
	[[ -e $d/pptp-client.ready && -e $d/esp-host.ready && -e $d/lac.ready ]] && break
	sleep 0.1
done
sleep 0.5 # the last pushes and echoes
T_END=$(mono)
touch "$d/release"
lab_wait_pids 30 "${CLI_PIDS[@]}" || lab_warn "a client failed or was stopped (see its log)"
lab_wait_pids 15 "${SRV_PIDS[@]}" || lab_warn "a server failed or was stopped (see its log)"
alive=0
_lab_pid_alive "$new_pid" && alive=1
lab_check "the new daemon (pid $new_pid) still runs after the traffic" "$alive"
lab_log "MEASURE upgrade: old daemon gone $(awk -v a="$T_STOP" -v b="$T_STOPPED" 'BEGIN { printf "%.2f", b - a }') s, new daemon serving $(awk -v a="$T_STOP" -v b="$T_READY" 'BEGIN { printf "%.2f", b - a }') s after the SIGTERM ($([[ ${#adopted[@]} -gt 0 ]] && echo "same programs adopted" || echo "programs replaced"))"
rc=0
"$LAB_PY" "$LAB_DIR/tests/daemon/upgrade_measure.py" --dir "$d" --t-stop "$T_STOP" --t-ready "$T_READY" --t-end "$T_END" \
	--settle "$SETTLE" --min-after "$MIN_AFTER" --json "$d/measure.json" "${adopted[@]}" || rc=$?
((rc == 0)) || LAB_CHECK_FAILS=$((LAB_CHECK_FAILS + 1))
((LAB_CHECK_FAILS == 0)) || lab_fail "$LAB_CHECK_FAILS check(s) failed (above)"
lab_log "== PASS: upgrade ($([[ ${#adopted[@]} -gt 0 ]] && echo "same programs adopted" || echo "programs replaced"))"
