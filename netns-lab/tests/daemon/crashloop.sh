#!/usr/bin/env bash
# A crash-looping daemon never leaves a half-attached data plane behind: the
# daemon is started and killed with SIGKILL at random moments of its attach
# (bounded: K rounds, each killed within 2 s), as a unit with Restart=always and
# a crash in startup would do. After every kill the next start must come up
# cleanly (adopting or completing what the killed one left), and at the end
# the data plane forwards, both interfaces carry vpnpt's recorded programs,
# and `vpnpt detach` leaves no program, pin or lock.
# Exit 0 pass, 1 fail, 77 skip. Env: K (rounds, 12).
set -euo pipefail
. "$(dirname "$0")/../../lib/lib.sh"
lab_init "${1:-}"
K=${K:-12}

lab_site s1 1 1
R=$(lab_ns s1 router)
S1=$(lab_server_ip s1 1)
log=$LAB_STATE/crashloop.log

# The interfaces vpnpt's pins say it attached, and what the kernel says is on them.
consistent() {
	local st
	st=$(lab_status_json s1 2>&1) || { printf '%s\n' "$st" >"$LAB_STATE/last-status.txt"; return 1; }
	printf '%s\n' "$st" >"$LAB_STATE/last-status.txt"
	lab_json "all(i['attached'] for i in d['interfaces']) and {i['name'] for i in d['interfaces']} == {'wan0', 'lan0'}" <<<"$st" | grep -qi '^true$'
}

LAB_VPNPT_USED[s1]=1 # lab_cleanup detaches whatever is left
killed_during=0
for ((k = 1; k <= K; k++)); do
	delay_ms=$((RANDOM % 2000))
	nsenter --net="/run/netns/$R" "$VPNPT" attach wan0 --lan lan0 --no-metrics >>"$log" 2>&1 &
	pid=$!
	sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
	if kill -KILL "$pid" 2>/dev/null; then killed_during=$((killed_during + 1)); fi
	wait "$pid" 2>/dev/null || true
	# Whatever the kill interrupted, a normal start now comes up complete.
	lab_start_vpnpt s1 --no-metrics
	consistent || { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("    status| interfaces:", d["interfaces"])' "$LAB_STATE/last-status.txt" || true; lab_fail "round $k (killed after ${delay_ms} ms): the next start is not fully attached"; }
	lab_stop_vpnpt s1
done
lab_pass "$K starts killed with SIGKILL at random points (0-2000 ms; $killed_during still running when killed), each followed by a clean start"

# The data plane the loop leaves behind works: traffic is counted and forwarded.
lab_start_vpnpt s1 --no-metrics
consistent && lab_pass "both interfaces carry vpnpt's recorded programs" || lab_fail "not fully attached after the loop"
before=$(lab_counter s1 outbound other packets)
lab_host_exec s1 c1 ping -c 5 -i 0.2 -W 1 "$S1" >/dev/null || lab_fail "ping through the router failed"
after=$(lab_counter s1 outbound other packets)
lab_assert_ge "the data plane counts the LAN's traffic after the crash loop" 5 $((after - before))
ids=$(lab_status_json s1 | lab_json '" ".join(sorted(str(i["prog_id"]) for i in d["interfaces"]))')
on_links=$(ip -n "$R" -d link show | grep -o 'prog/xdp id [0-9]*' | awk '{print $3}' | sort | tr '\n' ' ' | sed 's/ $//')
lab_assert_eq "the programs on the interfaces are the recorded ones" "$ids" "$on_links"

lab_detach_vpnpt s1 || lab_fail "vpnpt detach failed"
lab_assert_not "no XDP program left on wan0 or lan0" bash -c "ip -n '$R' link | grep -q xdp"
lab_assert_not "no pins left" test -e "${LAB_PIN_DIR[s1]}"
lab_log "PASS: crash loop"
