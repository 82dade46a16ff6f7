# shellcheck shell=bash
# shellcheck disable=SC2034  # LAB_* globals are read by the scripts that source lib.sh
# vpnpt network-namespace lab: namespaces, addresses and the topology (sites,
# LAN and WAN variants, hosts, settling). Sourced by lib.sh; the picture and
# the variants are described at the top of lib.sh.

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
