#!/usr/bin/env bash
# vpnpt behind a router with a real firewall (lib.sh lab_router_firewall, an
# OpenWrt-fw4-like ruleset: WAN input rejected and WAN forward dropped unless
# established/related, no hole for GRE, ESP, UDP 500/4500/1701; masquerade
# on wan0). Every vpnpt session must still work, and the LAN must still be
# protected from everything else.
#
# Parts (PARTS, default and "all": real protect neigh):
#   real     the real-software labs with LAB_FIREWALL=1 and vpnpt, NCLIENTS
#            (3) clients each: netns-lab/tests/pptp/real.sh, netns-lab/tests/l2tp/real.sh
#            (RAND_SOURCE=sys: every LAC on port 1701 with the same tunnel
#            ID), netns-lab/tests/ipsec/real.sh strongswan (NAT-T) and vpnc (raw ESP).
#            Every client must work. A protocol that fails is run again
#            without the firewall (COMPARE_ON_FAIL=1) to tell whether the
#            firewall is the cause. Each run prints the firewall rules that
#            counted packets (lab_cleanup), so forward_wan drops show.
#   protect  site with 2 clients listening on TCP 8080 and 1723 and 2
#            servers; s2 is the attacker (no session with anyone). Three
#            rounds: [fw+vpnpt] firewall and vpnpt attached, c2 carrying a
#            crafted PPTP call, raw-ESP SA and L2TP tunnel to s1 meanwhile;
#            [fw] the same attacks with vpnpt detached (baseline); [no fw]
#            control: firewall removed, the direct probes must now arrive
#            (proves the probes and the captures). Attacks, each counted on
#            tcpdump captures of both LAN hosts (src host = attacker):
#              to the public IP: TCP connect to 8080 and 1723 (no port
#              forward), GRE with random Call IDs, ESP with random SPIs,
#              L2TP with random Tunnel IDs, UDP 4500 (ESP-in-UDP and IKE)
#              and UDP 500 IKE from the unknown peer;
#              to the LAN addresses directly (the attacker routes
#              192.168.1.0/24 via the public IP, as an ISP neighbour can):
#              TCP connect, GRE, ESP, L2TP, NAT-T, IKE, UDP, ICMP echo.
#            Every count must be 0 and no TCP connection may open, with and
#            without vpnpt. Ping to the public IP is answered (Allow-Ping).
#   neigh    a live PPTP call, raw-ESP SA and L2TP tunnel (crafted peers,
#            c1 -> s1) while the router loses its neighbour entry for c1
#            (as GC on a LAN with > gc_thresh1 neighbours, a flush or a
#            link change does): vpnpt then hands the translated inbound
#            packets to the stack (fib_no_neigh), where the forward chain
#            sees them as new flows from the WAN. Every packet must arrive;
#            run with and without the firewall.
#
# Usage: netns-lab/tests/dataplane/firewall.sh [VPNPT]
# Env: PARTS, NCLIENTS=3 (real), COMPARE_ON_FAIL=1, REAL="pptp l2tp
#      ipsec-natt ipsec-esp", N=100 (crafted session packets per direction),
#      LAB_KEEP_LOGS=1 keeps the state directory (logs, pcaps).
# Exit: 0 every check passed, 1 otherwise, 77 skipped (VPNPT_ALLOW_SKIP=1).
set -euo pipefail
. "$(dirname "$0")/../../lib/lib.sh"
lab_init "${1:-}"

PARTS=${PARTS:-all}
[[ "$PARTS" != all ]] || PARTS="real protect neigh"
REAL=${REAL:-pptp l2tp ipsec-natt ipsec-esp}
REAL_CLIENTS=${NCLIENTS:-3}
COMPARE_ON_FAIL=${COMPARE_ON_FAIL:-1}
N=${N:-100}
INTERVAL=0.05
command -v tcpdump >/dev/null 2>&1 || lab_skip "missing tcpdump"
T_START=$SECONDS
d=$LAB_STATE/fw
mkdir -p "$d"
part() { [[ " $PARTS " == *" $1 "* ]]; }
lab_log "== vpnpt behind a stateful router firewall, run $LAB_ID (parts: $PARTS)"

