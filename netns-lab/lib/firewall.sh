# shellcheck shell=bash
# shellcheck disable=SC2034  # LAB_* globals are read by the scripts that source lib.sh
# vpnpt network-namespace lab: the router firewall (LAB_FIREWALL=1). Sourced by lib.sh.

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
