#!/usr/bin/env bash
# vpnpt demo: one home router with vpnpt, 3 LAN clients, 2 internet servers.
# Part 1: bounded VPN-ish traffic of every class, live `vpnpt status` every 5 s.
# Part 2: real translation: three PPTP calls with the same Call ID to one
# server and three raw-ESP hosts to another, shown with `vpnpt sessions`,
# `vpnpt diagnose` and the translated counters.
#
# Usage: demo.sh [VPNPT]   (default: $VPNPT, else <repo>/build/vpnpt)
# Env:   DURATION=20 seconds of traffic (1..600), STATUS_EVERY=5 seconds
# Exit:  0 done, 1 error, 77 skipped (no root / tool / kernel feature)
set -euo pipefail

# shellcheck source=netns-lab/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"
lab_init "${1:-}"

DURATION=${DURATION:-20}
STATUS_EVERY=${STATUS_EVERY:-5}
if ! [[ "$DURATION" =~ ^[0-9]+$ ]] || ((DURATION < 1 || DURATION > 600)); then
	lab_fail "DURATION must be 1..600 seconds"
fi
if ! [[ "$STATUS_EVERY" =~ ^[1-9][0-9]*$ ]]; then
	lab_fail "STATUS_EVERY must be >= 1"
fi

CLIENT_PPS=50 # per client, all classes together
SERVER_PPS=25 # per server, toward the router's public address

lab_log "Building the lab (run $LAB_ID) ..."
lab_site home 3 3
R=$(lab_ns home router)
PUB=$(lab_wan_ip home)
S1=$(lab_server_ip home 1)
S2=$(lab_server_ip home 2)
S3=$(lab_server_ip home 3)

cat <<EOF

================================================================================
 vpnpt demo: an XDP VPN-passthrough gateway on a simulated home router
================================================================================
 Every box below is a Linux network namespace of this run ($LAB_ID-*):

   c1 192.168.1.11 --+                                      +-- s1 $S1
   c2 192.168.1.12 --+-- [LAN switch] --lan0 [ROUTER] wan0--+-- s2 $S2
   c3 192.168.1.13 --+           192.168.1.1         $PUB     ("internet")

 The router NATs (masquerades) the clients behind its public address
 $PUB. vpnpt runs on it: XDP programs on lan0 and wan0, a daemon
 in the foreground, state pinned in ${LAB_PIN_DIR[home]}.

 For ${DURATION} s, every client sends ~${CLIENT_PPS} pps to a server and every server
 ~${SERVER_PPS} pps to the public address, cycling through all VPN classes:
   pptp_ctrl (TCP 1723)  gre (PPTP data, IP 47)  ike (UDP 500)
   natt (UDP 4500)       esp (IP 50)             ah (IP 51)
   l2tp (UDP 1701)       other (plain UDP)
 The packets carry realistic headers but no real VPN session; the servers'
 kernels answer with RSTs and ICMP errors, which you will see counted too.

 Reading the status table:
   out = packets arriving on a LAN interface (clients -> internet)
   in  = packets arriving on the WAN interface (internet -> router/clients)
   non_ipv4 is ARP here; malformed should stay 0.

 While it runs, from another shell:
   nsenter --net=/run/netns/$R $VPNPT status
   ip netns exec $R curl -s http://127.0.0.1:9477/metrics
================================================================================

EOF

lab_log "Starting vpnpt on the router ..."
lab_start_vpnpt home
lab_log "vpnpt daemon running (pid $(lab_vpnpt_pid home)); starting traffic for ${DURATION} s"

PIDS=()
per_class() { echo $((($1 * DURATION + 7) / 8)); }
for i in 1 2 3; do
	dst=$S1
	((i % 2 == 0)) && dst=$S2
	lab_traffic_bg "traffic-c$i" home "c$i" -- --class all --dst "$dst" \
		--count "$(per_class $CLIENT_PPS)" --interval "$(awk "BEGIN { printf \"%.4f\", 1 / $CLIENT_PPS }")" \
		--timeout $((DURATION + 2)) --quiet
	PIDS+=("$LAB_BG_PID")
done
for j in 1 2; do
	lab_traffic_bg "traffic-s$j" home "s$j" -- --class all --dst "$PUB" \
		--count "$(per_class $SERVER_PPS)" --interval "$(awk "BEGIN { printf \"%.4f\", 1 / $SERVER_PPS }")" \
		--timeout $((DURATION + 2)) --quiet
	PIDS+=("$LAB_BG_PID")
done

START=$SECONDS
for ((t = STATUS_EVERY; t < DURATION; t += STATUS_EVERY)); do
	sleep $((START + t - SECONDS > 0 ? START + t - SECONDS : 0))
	printf '\n--- t=%ds: vpnpt status (traffic running) ---\n' $((SECONDS - START))
	lab_status home
