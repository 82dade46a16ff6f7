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
# This file holds the globals, messages, init/cleanup and background
# processes; it sources the rest, one job each: check.sh (assertions,
# checksum and path checks), topo.sh (namespaces, addresses, sites),
# firewall.sh (the router firewall), vpnpt.sh (vpnpt in a router).
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
LAB_VPNPT_WRAP=()              # command words lab_start_vpnpt puts before vpnpt (e.g. to log to the journal)
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

# ---------------------------------------------------------------- the rest of the library

# shellcheck source=netns-lab/lib/check.sh
. "$LAB_LIB/check.sh"
# shellcheck source=netns-lab/lib/topo.sh
. "$LAB_LIB/topo.sh"
# shellcheck source=netns-lab/lib/firewall.sh
. "$LAB_LIB/firewall.sh"
# shellcheck source=netns-lab/lib/vpnpt.sh
. "$LAB_LIB/vpnpt.sh"
