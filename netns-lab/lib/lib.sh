# shellcheck shell=bash
# shellcheck disable=SC2034  # LAB_* globals are read by the scripts that source this
# vpnpt network-namespace lab: shared library. Source it, then call lab_init.
#
#   set -euo pipefail
#   . "$(dirname "$0")/../../lib/lib.sh"     # from netns-lab/tests/<area>/
#   lab_init "${1:-}"            # vpnpt path: $1, else $VPNPT, else <repo>/build/vpnpt
#   lab_site s1 2 1              # site "s1": router, LAN switch, 2 clients, 1 server
#   lab_start_vpnpt s1
#   ...
#
# Everything the lab creates (namespaces, processes, vpnpt attachments, pin
# directories) is recorded and removed by lab_cleanup, which lab_init installs
# as the EXIT/INT/TERM/HUP trap. Cleanup is idempotent and may also be called
# explicitly.
#
# Topology (one shared "internet" segment per run, any number of sites):
#
#   c1..cN (eth0 192.168.1.10+i) --+
#                                  +-- br0 [site LAN switch] -- lan0 [router] wan0 --+
#                                                          192.168.1.1   203.0.113.k |
#                                                                                    |
#   s1..sM (eth0 203.0.113.(100+20(k-1)+j)) ------------ br0 [internet switch] ------+
#
# k is the site's index (order of lab_site calls, 1..7). Servers have only
# the connected 203.0.113.0/24 route: they reach a site's clients through the
# router's public address, exactly like the internet.
#
# Topology variants, chosen by environment (defaults: the picture above),
# so every lab script runs unchanged on each; router names and addresses
# stay the same:
#   LAB_LAN=veth        lan0 is a veth into the switch namespace; GRO on
#                       every veth end (veth delivers XDP-redirected frames
#                       only to a peer with GRO or an XDP program)
#   LAB_LAN=veth-nogro  same, GRO left at the kernel default (off) on the
#                       LAN-side ends, as on container veths
#   LAB_LAN=bridge      lan0 is a Linux bridge in the router namespace, each
#                       client's veth peer a port of it (no switch namespace),
#                       as on most home routers; GRO default on the ports
#   LAB_LAN=vlan-bridge a VLAN-aware bridge (vlan_filtering 1): the clients'
#                       ports are access ports of VLAN 10 (untagged, pvid
#                       10), and so is the bridge itself, which vpnpt serves;
#                       VLAN 1 is removed everywhere, so a frame that lost
#                       its VLAN goes nowhere. Tagged trunk ports need 8021q
#                       on the hosts (this VM's kernel has none).
#   LAB_LAN=vlan        lan0 is VLAN 10 on the router's trunk veth lant; the
#                       switch namespace takes VLAN 10 off its end (rtr.10,
#                       a port of its bridge) and the clients stay untagged
#   LAB_WAN=veth | veth-nogro   the same two choices for wan0's side
#   LAB_WAN=vlan        wan0 is VLAN 20 on the router's veth want (ISPs tag
#                       the WAN); the internet side takes the tag off
#   vlan and vlan-bridge need 8021q and bridge VLAN filtering: Debian's
#   kernels (tools/kernel-vm.sh), not this lab VM's 6.18
# Router firewall, also by environment (default off):
#   LAB_FIREWALL=1      lab_site also installs lab_router_firewall: an
#                       OpenWrt-fw4-like stateful ruleset (WAN input
#                       rejected and WAN forward dropped unless
#                       established/related), next to the masquerade
#   LAB_WAN=tun         wan0 is an IFF_TUN device (L3, no Ethernet header,
#                       like PPPoE's ppp0); lib/tun_relay.py copies its
#                       packets to isp0 in the site's "isp" namespace, which
#                       routes them onto the internet switch (see _lab_wan_tun)
#
# Checksum offload of the lab hosts, also by environment (default off):
#   LAB_TX_OFFLOAD=off  clients and servers send with TX checksum offload
#                       off, and so do the switch ports feeding the
#                       router's veths (rtr, r<k>): complete checksums, as
#                       from a real NIC's wire (vpnpt may run native XDP)
#   LAB_TX_OFFLOAD=on   they keep the veth default (on): their TCP and UDP
#                       packets reach the router as CHECKSUM_PARTIAL skbs,
#                       the field holding only the pseudo-header seed, as
#                       from containers and VMs on the router itself (vpnpt
#                       serves such a veth on the TC path). The switch ports
#                       toward the hosts then finish checksums in software
#                       (tx off there) as a NIC finishes them on a wire, so
#                       a seed a translator got wrong arrives as a bad
#                       checksum (lab_check_csum_errors)
#   LAB_TX_OFFLOAD=lan | wan   the same for the clients only, the servers only
#
# Exit codes used by lab scripts: 0 pass, 1 fail (also a missing kernel
# feature, tool or privilege), 77 skipped (only with VPNPT_ALLOW_SKIP=1).

LAB_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) # netns-lab/lib: this file, shared scripts, python helpers
LAB_DIR=$(cd "$LAB_LIB/.." && pwd)                    # netns-lab
LAB_PEERS=$LAB_DIR/peers                              # crafted peers: python3 "$LAB_PEERS/pptp" server ...
LAB_REPO=$(cd "$LAB_DIR/.." && pwd)

