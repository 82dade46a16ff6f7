#!/usr/bin/env bash
# Under journald, every line about a session carries VPNPT_HOST=,
# VPNPT_SERVER= and VPNPT_PROTO= (and VPNPT_WAN=), so `journalctl
# VPNPT_HOST=<host>` tells one LAN host's story and nobody else's.
#
# A real systemd-journald runs in a private mount namespace (tmpfs over
# /run/systemd, /run/log and /var/log/journal: the machine's journal is
# untouched), and vpnpt runs as a service would: its stdout and stderr a
# journal stream (systemd-cat) and JOURNAL_STREAM naming it. Two LAN hosts
# each set up two PPTP calls with the same Call IDs to one server, which
# then disconnects them.
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

# The private mount namespace: created by a first run of this script, which
# waits for the second and removes the mount points it had to create.
if [[ -z "${LAB_JOURNAL_PRIVATE:-}" ]]; then
	made=()
	for d in /run/systemd /run/log; do
		[[ -d $d ]] || { mkdir -p "$d" && made+=("$d"); }
	done
	rc=0
	LAB_JOURNAL_PRIVATE=1 unshare --mount --propagation private bash "$0" "$@" || rc=$?
	for d in "${made[@]}"; do rmdir "$d" 2>/dev/null || true; done
	exit "$rc"
fi

. "$(dirname "$0")/../../lib/lib.sh"
lab_init "${1:-}"
PEERS=$LAB_PEERS/pptp
JOURNALD=/lib/systemd/systemd-journald
for t in "$JOURNALD" journalctl systemd-cat; do
	command -v "$t" >/dev/null || lab_skip "$t is missing (apt-get install systemd)"
done

for d in /run/systemd /run/log /var/log/journal; do
	[[ -d $d ]] && mount -t tmpfs -o mode=0755 tmpfs "$d"
done
lab_bg journald "$JOURNALD"
for ((i = 0; i < 50; i++)); do [[ -S /run/systemd/journal/stdout ]] && break; sleep 0.1; done
[[ -S /run/systemd/journal/stdout ]] || lab_fail "systemd-journald did not start (see $LAB_STATE/journald.log)"
lab_pass "a private systemd-journald runs (pid $LAB_BG_PID)"
# jq-free reading of the journal: entries as JSON lines.
jlines() { journalctl --no-pager -o json "$@" 2>/dev/null || true; }

lab_site s1 2 1
SRV=$(lab_server_ip s1 1)
C1=$(lab_client_ip s1 1)
C2=$(lab_client_ip s1 2)
SNS=$(lab_ns s1 s1)
d=$LAB_STATE/journal
mkdir -p "$d"

# As systemd runs a service: the stream is stdout and stderr, JOURNAL_STREAM its device:inode.
# shellcheck disable=SC2016  # expanded by the wrapper's shell
LAB_VPNPT_WRAP=(systemd-cat -t vpnpt -- sh -c 'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$@"' sh)
lab_start_vpnpt s1

# ---------------------------------------------------------------- two hosts, same Call IDs, one server
lab_bg pptp-server ip netns exec "$SNS" "$LAB_PY" "$PEERS" server --expect 2 --count 5 --report "$d/server.json" \
	--ready-file "$d/server.ready" --max-time 25
for ((i = 0; i < 50; i++)); do [[ -e $d/server.ready ]] && break; sleep 0.1; done
pids=()
for c in 1 2; do
	lab_bg "pptp-c$c" ip netns exec "$(lab_ns s1 "c$c")" "$LAB_PY" "$PEERS" client --server "$SRV" --name "c$c" \
		--index "$c" --call-id 1000 --calls 2 --count 5 --report "$d/c$c.json" --ready-file "$d/c$c.ready" \
		--release-file "$d/release" --max-time 20
	pids+=("$LAB_BG_PID")
done
for ((i = 0; i < 100; i++)); do [[ -e $d/c1.ready && -e $d/c2.ready ]] && break; sleep 0.1; done
[[ -e $d/c1.ready && -e $d/c2.ready ]] || lab_fail "the crafted PPTP clients did not get their calls up"
touch "$d/release"
lab_wait_pids 10 "${pids[@]}" || true
# The daemon handles the server's Call-Disconnect-Notify on its next tick; journald writes soon after.
for ((i = 0; i < 50; i++)); do
	(($(jlines VPNPT_PROTO=pptp | grep -c 'closed by the server' || true) >= 4)) && break
	sleep 0.2
done

jlines SYSLOG_IDENTIFIER=vpnpt >"$d/all.json"
jlines "VPNPT_HOST=$C1" >"$d/c1.json"
jlines "VPNPT_HOST=$C2" >"$d/c2.json"
lab_info "journalctl VPNPT_HOST=$C1:"
journalctl --no-pager -o cat "VPNPT_HOST=$C1" 2>/dev/null | sed 's/^/    journal| /'
# summary FILE HOST OTHER: "<entries> <all about HOST> <all name HOST in words> <OTHER named> <calls set up>
#   <calls closed by the server> <control connections stopping> <protos> <servers> <wans>" over FILE's JSON lines.
summary() {
	"$LAB_PY" - "$1" "$2" "$3" <<'PY'
import json, sys
path, host, other = sys.argv[1:4]
rows = [json.loads(l) for l in open(path) if l.strip()]
msg = [r.get("MESSAGE", "") for r in rows]
print(len(rows),
      all(r.get("VPNPT_HOST") == host for r in rows),
      all(host in m for m in msg),
      sum(other in m for m in msg),
      sum("PPTP call set up" in m for m in msg),
      sum("closed by the server" in m for m in msg),
      sum("control connection" in m and "stopping" in m for m in msg),
      ",".join(sorted({r.get("VPNPT_PROTO", "-") for r in rows})),
      ",".join(sorted({r.get("VPNPT_SERVER", "-") for r in rows})),
      ",".join(sorted({r.get("VPNPT_WAN", "-") for r in rows})))
PY
}
lab_assert_eq "journalctl VPNPT_HOST=$C1: its two calls set up and closed, its control connection, nothing of $C2" \
	"5 True True 0 2 2 1 pptp $SRV wan0" "$(summary "$d/c1.json" "$C1" "$C2")"
lab_assert_eq "journalctl VPNPT_HOST=$C2: its two calls set up and closed, its control connection, nothing of $C1" \
	"5 True True 0 2 2 1 pptp $SRV wan0" "$(summary "$d/c2.json" "$C2" "$C1")"
lab_assert_eq "journalctl VPNPT_SERVER=$SRV VPNPT_PROTO=pptp: both hosts' 10 lines" 10 \
	"$(jlines "VPNPT_SERVER=$SRV" VPNPT_PROTO=pptp | grep -c . || true)"
lab_assert "the daemon's own lines are in the journal too, about no host" \
	"$LAB_PY" -c "import json,sys; r=[json.loads(l) for l in open('$d/all.json') if l.strip()]; sys.exit(0 if any('vpnpt daemon running' in x.get('MESSAGE','') and 'VPNPT_HOST' not in x and x.get('PRIORITY') == '6' for x in r) else 1)"

lab_stop_vpnpt s1
lab_detach_vpnpt s1
lab_log "== PASS: journal"
