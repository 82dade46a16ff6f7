#!/usr/bin/env bash
# Path MTU discovery through vpnpt, with a real MTU drop on the WAN path.
#
#   c1 -- lan0 [router] wan0 -- [internet br0] -- mid 203.0.113.200 ==MTU 1400== far 198.51.100.2
#
# mid is a plain Linux router: a packet over 1400 bytes with DF gets its
# kernel's ICMP "fragmentation needed" (type 3 code 4, next-hop MTU 1400),
# sent to the router's public address and quoting the packet as vpnpt sent
# it. Each phase is a site of its own (fresh router, conntrack and c1), so
# phases cannot leave state for each other: vpnpt in each hook path of
# PMTU_MODES, then netfilter alone (PMTU_NF). Per phase and protocol of
# PMTU_PROTOS, a crafted session from c1 to far (peers/pptp, peers/ipsec,
# peers/l2tp) first carries small traffic both ways, then c1 sends one
# SIZE-byte packet of that session with DF. Checks (vpnpt phases):
#   mid sent the error; vpnpt counted icmp_relayed; c1 got it, quoting its own
#   address as source, with right outer IPv4, ICMP and quoted IPv4 checksums;
#   c1's kernel learned the PMTU (`ip route get far` shows mtu 1400) while a
#   socket of the session's kind is open there (raw GRE/ESP, UDP on 1701):
#   raw_err/udp_err update the PMTU only when such a socket matches.
# The netfilter phases print the same line but assert nothing.
#
# Env: PMTU_PROTOS ("esp gre l2tp"), PMTU_MODES ("auto tc", LAB_VPNPT_MODE of
# each vpnpt phase), PMTU_NF ("masq masq-helper"; "" for none: plain
# masquerade, and masquerade plus the kernel's PPTP helper), N (10 packets
# each way per session), SIZE (1450, IPv4 total length of the big packet).
# Usage: netns-lab/tests/dataplane/pmtu.sh [VPNPT]    Exit: 0 pass, 1 fail (any protocol of any vpnpt phase).
set -euo pipefail

# shellcheck source=netns-lab/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lib/lib.sh"
PMTU_PROTOS=${PMTU_PROTOS:-esp gre l2tp}
PMTU_MODES=${PMTU_MODES:-auto tc}
PMTU_NF=${PMTU_NF-masq masq-helper}
N=${N:-10}
SIZE=${SIZE:-1450}
for p in $PMTU_PROTOS; do [[ $p =~ ^(esp|gre|l2tp)$ ]] || lab_fail "PMTU_PROTOS: unknown protocol '$p' (esp gre l2tp)"; done
for m in $PMTU_MODES; do [[ $m =~ ^(auto|native|skb|tc)$ ]] || lab_fail "PMTU_MODES: unknown mode '$m'"; done
for m in $PMTU_NF; do [[ $m =~ ^(masq|masq-helper)$ ]] || lab_fail "PMTU_NF: unknown phase '$m'"; done
[[ -n "${PMTU_PROTOS// /}" && -n "${PMTU_MODES// /}" ]] || lab_fail "PMTU_PROTOS and PMTU_MODES must name something"
if [[ " $PMTU_NF " == *" masq-helper "* ]]; then # modules on Debian, built in elsewhere
	for m in nf_conntrack_pptp nf_nat_pptp; do [[ -d /sys/module/$m ]] || modprobe "$m" 2>/dev/null || true; done
fi
lab_init "${1:-}"
t_start=$SECONDS
d=$LAB_STATE/pmtu
mkdir -p "$d"
MID=$LAB_ID-mid FARNS=$LAB_ID-far # "$LAB_ID-" names: lab_cleanup deletes them too
MID_IP=$LAB_WAN_PREFIX.200 FAR_GW=198.51.100.1 FAR=198.51.100.2

# ---------------------------------------------------------------- topology
PHASES=() # "site kind arg": vpnpt MODE | nf masq|masq-helper
for m in $PMTU_MODES; do PHASES+=("v$m vpnpt $m"); done
for m in $PMTU_NF; do PHASES+=("nf${m#masq-} nf $m"); done # nfmasq, nfhelper
lab_log "== vpnpt PMTU lab, run $LAB_ID: protocols $PMTU_PROTOS; vpnpt modes $PMTU_MODES; netfilter: ${PMTU_NF:-none}"
for ph in "${PHASES[@]}"; do lab_site "${ph%% *}" 1 0; done