LAB_ID=""            # run id, prefix of every namespace of this run
LAB_STATE=""         # temp dir with logs
LAB_PY=""            # python3 that can import scapy
LAB_NAMESPACES=()    # namespaces we created (cleanup deletes them)
LAB_PIDS=()          # background processes we started (cleanup ends them)
LAB_SITES=()         # site names in creation order
declare -A LAB_SITE_IDX=() LAB_SITE_NCLIENTS=() LAB_SITE_NSERVERS=()
declare -A LAB_PIN_DIR=()      # site -> vpnpt pin dir of its router
declare -A LAB_VPNPT_USED=()   # site -> 1 once vpnpt was started there
declare -A LAB_VPNPT_PID=()    # site -> pid of the running daemon
declare -A LAB_VPNPT_LOG=()    # site -> daemon log file
LAB_CLEANING=0

LAB_LAN_PREFIX=192.168.1
LAB_WAN_PREFIX=203.0.113
LAB_LAN=${LAB_LAN:-veth}
LAB_WAN=${LAB_WAN:-veth}
LAB_TX_OFFLOAD=${LAB_TX_OFFLOAD:-off}
LAB_RELAY_MAX_TIME=${LAB_RELAY_MAX_TIME:-3600} # LAB_WAN=tun relay lifetime, s

# ---------------------------------------------------------------- messages

lab_log() { printf '%s\n' "$*"; }
lab_info() { printf '  .. %s\n' "$*"; }
lab_pass() { printf 'PASS: %s\n' "$*"; }
lab_warn() { printf 'WARN: %s\n' "$*" >&2; }

# Fails the script: prints the message and exits 1 (the EXIT trap cleans up).
# Must not be called from a $(...) subshell.
lab_fail() {
	printf 'FAIL: %s\n' "$*"
	exit 1
}

# A missing tool or kernel feature. A skipped test is a failed test: this
# fails (exit 1) unless VPNPT_ALLOW_SKIP=1 asks for the old skip (exit 77,
# which ctest reports as "not run"), e.g. to run part of the lab on a machine
# that lacks one piece of software on purpose.
lab_skip() {
	if [[ "${VPNPT_ALLOW_SKIP:-0}" == 1 ]]; then
		printf 'SKIP: %s\n' "$*"
		exit 77
	fi
	printf 'FAIL: cannot run: %s (VPNPT_ALLOW_SKIP=1 would skip instead)\n' "$*"
	exit 1
}

# Mounts bpffs on /sys/fs/bpf when it is missing (many machines boot without
# it), as `vpnpt attach` does: vpnpt's pins, which the lab reads, live there.
lab_ensure_bpffs() {
	grep -qs ' /sys/fs/bpf bpf ' /proc/mounts && return 0
	mkdir -p /sys/fs/bpf
	mount -t bpf bpf /sys/fs/bpf 2>/dev/null || lab_skip "bpffs is not mounted on /sys/fs/bpf and mounting it failed"
	lab_info "mounted bpffs on /sys/fs/bpf (it was not mounted)"
}

# /dev/net/tun, loading the TUN driver when its node is missing (a machine
# without udev's static nodes, such as tools/kernel-vm.sh's guest, has no
# node until the module is loaded). Fails (lab_skip) with WHY when there is none.
lab_ensure_tun() { # lab_ensure_tun WHY
	[[ -c /dev/net/tun ]] && return 0
	modprobe tun 2>/dev/null || true
	[[ -c /dev/net/tun ]] || lab_skip "no /dev/net/tun (TUN driver): $1"
}

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

# ---------------------------------------------------------------- init / cleanup

_lab_have() { command -v "$1" >/dev/null 2>&1; }

# lab_init [VPNPT]: checks prerequisites, picks the run id, installs the traps.
lab_init() {
	VPNPT=${1:-${VPNPT:-$LAB_REPO/build/vpnpt}}
	[[ $(id -u) -eq 0 ]] || lab_skip "the lab needs root (network namespaces, XDP)"
	local t
	for t in ip nsenter nft ping tc; do
		_lab_have "$t" || lab_skip "missing tool: $t"
	done
	LAB_PY=""
	for t in "${LAB_PYTHON:-}" /usr/bin/python3 python3; do
		[[ -n "$t" ]] || continue
		if "$t" -c 'import scapy.layers.inet' >/dev/null 2>&1; then
			LAB_PY=$t
			break
		fi
	done
	[[ -n "$LAB_PY" ]] || lab_skip "no python3 with scapy (apt-get install python3-scapy, or set LAB_PYTHON)"
	[[ -x "$VPNPT" ]] || lab_fail "vpnpt binary not found or not executable: $VPNPT (build it, or pass its path as the first argument or \$VPNPT)"
	VPNPT=$(cd "$(dirname "$VPNPT")" && pwd)/$(basename "$VPNPT")
	_lab_check_topology
	lab_ensure_bpffs

	LAB_ID=$(printf 'vpl%d%04x' "$$" "$((RANDOM % 65536))")
	LAB_STATE=$(mktemp -d "/tmp/vpnpt-lab.$LAB_ID.XXXXXX")
	set -E # ERR trap in functions too
	trap '_lab_on_err $? "$LINENO" "$BASH_COMMAND"' ERR
	trap '_lab_on_exit' EXIT
	trap '_lab_on_signal INT 130' INT
	trap '_lab_on_signal TERM 143' TERM
	trap '_lab_on_signal HUP 129' HUP

	_lab_probe_kernel
}