# ================================================================ real software
# real_cmd NAME: the command line of one real-software lab.
real_cmd() {
	case "$1" in
	pptp) echo "netns-lab/tests/pptp/real.sh vpnpt" ;;
	l2tp) echo "netns-lab/tests/l2tp/real.sh vpnpt" ;;
	ipsec-natt) echo "netns-lab/tests/ipsec/real.sh vpnpt strongswan" ;;
	ipsec-esp) echo "netns-lab/tests/ipsec/real.sh vpnpt vpnc" ;;
	*) lab_fail "unknown REAL entry '$1' (pptp l2tp ipsec-natt ipsec-esp)" ;;
	esac
}

# real_run NAME FW LOG: runs it (bounded: 240 s) with LAB_FIREWALL=FW;
# sets REAL_RESULT ("working/clients" or the failure).
real_run() {
	local name=$1 fw=$2 log=$3 cmd pid
	read -r -a cmd <<<"$(real_cmd "$name")"
	lab_bg "real-$name-fw$fw" env LAB_FIREWALL="$fw" NCLIENTS="$REAL_CLIENTS" RAND_SOURCE=sys \
		timeout -k 30 240 bash "$LAB_REPO/${cmd[0]}" "${cmd[@]:1}" "$VPNPT"
	pid=$LAB_BG_PID
	lab_wait_pids 280 "$pid" || true
	mv "$LAB_STATE/real-$name-fw$fw.log" "$log"
	REAL_RESULT=$(sed -n 's/^RESULT .*clients=\([0-9]*\) working=\([0-9]*\).*/\2\/\1/p' "$log" | tail -1)
	[[ -n "$REAL_RESULT" ]] || REAL_RESULT="no RESULT line (exit: see $log)"
	if grep -q '^SKIP: ' "$log"; then REAL_RESULT="skipped: $(sed -n 's/^SKIP: //p' "$log" | head -1)"; fi
}

if part real; then
	lab_log "-- real software through the firewall and vpnpt ($REAL_CLIENTS clients each)"
	for name in $REAL; do
		t0=$SECONDS
		real_run "$name" 1 "$d/real-$name.log"
		fwdrops=$(sed -n 's/.*firewall s1| forward_wan: \([0-9]*\) drop.*/\1/p' "$d/real-$name.log" | tail -1)
		lab_info "$name: $(grep -E '^RESULT ' "$d/real-$name.log" | tail -1) in $((SECONDS - t0)) s; router firewall forward_wan drops: ${fwdrops:-0}"
		if [[ "$REAL_RESULT" == skipped:* ]]; then
			if [[ "${VPNPT_ALLOW_SKIP:-0}" == 1 ]]; then printf 'SKIP: %s (%s)\n' "$name" "$REAL_RESULT"; continue; fi
		fi
		ok=0
		[[ "$REAL_RESULT" == "$REAL_CLIENTS/$REAL_CLIENTS" ]] && ok=1
		lab_check "[fw+vpnpt] real $name: every client works" "$ok" "$REAL_RESULT working"
		if ((ok == 0)); then
			grep -E '^(CLIENT|SERVER|FAIL|WARN)|vpnpt counters|firewall s1\|' "$d/real-$name.log" | sed "s/^/    $name| /" | head -40
			if [[ "$COMPARE_ON_FAIL" == 1 ]]; then
				real_run "$name" 0 "$d/real-$name-nofw.log"
				lab_info "$name without the firewall (comparison): $REAL_RESULT working"
			fi
		fi
	done
fi

# ================================================================ crafted sessions
# shellcheck source=netns-lab/lib/crafted-sessions.sh
. "$LAB_LIB/crafted-sessions.sh"

# reason SITE DIR NAME: one vpnpt reason counter (packets).
reasons_json() { lab_status_json "$1"; }
reason_delta() { # reason_delta BEFORE_JSON AFTER_JSON DIR NAME
	"$LAB_PY" -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); g=lambda x: x["reasons"][sys.argv[3]].get(sys.argv[4], 0); print(g(b)-g(a))' \
		"$1" "$2" "$3" "$4"
}
fw_counter() { # fw_counter SITE CHAIN: packets the rules of CHAIN counted, summed
	lab_firewall_counters "$1" | awk -v c="$2:" '$1 == c { n += $2 } END { print n + 0 }'
}

