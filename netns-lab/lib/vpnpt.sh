# shellcheck shell=bash
# shellcheck disable=SC2034  # LAB_* globals are read by the scripts that source lib.sh
# vpnpt network-namespace lab: starting, stopping and reading vpnpt in a
# site's router (status, counters). Sourced by lib.sh.

# ---------------------------------------------------------------- vpnpt

# lab_start_vpnpt SITE [--no-lan] [EXTRA ARGS...]: `vpnpt attach wan0 --lan lan0`
# in the router, in the background; waits up to 10 s until status shows our
# daemon serving (its heartbeat fresh: the hooks hand it L2TP setup) AND
# every interface attached (the daemon takes its lock, and so
# shows up as daemon_pid, before it attaches the interfaces). --no-lan runs
# `vpnpt attach wan0` without --lan (vpnpt picks the LAN side itself; the
# lab's router has lan0 as its one private interface, so lan0 is awaited).
lab_start_vpnpt() {
	local site=$1 r log pid i ready a prev="" want="wan0 lan0" lan_args=(--lan lan0)
	shift
	if [[ "${1:-}" == --no-lan ]]; then
		lan_args=()
		shift
	fi
	for a in "$@"; do
		if [[ "$prev" == --lan ]]; then want+=" $a"; fi
		prev=$a
	done
	r=$(lab_ns "$site" router)
	[[ -z "${LAB_VPNPT_PID[$site]:-}" ]] || lab_fail "vpnpt already started in site $site"
	log="$LAB_STATE/vpnpt-$site.log"
	LAB_VPNPT_LOG[$site]=$log
	LAB_VPNPT_USED[$site]=1
	printf -- '--- vpnpt attach (%s)\n' "$(date +%T.%N)" >>"$log"
	# nsenter execs vpnpt, so $! is vpnpt's own pid (a LAB_VPNPT_WRAP command must exec too).
	# LAB_VPNPT_MODE=tc|native|skb|auto forces a data path (default: vpnpt's own choice, auto).
	"${LAB_VPNPT_WRAP[@]}" nsenter --net="/run/netns/$r" "$VPNPT" attach wan0 "${lan_args[@]}" ${LAB_VPNPT_MODE:+--mode "$LAB_VPNPT_MODE"} "$@" >>"$log" 2>&1 &
	pid=$!
	LAB_VPNPT_PID[$site]=$pid
	# Up to 30 s: an attach verifies programs (seconds each), an in-place upgrade two more, and CI
	# runs the kernel leg's QEMU guest beside the labs.
	local until=$((SECONDS + ${LAB_VPNPT_READY_S:-30}))
	for ((i = 0; i < 600 && SECONDS < until; i++)); do
		if ! _lab_pid_alive "$pid"; then
			wait "$pid" 2>/dev/null || true
			unset "LAB_VPNPT_PID[$site]"
			sed 's/^/    vpnpt| /' "$log"
			lab_fail "vpnpt attach in site $site exited before it was ready"
		fi
		ready=$(lab_status_json "$site" 2>/dev/null | lab_json "d['daemon_pid'] == $pid and d['daemon_serving'] and set('$want'.split()) <= {i['name'] for i in d['interfaces'] if i['attached']}" 2>/dev/null) || ready=""
		[[ "$ready" == true ]] && return 0
		sleep 0.1
	done
	sed 's/^/    vpnpt| /' "$log"
	lab_fail "vpnpt in site $site not ready after ${LAB_VPNPT_READY_S:-30} s"
}

# lab_stop_vpnpt SITE: SIGTERM to the daemon, waits (10 s) for it to exit.
# Sets LAB_VPNPT_EXIT to its exit status.
lab_stop_vpnpt() {
	local site=$1 pid i
	pid=${LAB_VPNPT_PID[$site]:-}
	[[ -n "$pid" ]] || lab_fail "lab_stop_vpnpt: no daemon started in site $site"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		_lab_pid_alive "$pid" || break
		sleep 0.1
	done
	_lab_pid_alive "$pid" && lab_fail "vpnpt daemon (pid $pid) in site $site did not exit within 10 s of SIGTERM"
	LAB_VPNPT_EXIT=0
	wait "$pid" 2>/dev/null || LAB_VPNPT_EXIT=$?
	unset "LAB_VPNPT_PID[$site]"
}

# lab_detach_vpnpt SITE: `vpnpt detach wan0` in the router; reaps the daemon.
lab_detach_vpnpt() {
	local site=$1 pid rc=0 i
	lab_router_exec "$site" "$VPNPT" detach wan0 >>"$LAB_STATE/vpnpt-$site.log" 2>&1 || rc=$?
	((rc != 0)) || unset "LAB_VPNPT_USED[$site]"
	pid=${LAB_VPNPT_PID[$site]:-}
	if [[ -n "$pid" ]]; then
		# detach waits for the daemon itself; give it a moment to be reaped.
		for ((i = 0; i < 50; i++)); do _lab_pid_alive "$pid" || break; sleep 0.1; done
		if ! _lab_pid_alive "$pid"; then
			wait "$pid" 2>/dev/null || true
			unset "LAB_VPNPT_PID[$site]"
		fi
	fi
	return "$rc"
}

# lab_vpnpt_pid SITE: pid of the daemon we started ("" if none).
lab_vpnpt_pid() { printf '%s\n' "${LAB_VPNPT_PID[$1]:-}"; }

# lab_status_json SITE / lab_status SITE: `vpnpt status wan0 [--json]` in the router.
# Exit status 2 ("degraded": no daemon, an interface not attached) is a reading
# like any other here; tests that care assert .health or the status itself.
lab_status_json() { _lab_status "$1" --json; }
lab_status() { _lab_status "$1"; }
_lab_status() {
	local rc=0
	lab_router_exec "$1" "$VPNPT" status wan0 "${@:2}" || rc=$?
	((rc == 0 || rc == 2))
}

# lab_json EXPR: evaluates a Python expression over the JSON document on
# stdin (bound to d) and prints it; None -> null, bools -> true/false.
lab_json() {
	"$LAB_PY" "$LAB_LIB/lab_json.py" "$1"
}

# lab_counter SITE DIR CLASS [packets|bytes]   DIR: outbound | inbound
lab_counter() {
	lab_status_json "$1" | lab_json "d['counters']['$2']['$3']['${4:-packets}']"
}

# lab_counters SITE DIR: "class packets" lines for every class.
lab_counters() {
	lab_status_json "$1" | lab_json "'\n'.join('%s %d' % (k, v['packets']) for k, v in sorted(d['counters']['$2'].items()))"
}

# lab_wait_counters SITE DIR MIN CLASS...: polls (up to 5 s) until every
# listed packet counter is >= MIN (packets reach XDP shortly after the sender
# returns), then waits another 0.3 s so late extras would show too. Returns 1
# on timeout; the caller then asserts on exact values.
lab_wait_counters() {
	local site=$1 dir=$2 min=$3 deadline low
	shift 3
	deadline=$((SECONDS + 5))
	while :; do
		low=$(lab_status_json "$site" | lab_json "sum(1 for c in '$*'.split() if d['counters']['$dir'][c]['packets'] < $min)")
		((low == 0)) && break
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
	sleep 0.3
}