# Validates LAB_LAN/LAB_WAN (see the header); says which one is used when
# it is not the default, so a log shows what it measured.
_lab_check_topology() {
	case "$LAB_LAN" in veth | veth-nogro | bridge | vlan-bridge | vlan) ;; *) lab_fail "LAB_LAN must be veth, veth-nogro, bridge, vlan-bridge or vlan, not '$LAB_LAN'" ;; esac
	case "$LAB_WAN" in veth | veth-nogro | tun | vlan) ;; *) lab_fail "LAB_WAN must be veth, veth-nogro, tun or vlan, not '$LAB_WAN'" ;; esac
	[[ "$LAB_WAN" != tun ]] || lab_ensure_tun "LAB_WAN=tun needs it"
	[[ "$LAB_LAN/$LAB_WAN" == veth/veth ]] || lab_info "topology: LAB_LAN=$LAB_LAN LAB_WAN=$LAB_WAN"
	case "${LAB_FIREWALL:-0}" in 0) ;; 1) lab_info "router firewall: LAB_FIREWALL=1 (lab_router_firewall)" ;; *) lab_fail "LAB_FIREWALL must be 0 or 1, not '$LAB_FIREWALL'" ;; esac
	case "$LAB_TX_OFFLOAD" in
	off) ;;
	on | lan | wan)
		_lab_have ethtool || lab_skip "LAB_TX_OFFLOAD=$LAB_TX_OFFLOAD needs ethtool (the wire ports finish checksums)"
		lab_info "hosts keep TX checksum offload: LAB_TX_OFFLOAD=$LAB_TX_OFFLOAD (partial checksums reach the router)"
		;;
	*) lab_fail "LAB_TX_OFFLOAD must be off, on, lan or wan, not '$LAB_TX_OFFLOAD'" ;;
	esac
}

# Skips (77) if this kernel cannot give us namespaces, veth pairs, bridges or nft NAT.
_lab_probe_kernel() {
	local ns="$LAB_ID-probe"
	_lab_netns_add "$ns" 2>/dev/null || lab_skip "cannot create network namespaces"
	ip -n "$ns" link add p0 type veth peer name p1 2>/dev/null || lab_skip "no veth support in this kernel"
	ip -n "$ns" link add pbr type bridge 2>/dev/null || lab_skip "no bridge support in this kernel"
	printf 'table ip probe { chain p { type nat hook postrouting priority srcnat; oifname "p0" masquerade; }; }\n' |
		lab_nsenter "$ns" nft -f - 2>/dev/null || lab_skip "no nftables NAT (nf_tables/nft_masq) in this kernel"
	_lab_netns_del "$ns"
}

# An unexpected command failure (set -e): say where before the script exits.
_lab_on_err() {
	((BASH_SUBSHELL == 0 && LAB_CLEANING == 0)) || return 0
	printf 'FAIL: unexpected error (exit %s) in %s line %s: %s\n' "$1" "${BASH_SOURCE[1]##*/}" "$2" "$3"
}

_lab_on_exit() {
	local rc=$?
	trap - EXIT
	lab_cleanup || true
	if ((rc == 0)) && ((LAB_LEFTOVERS > 0)); then rc=1; fi
	# 0 pass, 77 skip, anything else is a failure: report it as 1.
	case $rc in 0 | 1 | 77) ;; *) rc=1 ;; esac
	exit "$rc"
}

_lab_on_signal() {
	trap '' INT TERM HUP
	printf '\nlab: interrupted by SIG%s, cleaning up\n' "$1" >&2
	trap - EXIT
	lab_cleanup || true
	exit "$2"
}