# ================================================================ protection
if part protect; then
	lab_log "-- protection: unsolicited traffic from an internet host (s2) toward the LAN"
	LAB_FIREWALL=1 lab_site p 2 2
	R=$(lab_ns p router)
	PUB=$(lab_wan_ip p)
	C1=$(lab_client_ip p 1)
	C2=$(lab_client_ip p 2)
	ATT=$(lab_server_ip p 2)
	ATTNS=$(lab_ns p s2)
	ip -n "$ATTNS" route add "$LAB_LAN_PREFIX.0/24" via "$PUB"
	lab_info "router public $PUB, LAN hosts $C1 $C2 (TCP 8080, 1723 open), attacker $ATT (routes $LAB_LAN_PREFIX.0/24 via $PUB)"
	for h in c1 c2; do
		lab_bg "listen-$h" ip netns exec "$(lab_ns p "$h")" "$LAB_PY" -u "$LAB_DIR/tests/dataplane/firewall_listen.py"
	done
	for ((t = 0; t < 50; t++)); do
		grep -qs listening "$LAB_STATE/listen-c1.log" && grep -qs listening "$LAB_STATE/listen-c2.log" && break
		sleep 0.1
	done

	# capture_start TAG / capture_stop: tcpdump on both LAN hosts, only
	# packets from the attacker.
	capture_start() {
		local h
		CAP_PIDS=()
		for h in c1 c2; do
			lab_bg "cap-$1-$h" ip netns exec "$(lab_ns p "$h")" timeout 120 tcpdump -i eth0 -nn -U -s 128 \
				-w "$d/$1-$h.pcap" "src host $ATT"
			CAP_PIDS+=("$LAB_BG_PID")
		done
		for ((t = 0; t < 50; t++)); do
			[[ -s $d/$1-c1.pcap && -s $d/$1-c2.pcap ]] && break
			sleep 0.1
		done
		sleep 0.2
	}
	capture_stop() {
		local p
		sleep 0.5
		for p in "${CAP_PIDS[@]}"; do lab_kill "$p" 3; done
	}
	# captured TAG FILTER: packets matching FILTER on both LAN hosts.
	captured() {
		local h n=0 k
		for h in c1 c2; do
			k=$(tcpdump -nn -r "$d/$1-$h.pcap" "$2" 2>/dev/null | wc -l)
			n=$((n + k))
		done
		echo "$n"
	}
	att() { ip netns exec "$ATTNS" "$@"; }
	# tcp_try DST PORT: connected | refused | timeout | error
	tcp_try() {
		att "$LAB_PY" "$LAB_DIR/tests/dataplane/firewall_tcp_try.py" "$1" "$2"
	}

	# attack_pub TAG: unsolicited traffic to the public IP; results in $d/TAG.*
	attack_pub() {
		local tag=$1
		capture_start "$tag"
		: >"$d/$tag.ping-ok"
		{ tcp_try "$PUB" 8080; tcp_try "$PUB" 1723; } | tr '\n' ' ' >"$d/$tag.tcp"
		att "$LAB_PY" "$LAB_LIB/flood.py" wan-gre --dst "$PUB" --count 200 --max-time 5 --seed 11 --pps 2000 >/dev/null
		att "$LAB_PY" "$LAB_LIB/flood.py" wan-esp --dst "$PUB" --count 200 --max-time 5 --seed 12 --pps 2000 >/dev/null
		att "$LAB_PY" "$LAB_LIB/flood.py" wan-l2tp --dst "$PUB" --count 200 --max-time 5 --seed 13 --pps 2000 >/dev/null
		att "$LAB_PY" "$LAB_LIB/traffic.py" --class natt,ike --dst "$PUB" --count 20 --seed 14 --timeout 10 -q
		if att ping -n -q -c 2 -i 0.2 -W 1 "$PUB" >"$d/$tag.ping" 2>&1; then echo ok >>"$d/$tag.ping-ok"; fi
		capture_stop
	}
	# attack_lan TAG: the same kinds of traffic sent straight to the LAN addresses.
	attack_lan() {
		local tag=$1 h ip
		capture_start "$tag"
		: >"$d/$tag.tcp"
		: >"$d/$tag.ping-ok"
		for ip in "$C1" "$C2"; do
			{ tcp_try "$ip" 8080; tcp_try "$ip" 1723; } | tr '\n' ' ' >>"$d/$tag.tcp"
			att "$LAB_PY" "$LAB_LIB/traffic.py" --class gre,esp,l2tp,natt,ike,other --dst "$ip" --count 10 --seed 15 \
				--timeout 10 -q
			if att ping -n -q -c 2 -i 0.2 -W 1 "$ip" >/dev/null 2>&1; then echo "$ip" >>"$d/$tag.ping-ok"; fi
		done
		capture_stop
	}
	# report_pub/report_lan LABEL TAG: one PASS/FAIL line per kind; every
	# result also goes to $d/results-LABEL for the baseline comparison.
	kind() { # kind LABEL WHAT COUNT [EXTRA_OK(0/1) EXTRA]
		local ok=1
		[[ "$3" == 0 ]] || ok=0
		[[ "${4:-1}" == 1 ]] || ok=0
		lab_check "[$1] $2" "$ok" "$3 at the LAN hosts${5:+, $5}"
		printf '%s|%s|%s\n' "$2" "$3" "${5:-}" >>"$d/results-$1"
	}
	report_pub() {
		local l=$1 t=$2 tcp
		tcp=$(cat "$d/$t.tcp")
		kind "$l" "public IP: TCP connect to 8080, 1723 (no port forward): no connection" \
			"$(captured "$t" tcp)" "$([[ "$tcp" != *connected* ]] && echo 1 || echo 0)" "connect: ${tcp% }"
		kind "$l" "public IP: GRE, 200 random Call IDs" "$(captured "$t" 'ip proto 47')"
		kind "$l" "public IP: ESP, 200 random SPIs" "$(captured "$t" 'ip proto 50')"
		kind "$l" "public IP: L2TP (UDP 1701), 200 unknown Tunnel IDs" "$(captured "$t" 'udp port 1701')"
		kind "$l" "public IP: UDP 4500 ESP-in-UDP and IKE from an unknown peer" "$(captured "$t" 'udp port 4500')"
		kind "$l" "public IP: UDP 500 IKE from an unknown peer" "$(captured "$t" 'udp port 500')"
		kind "$l" "public IP: nothing else from the attacker reaches the LAN" "$(captured "$t" 'not (tcp or ip proto 47 or ip proto 50 or udp)')"
		lab_check "[$l] the router answers ping on its public IP (Allow-Ping)" \
			"$([[ -s $d/$t.ping-ok ]] && echo 1 || echo 0)"
	}
	report_lan() {
		local l=$1 t=$2 tcp pings
		tcp=$(cat "$d/$t.tcp")
		pings=$(tr '\n' ' ' <"$d/$t.ping-ok")
		kind "$l" "LAN IPs direct: TCP connect to 8080, 1723: no connection" \
			"$(captured "$t" tcp)" "$([[ "$tcp" != *connected* ]] && echo 1 || echo 0)" "connect: ${tcp% }"
		kind "$l" "LAN IPs direct: GRE" "$(captured "$t" 'ip proto 47')"
		kind "$l" "LAN IPs direct: ESP" "$(captured "$t" 'ip proto 50')"
		kind "$l" "LAN IPs direct: L2TP (UDP 1701)" "$(captured "$t" 'udp port 1701')"
		kind "$l" "LAN IPs direct: UDP 4500" "$(captured "$t" 'udp port 4500')"
		kind "$l" "LAN IPs direct: UDP 500 IKE" "$(captured "$t" 'udp port 500')"
		kind "$l" "LAN IPs direct: other UDP (port 9)" "$(captured "$t" 'udp port 9')"
		kind "$l" "LAN IPs direct: ICMP echo, no reply" "$(captured "$t" icmp)" "$([[ -z "$pings" ]] && echo 1 || echo 0)" \
			"${pings:+answered: $pings}"
	}

	# ---- round 1: firewall + vpnpt, with live sessions on c2
	lab_start_vpnpt p
	sessions_start p c2 prot
	up=$(sessions_wait_up p 3)
	lab_check "[fw+vpnpt] c2's crafted PPTP call, ESP SA and L2TP tunnel to s1 carry traffic before the attacks" \
		"$([[ $up -ge 3 ]] && echo 1 || echo 0)" "$up of 3 sessions with inbound packets"
	st0=$(reasons_json p)
	attack_pub b-pub
	attack_lan b-lan
	st1=$(reasons_json p)
	report_pub fw+vpnpt b-pub
	report_lan fw+vpnpt b-lan
	info=""
	for r in inbound:gre_no_call inbound:esp_unbound inbound:l2tp_no_tunnel inbound:natt_no_ct inbound:natt_not_esp inbound:fib_no_neigh; do
		info+=" ${r#*:}=$(reason_delta "$st0" "$st1" "${r%%:*}" "${r#*:}")"
	done
	lab_info "vpnpt reasons during the attacks:$info"
	lab_firewall_counters p | sed 's/^/    firewall| /'
	sessions_finish prot
	read -r rx_pptp rx_esp rx_l2tp <<<"$SESS_RX"
	lab_check "[fw+vpnpt] c2's sessions carried every packet during the attacks (PPTP, ESP, L2TP of $N)" \
		"$([[ $rx_pptp -ge $N && $rx_esp -ge $((N - 1)) && $rx_l2tp -ge $N ]] && echo 1 || echo 0)" \
		"received $rx_pptp $rx_esp $rx_l2tp"

	# ---- round 2: firewall, vpnpt detached (baseline)
	lab_detach_vpnpt p || lab_fail "vpnpt detach in site p failed"
	attack_pub c-pub
	attack_lan c-lan
	report_pub fw c-pub
	report_lan fw c-lan
	same=$(diff <(cut -d'|' -f1,2 "$d/results-fw+vpnpt") <(cut -d'|' -f1,2 "$d/results-fw") || true)
	lab_check "[fw] every protection result with vpnpt equals the baseline without it" \
		"$([[ -z "$same" ]] && echo 1 || echo 0)" "${same:+$(tr '\n' ' ' <<<"$same")}"

	# ---- round 3: control, no firewall: what the firewall stops must now arrive
	lab_router_exec p nft delete table inet lab_fw
	attack_lan d-lan
	tcp=$(cat "$d/d-lan.tcp")
	n_all=$(captured d-lan 'ip proto 47 or ip proto 50 or udp or icmp')
	lab_check "[no fw] control: direct probes reach the LAN hosts without the firewall (captures work)" \
		"$([[ $n_all -gt 0 && "$tcp" == *connected* ]] && echo 1 || echo 0)" "$n_all captured, connect: ${tcp% }"
	lab_info "protection part done in $((SECONDS - T_START)) s since start"
fi

# ================================================================ neighbour lost
if part neigh; then
	lab_log "-- live sessions while the router loses its neighbour entry for the LAN host"
	LAB_FIREWALL=1 lab_site n 1 1
	R=$(lab_ns n router)
	C1=$(lab_client_ip n 1)
	lab_start_vpnpt n
	for fw in 1 0; do
		label="fw+vpnpt"
		if ((fw == 0)); then
			label=vpnpt
			lab_router_exec n nft delete table inet lab_fw
		fi
		lab_host_exec n c1 ping -n -q -c1 -W2 "$(lab_router_lan_ip)" >/dev/null || true
		st0=$(reasons_json n)
		drops0=$(fw_counter n forward_wan)
		sessions_start n c1 "neigh$fw"
		up=$(sessions_wait_up n 3)
		before=$(ip -n "$R" neigh show "$C1" dev lan0 | tr -s ' ')
		ip -n "$R" neigh del "$C1" dev lan0 || lab_fail "cannot delete the router's neighbour entry for $C1"
		lab_info "[$label] $up sessions up; deleted the router's neighbour entry for $C1 ($before); now: $(ip -n "$R" neigh show "$C1" dev lan0 | tr -s ' ')"
		sessions_finish "neigh$fw"
		st1=$(reasons_json n)
		read -r rx_pptp rx_esp rx_l2tp <<<"$SESS_RX"
		nn=$(reason_delta "$st0" "$st1" inbound fib_no_neigh)
		nl=$(reason_delta "$st0" "$st1" inbound neigh_learned)
		drops=$(($(fw_counter n forward_wan) - drops0))
		lab_check "[$label] next hop lost: every packet of the PPTP call, ESP SA and L2TP tunnel arrives (of $N)" \
			"$([[ $rx_pptp -ge $N && $rx_esp -ge $((N - 1)) && $rx_l2tp -ge $N ]] && echo 1 || echo 0)" \
			"received $rx_pptp $rx_esp $rx_l2tp; vpnpt fib_no_neigh +$nn, neigh_learned +$nl, firewall forward_wan drops +$drops; neighbour now: $(ip -n "$R" neigh show "$C1" | tr -s ' ' | tr '\n' ' ')"
		# The daemon has the kernel resolve the lost entry again (VPNPT_EV_NO_NEIGH, loader/dataplane/neigh.cpp).
		lab_check "[$label] the router resolved its neighbour entry for $C1 again" \
			"$(ip -n "$R" neigh show "$C1" dev lan0 | grep -cE 'REACHABLE|STALE|DELAY|PROBE')" \
			"neighbour now: $(ip -n "$R" neigh show "$C1" dev lan0 | tr -s ' ')"
	done
fi

lab_log "== firewall test: $LAB_CHECK_FAILS failed check(s), $((SECONDS - T_START)) s"
((LAB_CHECK_FAILS == 0)) || exit 1
lab_log "== PASS: firewall"
