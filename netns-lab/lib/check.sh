# shellcheck shell=bash
# shellcheck disable=SC2034  # LAB_* globals are read by the scripts that source lib.sh
# vpnpt network-namespace lab: assertions and checks (PASS/FAIL lines), the
# hosts' checksum errors and the paths vpnpt chose. Sourced by lib.sh.

# ---------------------------------------------------------------- assertions

# lab_assert DESC CMD...   passes if CMD succeeds
lab_assert() {
	local desc=$1
	shift
	if "$@"; then lab_pass "$desc"; else lab_fail "$desc (command failed: $*)"; fi
}

# Non-fatal checks: print PASS/FAIL, count failures in LAB_CHECK_FAILS and
# carry on, for tests that give their verdict at the end, after collecting
# evidence. lab_check DESC OK(0/1) [DETAIL]; lab_check_eq DESC EXPECTED ACTUAL.
LAB_CHECK_FAILS=0
lab_check() {
	if [[ "$2" == 1 ]]; then
		printf 'PASS: %s%s\n' "$1" "${3:+ ($3)}"
	else
		printf 'FAIL: %s%s\n' "$1" "${3:+: $3}"
		LAB_CHECK_FAILS=$((LAB_CHECK_FAILS + 1))
	fi
}
lab_check_eq() {
	if [[ "$2" == "$3" ]]; then lab_check "$1" 1 "= $3"; else lab_check "$1" 0 "expected $2, got $3"; fi
}

# lab_wait_echo_replies DIR MIN WAIT PID...: waits (at most WAIT seconds,
# counted from now) until every client i (1..number of PIDs) has at least MIN
# LCP Echo-Replies in DIR/c<i>.lcp.log (lib/lcp_standin.py's log), or
# every PID is gone.
lab_wait_echo_replies() {
	local dir=$1 min=$2 wait=$3 t0=$SECONDS i n done_n alive
	shift 3
	local pids=("$@")
	while ((SECONDS - t0 < wait)); do
		done_n=0 alive=0
		for ((i = 1; i <= ${#pids[@]}; i++)); do
			n=0
			[[ -e "$dir/c$i.lcp.log" ]] && n=$(grep -c ' echo-rep-rcvd ' "$dir/c$i.lcp.log" || true)
			((${n:-0} >= min)) && done_n=$((done_n + 1))
			_lab_pid_alive "${pids[i - 1]}" && alive=$((alive + 1))
		done
		((done_n == ${#pids[@]} || alive == 0)) && return 0
		sleep 0.5
	done
}

# lab_assert_not DESC CMD...   passes if CMD fails
lab_assert_not() {
	local desc=$1
	shift
	if "$@"; then lab_fail "$desc (command unexpectedly succeeded: $*)"; else lab_pass "$desc"; fi
}

# lab_assert_eq DESC EXPECTED ACTUAL
lab_assert_eq() {
	if [[ "$2" == "$3" ]]; then
		lab_pass "$1 (= $3)"
	else
		lab_fail "$1: expected '$2', got '$3'"
	fi
}

# lab_assert_ne DESC UNEXPECTED ACTUAL
lab_assert_ne() {
	if [[ "$2" != "$3" ]]; then
		lab_pass "$1 ($3)"
	else
		lab_fail "$1: got '$3', which it must not be"
	fi
}

# lab_assert_ge DESC MIN ACTUAL   (integers)
lab_assert_ge() {
	if [[ "$3" =~ ^-?[0-9]+$ ]] && (($3 >= $2)); then
		lab_pass "$1 ($3 >= $2)"
	else
		lab_fail "$1: expected >= $2, got '$3'"
	fi
}

# ---------------------------------------------------------------- checksums and paths

# lab_csum_errors: "HOST TCP UDP" per lab host (clients and servers of every
# site): TCP segments and UDP datagrams its stack dropped for a bad
# checksum (InCsumErrors of /proc/net/snmp in its namespace).
lab_csum_errors() {
	local site i ns
	for site in "${LAB_SITES[@]}"; do
		for ((i = 1; i <= LAB_SITE_NCLIENTS[$site]; i++)); do
			ns=$(lab_ns "$site" "c$i")
			printf '%s/c%d %s\n' "$site" "$i" "$(_lab_ns_csum_errors "$ns")"
		done
		for ((i = 1; i <= LAB_SITE_NSERVERS[$site]; i++)); do
			ns=$(lab_ns "$site" "s$i")
			printf '%s/s%d %s\n' "$site" "$i" "$(_lab_ns_csum_errors "$ns")"
		done
	done
}

# _lab_ns_csum_errors NS: "TCP UDP" InCsumErrors of NS.
_lab_ns_csum_errors() {
	lab_nsenter "$1" cat /proc/net/snmp | awk '
		$1 == "Tcp:" || $1 == "Udp:" {
			if (!($1 in hdr)) { for (i = 2; i <= NF; i++) col[$1, $i] = i; hdr[$1] = 1; next }
			v[$1] = $(col[$1, "InCsumErrors"])
		}
		END { printf "%d %d\n", v["Tcp:"], v["Udp:"] }'
}

# lab_paths SITE: the path vpnpt chose for each interface and why, one line
# each ("lan0: TC path: it may receive partial checksums ...").
lab_paths() {
	lab_status_json "$1" | lab_json "'\\n'.join(i['path'] for i in d['interfaces'])"
}

# lab_check_partial_paths SITE: with LAB_TX_OFFLOAD on for a side whose
# router interface is a veth, a check that vpnpt serves that interface on
# the TC path (XDP cannot tell partial checksums from complete ones).
lab_check_partial_paths() {
	local side dev t mode
	for side in lan wan; do
		[[ "$LAB_TX_OFFLOAD" == on || "$LAB_TX_OFFLOAD" == "$side" ]] || continue
		dev=${side}0 t=$LAB_WAN
		[[ "$side" == lan ]] && t=$LAB_LAN
		[[ "$t" == veth || "$t" == veth-nogro ]] || continue
		mode=$(lab_status_json "$1" | lab_json "[i['mode'] for i in d['interfaces'] if i['name'] == '$dev'][0]")
		lab_check_eq "$dev gets partial checksums (LAB_TX_OFFLOAD=$LAB_TX_OFFLOAD): vpnpt serves it on the TC path" tc "$mode"
	done
}

# lab_check_csum_errors [DESC]: a check that no lab host dropped a TCP
# segment or UDP datagram for a bad checksum (lab_csum_errors), naming the
# hosts that did.
lab_check_csum_errors() {
	local bad
	bad=$(lab_csum_errors | awk '$2 + $3 > 0 { printf "%s%s tcp %d udp %d", sep, $1, $2, $3; sep = ", " }')
	if [[ -z "$bad" ]]; then
		lab_check "${1:-no lab host dropped a packet for a bad checksum} (LAB_TX_OFFLOAD=$LAB_TX_OFFLOAD)" 1 "TcpInCsumErrors and UdpInCsumErrors 0 everywhere"
	else
		lab_check "${1:-no lab host dropped a packet for a bad checksum} (LAB_TX_OFFLOAD=$LAB_TX_OFFLOAD)" 0 "$bad"
	fi
}