# True if PID is a live (or zombie) child of this shell.
_lab_is_our_child() {
	local pid=$1 stat ppid
	[[ -r /proc/$pid/stat ]] || return 1
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	stat=${stat##*) }   # drop "pid (comm) "; comm may contain spaces
	ppid=$(cut -d' ' -f2 <<<"$stat")
	[[ "$ppid" == "$$" ]]
}

_lab_pid_alive() {
	local state
	[[ -r /proc/$1/stat ]] || return 1
	state=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	state=${state##*) }
	[[ ${state:0:1} != Z ]]
}

# _lab_forget_pid PID: removes PID from the registry.
_lab_forget_pid() {
	local p keep=()
	for p in "${LAB_PIDS[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
	LAB_PIDS=("${keep[@]}")
}

# lab_kill PID [TIMEOUT_S]: SIGTERM, wait, SIGKILL; only if PID is our child.
lab_kill() {
	local pid=$1 timeout=${2:-5} i
	if _lab_is_our_child "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < timeout * 10; i++)); do
			_lab_pid_alive "$pid" || break
			sleep 0.1
		done
		if _lab_pid_alive "$pid"; then
			lab_warn "pid $pid ignored SIGTERM for ${timeout}s, sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	fi
	_lab_forget_pid "$pid"
}

LAB_LEFTOVERS=0

# Removes everything this run created. Idempotent; safe at any point.
lab_cleanup() {
	((LAB_CLEANING == 0)) || return 0
	[[ -n "$LAB_ID" ]] || return 0
	LAB_CLEANING=1
	local site ns pid dir left had_e=0
	[[ $- == *e* ]] && had_e=1
	set +e

	# 0. What the router firewalls (LAB_FIREWALL=1) counted, for the log.
	for site in "${LAB_SITES[@]}"; do
		[[ -e /run/netns/$(lab_ns "$site" router) ]] || continue
		lab_firewall_counters "$site" 2>/dev/null | sed "s/^/  .. firewall $site| /"
	done
	# 1. vpnpt attachments: detach stops the daemon and removes programs and pins.
	for site in "${!LAB_VPNPT_USED[@]}"; do
		ns=$(lab_ns "$site" router)
		if [[ -e /run/netns/$ns ]] && [[ -n "${LAB_VPNPT_PID[$site]:-}" || -e "${LAB_PIN_DIR[$site]:-/nonexistent}" ]]; then
			timeout 20 nsenter --net="/run/netns/$ns" "$VPNPT" detach wan0 >>"$LAB_STATE/cleanup.log" 2>&1 ||
				lab_warn "vpnpt detach in $ns failed (see $LAB_STATE/cleanup.log)"
		fi
		pid=${LAB_VPNPT_PID[$site]:-}
		[[ -n "$pid" ]] && lab_kill "$pid" 5
		unset "LAB_VPNPT_PID[$site]"
	done
	# 2. Every other process we started, then whatever still runs in our
	#    namespaces (VPN daemons fork children that are not ours directly).
	for pid in "${LAB_PIDS[@]}"; do lab_kill "$pid" 3; done
	LAB_PIDS=()
	lab_stop_netns_procs || true
	# 3. Pin directories and lock files a failed detach may have left.
	for site in "${!LAB_PIN_DIR[@]}"; do
		dir=${LAB_PIN_DIR[$site]}
		if [[ -n "$dir" && "$dir" == /sys/fs/bpf/vpnpt/* && -e "$dir" ]]; then
			lab_warn "removing leftover pin dir $dir"
			rm -rf -- "$dir"
		fi
		[[ -n "$dir" ]] && rm -f -- "/run/vpnpt/$(basename "$dir").lock"
	done
	rmdir /sys/fs/bpf/vpnpt 2>/dev/null || true # the shared root, once no attachment is left
	# 4. Namespaces (deleting a router's namespace also drops its XDP programs).
	for ns in "${LAB_NAMESPACES[@]}"; do _lab_netns_del "$ns"; done
	LAB_NAMESPACES=()
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$LAB_ID-"); do
		lab_warn "removing unregistered namespace $ns"
		ip netns del "$ns" 2>/dev/null
	done
	LAB_VPNPT_USED=()
	# 5. Verify.
	left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -c "^$LAB_ID-")
	for site in "${!LAB_PIN_DIR[@]}"; do
		[[ -e "${LAB_PIN_DIR[$site]}" ]] && left=$((left + 1))
	done
	if ((left > 0)); then
		lab_warn "cleanup left $left namespace(s)/pin dir(s) of run $LAB_ID behind"
		LAB_LEFTOVERS=$left
	fi
	if [[ -n "$LAB_STATE" && -d "$LAB_STATE" ]]; then
		if [[ -n "${LAB_KEEP_LOGS:-}" ]]; then
			lab_log "lab: logs kept in $LAB_STATE"
		else
			rm -rf -- "$LAB_STATE"
		fi
	fi
	LAB_CLEANING=0
	((had_e)) && set -e
	return 0
}

# ---------------------------------------------------------------- namespaces

# lab_ns SITE ROLE: namespace name. ROLE: router | lan (not with
# LAB_LAN=bridge) | isp (only with LAB_WAN=tun) | c<i> | s<j> | inet.
lab_ns() {
	if [[ "$2" == inet ]]; then
		printf '%s-inet\n' "$LAB_ID"
	else
		printf '%s-%s-%s\n' "$LAB_ID" "$1" "$2"
	fi
}

_lab_netns_add() {
	LAB_NAMESPACES+=("$1") # register first: cleanup must see half-made ones
	ip netns add "$1" || return 1
	lab_nsenter "$1" sh -c '
		echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 &&
		echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6 &&
		echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad &&
		echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad' 2>/dev/null || true
	ip -n "$1" link set lo up || return 1
}

_lab_netns_del() {
	local ns=$1 keep=() n
	ip netns del "$ns" 2>/dev/null || true
	for n in "${LAB_NAMESPACES[@]}"; do [[ "$n" == "$ns" ]] || keep+=("$n"); done
	LAB_NAMESPACES=("${keep[@]}")
}

# lab_nsenter NS CMD...: runs CMD in NS's network namespace only (keeps the
# host's /sys, so bpffs pins are shared). Use for vpnpt, nft, sysctl, ping.
lab_nsenter() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# lab_router_exec SITE CMD...
lab_router_exec() {
	local site=$1
	shift
	lab_nsenter "$(lab_ns "$site" router)" "$@"
}

# lab_host_exec SITE HOST CMD...: HOST is c<i> or s<j>; uses `ip netns exec`.
lab_host_exec() {
	local ns
	ns=$(lab_ns "$1" "$2")
	shift 2
	ip netns exec "$ns" "$@"
}

# Deletes all namespaces of the run now (vpnpt should be detached first).
lab_delete_namespaces() {
	local ns
	for ns in "${LAB_NAMESPACES[@]}"; do _lab_netns_del "$ns"; done
}

# ---------------------------------------------------------------- addresses

lab_site_index() {
	[[ -n "${LAB_SITE_IDX[$1]:-}" ]] || { echo "lab: unknown site '$1'" >&2; return 1; }
	printf '%s\n' "${LAB_SITE_IDX[$1]}"
}
lab_router_lan_ip() { printf '%s.1\n' "$LAB_LAN_PREFIX"; }
lab_wan_ip() {
	local k
	k=$(lab_site_index "$1") || return 1
	printf '%s.%d\n' "$LAB_WAN_PREFIX" "$k"
}
lab_client_ip() { printf '%s.%d\n' "$LAB_LAN_PREFIX" "$((10 + $2))"; }
lab_server_ip() {
	local k
	k=$(lab_site_index "$1") || return 1
	printf '%s.%d\n' "$LAB_WAN_PREFIX" "$((100 + 20 * (k - 1) + $2))"
}

# lab_stop_netns_procs: ends (by pid: TERM, then KILL after 5 s) every process
# running in one of this run's namespaces, except vpnpt daemons, which
# lab_cleanup stops with `vpnpt detach`. Real VPN software forks children
# (pptpd's pptpctrl, pptp's call manager, charon's threads) that are not our
# direct children, so killing the pids we started is not enough.
lab_stop_netns_procs() {
	local ns pids=() p i left skip=" ${LAB_VPNPT_PID[*]:-} "
	for ns in "${LAB_NAMESPACES[@]}"; do
		[[ -e /run/netns/$ns ]] || continue
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			[[ "$skip" == *" $p "* ]] || pids+=("$p")
		done
	done
	((${#pids[@]})) || return 0
	kill -TERM "${pids[@]}" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		left=()
		for p in "${pids[@]}"; do _lab_pid_alive "$p" && left+=("$p"); done
		((${#left[@]})) || return 0
		sleep 0.1
	done
	lab_warn "sending SIGKILL to ${left[*]} (still running 5 s after SIGTERM)"
	kill -KILL "${left[@]}" 2>/dev/null || true
}

# ---------------------------------------------------------------- topology

_lab_gro_on() {
	# veth XDP_REDIRECT needs GRO (or an XDP program) on the receiving peer.
	_lab_have ethtool || return 0
	lab_nsenter "$1" ethtool -K "$2" gro on >/dev/null 2>&1 || true
}

# _lab_side_gro lan|wan NS DEV: GRO on a veth end of that side of the
# router, unless its LAB_LAN/LAB_WAN leaves GRO at the kernel default
# (veth-nogro, bridge: what real LANs and containers have).
_lab_side_gro() {
	local t=$LAB_WAN
	[[ "$1" == lan ]] && t=$LAB_LAN
	[[ "$t" == veth || "$t" == tun ]] || return 0
	_lab_gro_on "$2" "$3"
}

_lab_host_nic() {
	# _lab_host_nic NS DEV lan|wan: a lab host's eth0: GRO as its side has
	# it, and no TX checksum offload, so its packets carry complete checksums
	# as on a real wire; with LAB_TX_OFFLOAD=on (or its side) the veth
	# default (offload on) stays, and the host hands over partial checksums.
	_lab_side_gro "$3" "$1" "$2"
	[[ "$LAB_TX_OFFLOAD" != on && "$LAB_TX_OFFLOAD" != "$3" ]] || return 0
	_lab_have ethtool || return 0
	lab_nsenter "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || true
}

# _lab_router_port NS DEV lan|wan: the switch port DEV that feeds the
# router's veth lan0 or wan0. vpnpt runs XDP on a veth only if its peer
# finishes every checksum (TX checksum offload off, as a wire into a real
# NIC; docs/dataplane.md "Checksums"): so off, unless LAB_TX_OFFLOAD lets
# that side's partial checksums through to the router.
_lab_router_port() {
	[[ "$LAB_TX_OFFLOAD" != on && "$LAB_TX_OFFLOAD" != "$3" ]] || return 0
	_lab_have ethtool || return 0
	lab_nsenter "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || true
}

# _lab_wire_port NS DEV: unless LAB_TX_OFFLOAD=off, the switch port DEV
# toward a host finishes every partial checksum in software before the host
# gets the packet (skb_checksum_help, as a NIC does on the wire), so the
# host's stack verifies what a translator made of the seed. A veth hands a
# CHECKSUM_PARTIAL skb on as it is, and the receiver trusts it unverified.
_lab_wire_port() {
	[[ "$LAB_TX_OFFLOAD" != off ]] || return 0
	lab_nsenter "$1" ethtool -K "$2" tx off >/dev/null 2>&1 ||
		lab_fail "LAB_TX_OFFLOAD=$LAB_TX_OFFLOAD: cannot turn TX checksum offload off on $2 (a wire port)"
}

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

# _lab_bridge NS [NAME=br0]: an up bridge that forwards at once (no STP).
_lab_bridge() {
	ip -n "$1" link add "${2:-br0}" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
	ip -n "$1" link set "${2:-br0}" up
}

# _lab_access_port NS DEV [self]: DEV (a port, or with "self" the bridge
# itself) carries VLAN 10 untagged and nothing else (LAB_LAN=vlan-bridge).
_lab_access_port() {
	bridge -n "$1" vlan del dev "$2" vid 1 ${3:+self}
	bridge -n "$1" vlan add dev "$2" vid 10 pvid untagged ${3:+self}
}

_lab_inet_ensure() {
	local ns
	ns=$(lab_ns - inet)
	[[ -e /run/netns/$ns ]] && return 0
	_lab_netns_add "$ns"
	_lab_bridge "$ns"
}

# Client firewall: the hosts' own kernels must not answer what the lab sends
# (ICMP errors for closed ports/protocols, RSTs), or those replies would be
# counted as extra outbound packets. scapy sends through AF_PACKET sockets,
# which bypass this output hook. LAB_MUTE_CLIENTS=0 turns this off.
_lab_mute_host() {
	[[ "${LAB_MUTE_CLIENTS:-1}" != 0 ]] || return 0
	lab_nsenter "$1" nft -f - <<'EOF'
table inet lab_mute {
	chain output {
		type filter hook output priority 0; policy accept;
		icmp type { destination-unreachable, time-exceeded, parameter-problem } drop
		tcp flags & rst == rst drop
	}
}
EOF
}

# _lab_lan_switch SITE: "NS BRIDGE" that the clients' ports join.
_lab_lan_switch() {
	if [[ "$LAB_LAN" == bridge || "$LAB_LAN" == vlan-bridge ]]; then
		printf '%s lan0\n' "$(lab_ns "$1" router)"
	else
		printf '%s br0\n' "$(lab_ns "$1" lan)"
	fi
}

# _lab_site_lan SITE: the router's lan0 (LAB_LAN), with its address.
_lab_site_lan() {
	local r sw
	r=$(lab_ns "$1" router)
	if [[ "$LAB_LAN" == bridge ]]; then
		_lab_bridge "$r" lan0
	elif [[ "$LAB_LAN" == vlan-bridge ]]; then
		_lab_bridge "$r" lan0
		ip -n "$r" link set lan0 type bridge vlan_filtering 1
		_lab_access_port "$r" lan0 self
	elif [[ "$LAB_LAN" == vlan ]]; then
		sw=$(lab_ns "$1" lan)
		_lab_netns_add "$sw"
		_lab_bridge "$sw"
		ip -n "$r" link add lant type veth peer name rtr netns "$sw"
		ip -n "$r" link add link lant name lan0 type vlan id 10
		ip -n "$r" link set lant up
		ip -n "$sw" link set rtr up
		ip -n "$sw" link add link rtr name rtr.10 type vlan id 10
		ip -n "$sw" link set rtr.10 master br0 up
	else
		sw=$(lab_ns "$1" lan)
		_lab_netns_add "$sw"
		_lab_bridge "$sw"
		ip -n "$r" link add lan0 type veth peer name rtr netns "$sw"
		ip -n "$sw" link set rtr master br0 up
		_lab_side_gro lan "$sw" rtr # receives what XDP redirects to the LAN
		_lab_side_gro lan "$r" lan0
		_lab_router_port "$sw" rtr lan
	fi
	ip -n "$r" addr add "$(lab_router_lan_ip)/24" dev lan0
	ip -n "$r" link set lan0 up
}

# _lab_site_wan SITE: the router's wan0 (LAB_WAN) on the internet, with its address.
_lab_site_wan() {
	local r idx inet
	r=$(lab_ns "$1" router)
	idx=$(lab_site_index "$1")
	inet=$(lab_ns - inet)
	if [[ "$LAB_WAN" == tun ]]; then
		_lab_wan_tun "$1"
	elif [[ "$LAB_WAN" == vlan ]]; then
		ip -n "$r" link add want type veth peer name "r$idx" netns "$inet"
		ip -n "$r" link add link want name wan0 type vlan id 20
		ip -n "$r" link set want up
		ip -n "$inet" link set "r$idx" up
		ip -n "$inet" link add link "r$idx" name "r$idx.20" type vlan id 20
		ip -n "$inet" link set "r$idx.20" master br0 up
	else
		ip -n "$r" link add wan0 type veth peer name "r$idx" netns "$inet"
		ip -n "$inet" link set "r$idx" master br0 up
		_lab_side_gro wan "$inet" "r$idx" # receives what XDP redirects to the WAN
		_lab_side_gro wan "$r" wan0
		_lab_router_port "$inet" "r$idx" wan
	fi
	ip -n "$r" addr add "$(lab_wan_ip "$1")/24" dev wan0
	ip -n "$r" link set wan0 up
}

# LAB_WAN=tun: wan0 is a TUN device, an L3 point-to-point link like ppp0.
# The ISP end is namespace "isp" with TUN isp0 and port r<k> on the internet
# switch (address .240+k). It routes the router's public address into isp0
# and answers ARP for it on the switch (proxy ARP), so servers still find
# the router on-link. tun_relay.py (bounded by LAB_RELAY_MAX_TIME, ended by
# lab_cleanup) copies packets between wan0 and isp0.
_lab_wan_tun() {
	local r isp idx inet pub
	r=$(lab_ns "$1" router)
	isp=$(lab_ns "$1" isp)
	idx=$(lab_site_index "$1")
	inet=$(lab_ns - inet)
	pub=$(lab_wan_ip "$1")
	_lab_netns_add "$isp"
	ip -n "$r" tuntap add dev wan0 mode tun
	ip -n "$isp" tuntap add dev isp0 mode tun
	ip -n "$isp" link add up0 type veth peer name "r$idx" netns "$inet"
	ip -n "$inet" link set "r$idx" master br0 up
	_lab_side_gro wan "$inet" "r$idx"
	_lab_side_gro wan "$isp" up0
	ip -n "$isp" addr add "$LAB_WAN_PREFIX.$((240 + idx))/24" dev up0
	ip -n "$isp" link set up0 up
	ip -n "$isp" link set isp0 up
	ip -n "$isp" route add "$pub/32" dev isp0
	ip -n "$isp" neigh add proxy "$pub" dev up0
	lab_nsenter "$isp" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward &&
		echo 0 > /proc/sys/net/ipv4/neigh/up0/proxy_delay'
	_lab_tun_relay "$1"
}

# _lab_tun_relay SITE: starts tun_relay.py between wan0 and isp0 (lab_bg)
# and waits (5 s) until it has attached both.
_lab_tun_relay() {
	local name="tun-relay-$1" i
	lab_bg "$name" "$LAB_PY" "$LAB_LIB/tun_relay.py" --max-time "$LAB_RELAY_MAX_TIME" \
		"/run/netns/$(lab_ns "$1" router):wan0" "/run/netns/$(lab_ns "$1" isp):isp0"
	for ((i = 0; i < 50; i++)); do
		grep -qs '^ready' "$LAB_STATE/$name.log" && return 0
		_lab_pid_alive "$LAB_BG_PID" || break
		sleep 0.1
	done
	sed 's/^/    relay| /' "$LAB_STATE/$name.log" 2>/dev/null
	lab_fail "site $1: TUN relay wan0 <-> isp0 did not start"
}

# _lab_client SITE I: client c<I>, its eth0 a port of the site's LAN switch.
_lab_client() {
	local ns ip sw br
	ns=$(lab_ns "$1" "c$2")
	ip=$(lab_client_ip "$1" "$2")
	read -r sw br < <(_lab_lan_switch "$1")
	_lab_netns_add "$ns"
	ip -n "$ns" link add eth0 type veth peer name "c$2" netns "$sw"
	ip -n "$sw" link set "c$2" master "$br" up
	[[ "$LAB_LAN" != vlan-bridge ]] || _lab_access_port "$sw" "c$2"
	ip -n "$ns" addr add "$ip/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via "$(lab_router_lan_ip)"
	_lab_side_gro lan "$sw" "c$2"
	_lab_wire_port "$sw" "c$2"
	_lab_host_nic "$ns" eth0 lan
	_lab_mute_host "$ns"
}

# _lab_server SITE J: server s<J> on the internet switch.
_lab_server() {
	local ns ip port inet
	ns=$(lab_ns "$1" "s$2")
	ip=$(lab_server_ip "$1" "$2")
	port="s$(lab_site_index "$1")x$2"
	inet=$(lab_ns - inet)
	_lab_netns_add "$ns"
	ip -n "$ns" link add eth0 type veth peer name "$port" netns "$inet"
	ip -n "$inet" link set "$port" master br0 up
	ip -n "$ns" addr add "$ip/24" dev eth0
	ip -n "$ns" link set eth0 up
	_lab_side_gro wan "$inet" "$port"
	_lab_wire_port "$inet" "$port"
	_lab_host_nic "$ns" eth0 wan
}

# lab_site NAME N_CLIENTS M_SERVERS: builds one site (see the header).
lab_site() {
	local site=$1 nclients=${2:-1} nservers=${3:-1}
	local idx r i j
	[[ "$site" =~ ^[a-z][a-z0-9]{0,7}$ ]] || lab_fail "lab_site: bad site name '$site' (a-z0-9, max 8 chars)"
	[[ -z "${LAB_SITE_IDX[$site]:-}" ]] || lab_fail "lab_site: site '$site' exists"
	((nclients >= 1 && nclients <= 200)) || lab_fail "lab_site: 1..200 clients"
	((nservers >= 0 && nservers <= 20)) || lab_fail "lab_site: 0..20 servers"
	idx=$((${#LAB_SITES[@]} + 1))
	((idx <= 7)) || lab_fail "lab_site: at most 7 sites per run"
	LAB_SITES+=("$site")
	LAB_SITE_IDX[$site]=$idx
	LAB_SITE_NCLIENTS[$site]=$nclients
	LAB_SITE_NSERVERS[$site]=$nservers

	_lab_inet_ensure
	r=$(lab_ns "$site" router)
	_lab_netns_add "$r"
	_lab_site_lan "$site"
	_lab_site_wan "$site"
	lab_nsenter "$r" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
	lab_nsenter "$r" nft -f - <<'EOF'
table ip lab_nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" masquerade
	}
}
EOF
	[[ "${LAB_FIREWALL:-0}" != 1 ]] || lab_router_firewall "$site"
	LAB_PIN_DIR[$site]=/sys/fs/bpf/vpnpt/wan0@ns$(lab_nsenter "$r" "$LAB_PY" -c \
		'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); print(int.from_bytes(s.getsockopt(socket.SOL_SOCKET, 71, 8), "little"))')

	for ((i = 1; i <= nclients; i++)); do _lab_client "$site" "$i"; done
	for ((j = 1; j <= nservers; j++)); do _lab_server "$site" "$j"; done
	lab_settle "$site"
}

# lab_router_firewall SITE: the stateful firewall of an OpenWrt router
# (firewall4's generated ruleset for its default /etc/config/firewall,
# reduced to IPv4 and the lab's two zones) as table inet lab_fw in the
# router; the masquerade (table lab_nat) stays as it is. Zone lan = lan0,
# input/output/forward ACCEPT; zone wan = wan0, input REJECT, forward DROP,
# lan -> wan forwarding; defaults input REJECT, forward REJECT, output
# ACCEPT, syn_flood on. From the WAN only DHCP renew (udp 68), ICMP echo
# request (Allow-Ping) and IGMP are let in; unlike OpenWrt's default config,
# which also has Allow-IPSec-ESP and Allow-ISAKMP (wan -> lan), nothing
# opens GRE, ESP, UDP 500/4500 or 1701 from the WAN: VPN sessions have to
# work without holes. Invalid conntrack state is dropped in input and
# forward (fw4's drop_invalid; fw4 always drops it toward the WAN). Every
# rule counts (nft list table inet lab_fw in the router shows what hit).
# Called by lab_site when LAB_FIREWALL=1; may also be called by a script.
lab_router_firewall() {
	local r
	r=$(lab_ns "$1" router)
	lab_nsenter "$r" nft -f - <<'EOF' || lab_skip "nftables cannot load the router firewall (nft_ct/nft_reject/nft_limit missing?)"
table inet lab_fw {
	chain input {
		type filter hook input priority filter; policy drop;
		iifname "lo" accept comment "Accept traffic from loopback"
		ct state established,related counter accept comment "Allow inbound established and related flows"
		ct state invalid counter drop comment "Drop flows with invalid conntrack state"
		tcp flags & (fin | syn | rst | ack) == syn jump syn_flood comment "Rate limit TCP syn packets"
		iifname "lan0" jump input_lan
		iifname "wan0" jump input_wan
		jump handle_reject
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related counter accept comment "Allow forwarded established and related flows"
		ct state invalid counter drop comment "Drop flows with invalid conntrack state"
		iifname "lan0" jump forward_lan
		iifname "wan0" jump forward_wan
		counter jump handle_reject
	}
	chain output {
		type filter hook output priority filter; policy accept;
	}
	chain handle_reject {
		meta l4proto tcp counter reject with tcp reset comment "Reject TCP traffic"
		counter reject comment "Reject any other traffic"
	}
	chain syn_flood {
		limit rate 25/second burst 50 packets return
		counter drop
	}
	chain input_lan {
		counter accept comment "lan: input ACCEPT"
	}
	chain forward_lan {
		oifname "wan0" counter accept comment "Accept lan to wan forwarding"
		oifname "lan0" counter accept comment "lan: forward ACCEPT"
	}
	chain input_wan {
		meta nfproto ipv4 udp dport 68 counter accept comment "Allow-DHCP-Renew"
		icmp type echo-request counter accept comment "Allow-Ping"
		meta nfproto ipv4 meta l4proto igmp counter accept comment "Allow-IGMP"
		counter jump handle_reject comment "wan: input REJECT"
	}
	chain forward_wan {
		counter drop comment "wan: forward DROP"
	}
}
EOF
}

# lab_firewall_counters SITE: the router firewall's rules that counted
# packets, one "chain: packets rule" line each (empty without LAB_FIREWALL).
lab_firewall_counters() {
	{ lab_router_exec "$1" nft list table inet lab_fw 2>/dev/null || true; } | awk '
		/^\tchain / { c = $2 }
		/counter packets [1-9]/ { n = $0; sub(/.*counter packets /, "", n); sub(/ .*/, "", n)
			r = $0; sub(/^[ \t]+/, "", r); sub(/counter packets [0-9]+ bytes [0-9]+ /, "", r)
			printf "%s: %s %s\n", c, n, r }'
}

# lab_settle SITE: resolves ARP everywhere and checks the paths (also
# verifies NAT: every client reaches server 1 through the router).
lab_settle() {
	local site=$1 i j r
	r=$(lab_ns "$site" router)
	for ((i = 1; i <= LAB_SITE_NCLIENTS[$site]; i++)); do
		lab_nsenter "$(lab_ns "$site" "c$i")" ping -q -n -c1 -W2 "$(lab_router_lan_ip)" >/dev/null ||
			lab_fail "site $site: client c$i cannot reach its router"
	done
	for ((j = 1; j <= LAB_SITE_NSERVERS[$site]; j++)); do
		lab_nsenter "$r" ping -q -n -c1 -W2 "$(lab_server_ip "$site" "$j")" >/dev/null ||
			lab_fail "site $site: router cannot reach server s$j"
		lab_nsenter "$(lab_ns "$site" "s$j")" ping -q -n -c1 -W2 "$(lab_wan_ip "$site")" >/dev/null ||
			lab_fail "site $site: server s$j cannot reach the router's public IP"
	done
	if ((LAB_SITE_NSERVERS[$site] > 0)); then
		for ((i = 1; i <= LAB_SITE_NCLIENTS[$site]; i++)); do
			lab_nsenter "$(lab_ns "$site" "c$i")" ping -q -n -c1 -W2 "$(lab_server_ip "$site" 1)" >/dev/null ||
				lab_fail "site $site: client c$i cannot reach server s1 through NAT"
		done
	fi
}

# ---------------------------------------------------------------- processes

# lab_bg NAME CMD...: starts CMD in the background (stdout+stderr to
# $LAB_STATE/NAME.log), records its pid in LAB_BG_PID and the registry.
lab_bg() {
	local name=$1
	shift
	"$@" >>"$LAB_STATE/$name.log" 2>&1 &
	LAB_BG_PID=$!
	LAB_PIDS+=("$LAB_BG_PID")
}

# lab_wait_pids TIMEOUT_S PID...: waits for the pids to exit (killing the
# ones still alive at the deadline); returns 1 if any exited non-zero or had
# to be killed.
lab_wait_pids() {
	local timeout=$1 deadline pid rc=0 prc
	shift
	deadline=$((SECONDS + timeout))
	for pid in "$@"; do
		while _lab_pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
		if _lab_pid_alive "$pid"; then
			lab_warn "pid $pid still running after ${timeout}s, stopping it"
			lab_kill "$pid" 2
			rc=1
			continue
		fi
		prc=0
		wait "$pid" 2>/dev/null || prc=$?
		((prc == 0)) || rc=1
		_lab_forget_pid "$pid"
	done
	return "$rc"
}

# lab_traffic SITE HOST -- TRAFFIC.PY ARGS...: runs traffic.py in a host
# namespace (foreground; traffic.py bounds itself in count and time).
lab_traffic() {
	local site=$1 host=$2
	shift 2
	[[ "${1:-}" == -- ]] && shift
	lab_host_exec "$site" "$host" "$LAB_PY" "$LAB_LIB/traffic.py" "$@"
}

# lab_traffic_bg NAME SITE HOST -- ARGS...: same, in the background (lab_bg).
lab_traffic_bg() {
	local name=$1 site=$2 host=$3
	shift 3
	[[ "${1:-}" == -- ]] && shift
	lab_bg "$name" ip netns exec "$(lab_ns "$site" "$host")" "$LAB_PY" "$LAB_LIB/traffic.py" "$@"
}

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
	# nsenter execs vpnpt, so $! is vpnpt's own pid.
	# LAB_VPNPT_MODE=tc|native|skb|auto forces a data path (default: vpnpt's own choice, auto).
	nsenter --net="/run/netns/$r" "$VPNPT" attach wan0 "${lan_args[@]}" ${LAB_VPNPT_MODE:+--mode "$LAB_VPNPT_MODE"} "$@" >>"$log" 2>&1 &
	pid=$!
	LAB_VPNPT_PID[$site]=$pid
	for ((i = 0; i < 100; i++)); do
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
	lab_fail "vpnpt in site $site not ready after 10 s"
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
lab_status_json() { lab_router_exec "$1" "$VPNPT" status wan0 --json; }
lab_status() { lab_router_exec "$1" "$VPNPT" status wan0; }

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