_lab_netns_add "$MID"
_lab_netns_add "$FARNS"
INET=$(lab_ns - inet)
# mid's leg on the internet switch, set up as _lab_server sets up a server's
# (GRO on its switch port: veth drops XDP-redirected frames otherwise).
ip -n "$MID" link add eth0 type veth peer name mid netns "$INET"
ip -n "$INET" link set mid master br0 up
ip -n "$MID" addr add "$MID_IP/24" dev eth0
ip -n "$MID" link set eth0 up
_lab_side_gro wan "$INET" mid
_lab_wire_port "$INET" mid
_lab_host_nic "$MID" eth0 wan
# The narrow link, MTU 1400 at both ends.
ip -n "$MID" link add nar0 mtu 1400 type veth peer name eth0 netns "$FARNS"
ip -n "$FARNS" link set eth0 mtu 1400
ip -n "$MID" addr add "$FAR_GW/24" dev nar0
ip -n "$MID" link set nar0 up
ip -n "$FARNS" addr add "$FAR/24" dev eth0
ip -n "$FARNS" link set eth0 up
ip -n "$FARNS" route add default via "$FAR_GW"
_lab_host_nic "$FARNS" eth0 wan
# Forwarding; no per-destination ICMP rate limit (every phase's errors go
# to one public address each, a few per second).
lab_nsenter "$MID" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward && echo 0 > /proc/sys/net/ipv4/icmp_ratelimit'
# The frag-needed errors mid's kernel sends (output hook: locally generated).
lab_nsenter "$MID" nft -f - <<'EOF'
table ip pmtu {
	counter fragneed {}
	chain out { type filter hook output priority 0; policy accept; icmp type destination-unreachable icmp code frag-needed counter name fragneed; }
}
EOF
# Packets of each kind far receives, and c1 receives from far (small traffic both ways).
counters() { # counters NS DIRECTION-MATCH
	lab_nsenter "$1" nft -f - <<EOF
table ip pmtu {
	counter n_gre {}
	counter n_esp {}
	counter n_l2tp {}
	chain in {
		type filter hook input priority 0; policy accept;
		$2 ip protocol gre counter name n_gre
		$2 ip protocol esp counter name n_esp
		$2 udp $3 1701 counter name n_l2tp
	}
}
EOF
}
counters "$FARNS" "" dport
nft_count() { lab_nsenter "$1" nft list counter ip pmtu "$2" | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }

for ph in "${PHASES[@]}"; do
	s=${ph%% *}
	pub=$(lab_wan_ip "$s")
	ip -n "$(lab_ns "$s" router)" route add 198.51.100.0/24 via "$MID_IP"
	counters "$(lab_ns "$s" c1)" "ip saddr $FAR" sport
	lab_assert "site $s: the router routes $FAR via mid" grep -q "via $MID_IP dev wan0" \
		<<<"$(lab_router_exec "$s" ip route get "$FAR")"
	lab_assert "site $s: far routes the public address $pub via mid" grep -q "via $FAR_GW dev eth0" \
		<<<"$(lab_nsenter "$FARNS" ip route get "$pub")"
	# Settles ARP on every hop before vpnpt starts (small pings: nobody learns a PMTU here).
	lab_nsenter "$(lab_ns "$s" c1)" ping -q -n -c1 -W2 "$FAR" >/dev/null || lab_fail "site $s: c1 cannot reach $FAR through NAT and mid"
	lab_nsenter "$FARNS" ping -q -n -c1 -W2 "$pub" >/dev/null || lab_fail "far cannot reach $pub"
done
lab_assert "mid's end of the narrow link has MTU 1400" grep -q "mtu 1400" <<<"$(ip -n "$MID" link show nar0)"
lab_assert "far's end of the narrow link has MTU 1400" grep -q "mtu 1400" <<<"$(ip -n "$FARNS" link show eth0)"