done

lab_wait_pids 10 "${PIDS[@]}" || lab_info "(some senders stopped at their time bound; that is fine)"
sleep 0.5
printf '\n--- final: vpnpt status after %ds of traffic ---\n' $((SECONDS - START))
lab_status home

# ---------------------------------------------------------------- real translation
D=$LAB_STATE/demo
mkdir -p "$D"
cat <<EOF

================================================================================
 Now real sessions, the cases plain NAT gets wrong:
  * PPTP: c1, c2 and c3 each call $S1 with the SAME Call ID 1000.
    A plain NAT cannot tell their GRE apart; vpnpt gives each call a Call ID
    of its own (unique on the gateway) and rewrites it in control messages and in GRE.
  * IPsec: c1, c2 and c3 each run raw ESP to $S2. ESP has no ports, only an
    SPI agreed inside encrypted IKE; vpnpt learns which SPI is whose from the
    traffic, ordering the hosts' IKE exchanges so it never has to guess.
  * L2TP: c1, c2 and c3 each open a tunnel to $S3 from UDP port 1701 with
    the SAME Tunnel ID 4242. vpnpt keeps port 1701 for all three and gives
    the server a distinct Tunnel ID for each, rewritten back in every packet.
================================================================================
EOF
lab_bg demo-pptp-server ip netns exec "$(lab_ns home s1)" "$LAB_PY" "$LAB_PEERS/pptp" server --expect 3 \
	--count 20 --interval 0.1 --report "$D/pptp-server.json" --ready-file "$D/pptp-server.ready" --max-time 40
lab_bg demo-esp-server ip netns exec "$(lab_ns home s2)" "$LAB_PY" "$LAB_PEERS/ipsec" server --count 20 \
	--interval 0.1 --report "$D/esp-server.json" --ready-file "$D/esp-server.ready" --release-file "$D/release" \
	--max-time 40
lab_bg demo-lns ip netns exec "$(lab_ns home s3)" "$LAB_PY" "$LAB_PEERS/l2tp" lns --report "$D/lns.json" \
	--ready-file "$D/lns.ready" --expect 3 --max-time 40
for ((t = 0; t < 50; t++)); do [[ -e $D/pptp-server.ready && -e $D/esp-server.ready && -e $D/lns.ready ]] && break; sleep 0.1; done
for i in 1 2 3; do
	lab_bg "demo-pptp-c$i" ip netns exec "$(lab_ns home "c$i")" "$LAB_PY" "$LAB_PEERS/pptp" client --server "$S1" \
		--name "c$i" --index "$i" --call-id 1000 --calls 1 --count 20 --interval 0.1 --report "$D/pptp-c$i.json" \
		--ready-file "$D/pptp-c$i.ready" --release-file "$D/release" --max-time 30
	lab_bg "demo-esp-c$i" ip netns exec "$(lab_ns home "c$i")" "$LAB_PY" "$LAB_PEERS/ipsec" host --server "$S2" \
		--name "c$i" --index "$i" --count 20 --interval 0.1 --report "$D/esp-c$i.json" \
		--ready-file "$D/esp-c$i.ready" --release-file "$D/release" --max-time 30
	lab_bg "demo-lac-c$i" ip netns exec "$(lab_ns home "c$i")" "$LAB_PY" "$LAB_PEERS/l2tp" lac --server "$S3" \
		--name "c$i" --index "$i" --tunnel-id 4242 --count 20 --interval 0.1 --report "$D/lac-c$i.json" \
		--ready-file "$D/lac-c$i.ready" --release-file "$D/release" --max-time 30
done
for ((t = 0; t < 150; t++)); do
	n=$(find "$D" -name '*-c*.ready' | wc -l)
	((n == 9)) && break
	sleep 0.1
done
printf '\n--- vpnpt sessions (while the calls and tunnels are up) ---\n'
lab_router_exec home "$VPNPT" sessions
printf '\n--- vpnpt diagnose: what happened, in plain words (newest first) ---\n'
lab_router_exec home "$VPNPT" diagnose >"$D/diagnose.txt"
head -n 14 "$D/diagnose.txt"
touch "$D/release"
sleep 2
printf '\n--- vpnpt status after the sessions (see the translated columns) ---\n'
lab_status home

printf '\n--- vpnpt detach wan0 (removes the programs and pins, stops the daemon) ---\n'
lab_detach_vpnpt home || lab_fail "vpnpt detach failed"
tail -n 3 "${LAB_VPNPT_LOG[home]}" | sed 's/^/  /'
if [[ -e "${LAB_PIN_DIR[home]}" ]] || ip -n "$R" link | grep -q xdp; then
	lab_fail "detach left programs or pins behind"
fi
lab_log "Detached: no XDP programs, no pins. Removing the namespaces ..."
lab_cleanup
lab_log "Demo done."