# ---------------------------------------------------------------- sessions
has() { [[ " $PMTU_PROTOS " == *" $1 "* ]]; }
# sess_start SITE: the selected protocols' crafted sessions from the site's c1
# to far (servers in far), held until $d/SITE.release. Pids in PEERS.
sess_start() {
	local s=$1 c1 t p ready
	c1=$(lab_ns "$s" c1)
	PEERS=()
	has gre && lab_bg "$s-pptp-server" ip netns exec "$FARNS" "$LAB_PY" "$LAB_PEERS/pptp" server --expect 1 \
		--count "$N" --interval 0.02 --report "$d/$s-pptp-server.json" --ready-file "$d/$s-gre.srv" --max-time 90 &&
		PEERS+=("$LAB_BG_PID")
	has esp && lab_bg "$s-esp-server" ip netns exec "$FARNS" "$LAB_PY" "$LAB_PEERS/ipsec" server --count "$N" \
		--interval 0.02 --report "$d/$s-esp-server.json" --ready-file "$d/$s-esp.srv" --release-file "$d/$s.release" \
		--max-time 90 && PEERS+=("$LAB_BG_PID")
	has l2tp && lab_bg "$s-lns" ip netns exec "$FARNS" "$LAB_PY" "$LAB_PEERS/l2tp" lns --report "$d/$s-lns.json" \
		--ready-file "$d/$s-l2tp.srv" --expect 1 --max-time 90 && PEERS+=("$LAB_BG_PID")
	for ((t = 0; t < 50; t++)); do
		ready=1
		for p in $PMTU_PROTOS; do [[ -e $d/$s-$p.srv ]] || ready=0; done
		((ready)) && break
		sleep 0.1
	done
	has gre && lab_bg "$s-pptp" ip netns exec "$c1" "$LAB_PY" "$LAB_PEERS/pptp" client --server "$FAR" --name c1 \
		--index 1 --call-id 1000 --calls 1 --count "$N" --interval 0.02 --rx-wait 10 --report "$d/$s-pptp.json" \
		--ready-file "$d/$s-gre.ready" --release-file "$d/$s.release" --max-time 85 && PEERS+=("$LAB_BG_PID")
	has esp && lab_bg "$s-esp" ip netns exec "$c1" "$LAB_PY" "$LAB_PEERS/ipsec" host --server "$FAR" --name c1 \
		--index 1 --count "$N" --interval 0.02 --rx-wait 10 --report "$d/$s-esp.json" --ready-file "$d/$s-esp.ready" \
		--release-file "$d/$s.release" --max-time 85 && PEERS+=("$LAB_BG_PID")
	has l2tp && lab_bg "$s-lac" ip netns exec "$c1" "$LAB_PY" "$LAB_PEERS/l2tp" lac --server "$FAR" --name c1 \
		--index 1 --tunnel-id 4242 --count "$N" --interval 0.02 --paced --rx-wait 10 --report "$d/$s-lac.json" \
		--ready-file "$d/$s-l2tp.ready" --release-file "$d/$s.release" --max-time 85 && PEERS+=("$LAB_BG_PID")
	for ((t = 0; t < 300; t++)); do # the clients are ready once their traffic is done (or failed)
		ready=1
		for p in $PMTU_PROTOS; do [[ -e $d/$s-$p.ready ]] || ready=0; done
		((ready)) && break
		sleep 0.1
	done
	return 0
}
# sess_id SITE PROTO: the id the big packet names (the server's Call ID, the
# SA's SPI, the LNS's Tunnel ID), from the clients' logs and reports; "" if none.
sess_id() {
	case $2 in
	gre) sed -n 's/.*OCRP server id \([0-9]*\),.*result 1.*/\1/p' "$LAB_STATE/$1-pptp.log" | head -n1 ;;
	esp) sed -n 's/.*IKE_AUTH done.* x \([0-9a-f]\{8\}\) y .*/0x\1/p' "$LAB_STATE/$1-esp.log" | head -n1 ;;
	l2tp) lab_json 'd["lns_tid"] or ""' <"$d/$1-lac.json" 2>/dev/null || true ;;
	esac
}
relayed() { lab_status_json "$1" | lab_json "d['reasons']['inbound']['icmp_relayed']"; }

# ---------------------------------------------------------------- phases
SUMMARY=()
for ph in "${PHASES[@]}"; do
	read -r s kind arg <<<"$ph"
	c1=$(lab_ns "$s" c1)
	label="netfilter $arg"
	if [[ $kind == vpnpt ]]; then
		LAB_VPNPT_MODE=$arg lab_start_vpnpt "$s"
		label="vpnpt --mode $arg: $(lab_status_json "$s" | lab_json "' '.join('%s %s' % (i['name'], i['mode']) for i in d['interfaces'])")"
	elif [[ $arg == masq-helper ]]; then
		lab_router_exec "$s" nft -f - <<'EOF' || label="netfilter masq (PPTP helper unavailable)"
table ip lab_pptp {
	ct helper pptp-h { type "pptp" protocol tcp; l3proto ip; }
	chain pre { type filter hook prerouting priority filter; policy accept; tcp dport 1723 ct helper set "pptp-h"; }
}
EOF
	fi
	lab_log "== phase $s ($label)"
	declare -A far0=()
	for p in $PMTU_PROTOS; do far0[$p]=$(nft_count "$FARNS" "n_$p"); done
	sess_start "$s"
	for p in $PMTU_PROTOS; do
		id=$(sess_id "$s" "$p")
		up_out=$(($(nft_count "$FARNS" "n_$p") - ${far0[$p]}))
		up_in=$(nft_count "$c1" "n_$p")
		sess="c1->far $up_out, far->c1 $up_in packets"
		sess_ok=0
		((up_out >= N / 2 && up_in >= N / 2)) && [[ -n "$id" ]] && sess_ok=1
		lab_info "$p session: id ${id:-none}, $sess"
		line="no id for the big packet: the session was not set up" pmtu_ok=0
		if [[ -n "$id" ]]; then
			# Forget learned PMTUs: c1's from the previous probe, and the router's (an error its own
			# stack took, e.g. gre_err's, would make vpnpt's FIB lookup refuse the next big packet).
			lab_nsenter "$c1" ip route flush cache
			lab_router_exec "$s" ip route flush cache
			mid0=$(nft_count "$MID" fragneed) rel0=0 rel=-
			[[ $kind == vpnpt ]] && rel0=$(relayed "$s")
			# pmtu_probe.py: one SIZE-byte packet of the session with DF, then what came back.
			pr=$(ip netns exec "$c1" "$LAB_PY" "$LAB_DIR/tests/dataplane/pmtu_probe.py" "$p" "$FAR" "$id" "$SIZE") || pr='{}'
			mid=$(($(nft_count "$MID" fragneed) - mid0))
			[[ $kind == vpnpt ]] && rel=$(($(relayed "$s") - rel0))
			IFS=$'\t' read -r host mtu_f dst qsrc csums mtu before <<<"$(lab_json '"\t".join("-" if d.get(k) is None else str(d[k]) for k in ("icmp", "mtu", "outer_dst", "quote_src", "csums", "route_mtu", "route_mtu_before"))' <<<"$pr")"
			line="icmp from mid=$mid relayed=$rel at host=$host next_hop_mtu=$mtu_f dst=$dst quote_src=$qsrc csums=$csums route_mtu=$mtu"
			lab_log "PMTU $p ($label): $line (route mtu before: $before)"
			c1ip=$(lab_client_ip "$s" 1)
			[[ $mid == 1 && ($kind != vpnpt || $rel == 1) && $host == 1 && $mtu_f == 1400 && $dst == "$c1ip" &&
				$qsrc == "$c1ip" && $csums == ok && $mtu == 1400 && $before == - ]] && pmtu_ok=1
		fi
		if [[ $kind == vpnpt ]]; then
			ok=$((sess_ok && pmtu_ok))
			lab_check "PMTU $p ($label)" "$ok" "$line$( ((sess_ok)) || echo "; session broken: $sess")"
			SUMMARY+=("$( ((ok)) && echo PASS || echo FAIL) $p: vpnpt --mode $arg")
		else
			res="session $( ((sess_ok)) && echo works || echo "broken ($sess)"), PMTU $( ((pmtu_ok)) && echo works || echo fails)"
			lab_log "REPORT $p ($label): $res (not asserted)"
			SUMMARY+=("info $p: $label: $res")
		fi
	done
	touch "$d/$s.release"
	lab_wait_pids 30 "${PEERS[@]}" || true
done

lab_log "== summary ($((SECONDS - t_start)) s)"
for l in "${SUMMARY[@]}"; do lab_log "  $l"; done
((LAB_CHECK_FAILS == 0)) || lab_fail "$LAB_CHECK_FAILS protocol check(s) failed"
lab_log "== PASS: pmtu"
