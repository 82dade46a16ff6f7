#!/usr/bin/env bash
# Floods against established sessions. While a PPTP client (2 calls) and a
# raw-ESP host carry traffic through vpnpt, four bounded floods run at once:
#
#   WAN  ESP with random SPIs from the IPsec server's address  (flood.py wan-esp)
#   WAN  enhanced GRE with random Call IDs from the PPTP server (flood.py wan-gre)
#   WAN  L2TP with random Tunnel IDs from the LNS              (flood.py wan-l2tp)
#   WAN  SYN, SYN-ACK, RST, FIN from the PPTP server's 1723 at random public
#        ports, and at the public port of c1's control connection (flood.py wan-tcp)
#   WAN  a fragment storm: ESP and UDP 1701 fragments that never complete (flood.py frag)
#   WAN  broken IPv4 headers, and the same on the LAN side (flood.py malformed)
#   LAN  one host opening new PPTP calls, a new Call ID each    (flood.py lan-pptp)
#   LAN  the same host opening new ESP SPIs toward the server   (flood.py lan-esp)
#
# (c1 also runs an L2TP tunnel to an LNS on the PPTP server's address.)
# Checks: every GRE, ESP and L2TP echo of the established sessions arrives, none at
# a wrong host; the sessions are never evicted; every refusal is counted
# under a reason (esp_unbound, gre_no_call, pptp_unknown_conn,
# pptp_out_of_window, and pptp_host_quota /
# esp_host_quota once the flooding host holds its share); the flooding host
# never holds more than its share of the PPTP call and outbound ESP tables,
# and another host can still open a call and an SPI; the event ring and the
# report limiter keep working (a new unknown SPI after the flood reaches
# `vpnpt diagnose`).
# (The fragment and malformed floods run at a quarter of FLOOD and PPS: they
# share the servers' and c3's links with the others.)
# Exit 0 pass, 1 fail, 77 skip. Env: N (packets per call/SA, 300),
# INTERVAL (0.05), FLOOD (packets per WAN flood, 40000), LAN_FLOOD (new
# calls and SPIs from the flooding host, 70000), FLOOD_TIME (s, 12), PPS
# (packets per second per flood, 20000: paced so that the veths' own queues,
# which the sessions share, do not overflow; vpnpt is not what is measured).
set -euo pipefail
. "$(dirname "$0")/../../lib/lib.sh"
lab_init "${1:-}"
N=${N:-300}
INTERVAL=${INTERVAL:-0.05}
FLOOD=${FLOOD:-40000}
LAN_FLOOD=${LAN_FLOOD:-70000}
FLOOD_TIME=${FLOOD_TIME:-12}
PPS=${PPS:-20000}
FLOODPY=$LAB_LIB/flood.py

lab_site s1 3 2
lab_start_vpnpt s1
PUB=$(lab_wan_ip s1)
S1=$(lab_server_ip s1 1) # PPTP server
S2=$(lab_server_ip s1 2) # IPsec server
d=$LAB_STATE/flood
mkdir -p "$d"
lab_log "== vpnpt flood lab, run $LAB_ID: c1 PPTP (2 calls) to $S1, c2 raw ESP to $S2, c3 floods the LAN side"

# ---------------------------------------------------------------- established sessions
lab_bg pptp-server ip netns exec "$(lab_ns s1 s1)" "$LAB_PY" "$LAB_PEERS/pptp" server --expect 1 --count "$N" \
	--interval "$INTERVAL" --report "$d/pptp-server.json" --ready-file "$d/pptp-server.ready" --max-time 60
lab_bg esp-server ip netns exec "$(lab_ns s1 s2)" "$LAB_PY" "$LAB_PEERS/ipsec" server --count "$N" \
	--interval "$INTERVAL" --report "$d/esp-server.json" --ready-file "$d/esp-server.ready" --release-file "$d/release" \
	--max-time 60
lab_bg lns ip netns exec "$(lab_ns s1 s1)" "$LAB_PY" "$LAB_PEERS/l2tp" lns --report "$d/lns.json" \
	--ready-file "$d/lns.ready" --expect 1 --max-time 60
for ((t = 0; t < 50; t++)); do [[ -e $d/pptp-server.ready && -e $d/esp-server.ready && -e $d/lns.ready ]] && break; sleep 0.1; done
lab_bg pptp-c1 ip netns exec "$(lab_ns s1 c1)" "$LAB_PY" "$LAB_PEERS/pptp" client --server "$S1" --name c1 \
	--index 1 --call-id 1000 --calls 2 --count "$N" --interval "$INTERVAL" --rx-wait 20 --report "$d/pptp-c1.json" \
	--ready-file "$d/pptp-c1.ready" --release-file "$d/release" --max-time 55
PPTP_CLIENT=$LAB_BG_PID
lab_bg esp-c2 ip netns exec "$(lab_ns s1 c2)" "$LAB_PY" "$LAB_PEERS/ipsec" host --server "$S2" --name c2 \
	--index 2 --count "$N" --interval "$INTERVAL" --rx-wait 20 --report "$d/esp-c2.json" --ready-file "$d/esp-c2.ready" \
	--release-file "$d/release" --max-time 55
ESP_HOST=$LAB_BG_PID
lab_bg lac-c1 ip netns exec "$(lab_ns s1 c1)" "$LAB_PY" "$LAB_PEERS/l2tp" lac --server "$S1" --name c1 --index 1 \
	--tunnel-id 4242 --count "$N" --interval "$INTERVAL" --rx-wait 20 --report "$d/lac-c1.json" \
	--ready-file "$d/lac-c1.ready" --release-file "$d/release" --max-time 55
LAC=$LAB_BG_PID

sessions() { lab_router_exec s1 "$VPNPT" sessions --json; }
up=0
for ((t = 0; t < 150; t++)); do
	up=$(sessions | lab_json 'sum(1 for r in d if r["packets_in"] > 3)')
	((up >= 4)) && break
	sleep 0.1
done
lab_assert_ge "2 PPTP calls, the ESP SA pair and the L2TP tunnel carry traffic before the flood" 4 "$up"
L2TP_XLAT=$(sessions | lab_json '" ".join(str(r["ids"]["translated_tunnel_id"]) for r in d if r["proto"] == "l2tp")')
# One key per PPTP call and per SPI (a new SPI of the same host-server pair is not a change).
SESSION_KEYS='" ".join(sorted(k for r in d if r["host"] != "'"$(lab_client_ip s1 3)"'" for k in (["ipsec/%s/%s/%s" % (r["host"], w, x) for w in ("spi_out", "spi_in") for x in r["ids"][w]] if r["proto"] == "ipsec" else ["%s/%s/%s" % (r["proto"], r["host"], __import__("json").dumps(r["ids"], sort_keys=True).replace(" ", ""))])))'
keys_before=$(sessions | lab_json "$SESSION_KEYS")
C1_CTRL_PORT=$(sessions | lab_json 'next(r["ids"]["public_control_port"] for r in d if r["proto"] == "pptp")')

# ---------------------------------------------------------------- the floods (bounded in count and time)
st0=$(lab_status_json s1)
t_flood=$SECONDS
lab_bg flood-wan-esp ip netns exec "$(lab_ns s1 s2)" "$LAB_PY" "$FLOODPY" wan-esp --dst "$PUB" --count "$FLOOD" \
	--max-time "$FLOOD_TIME" --seed 1 --pps "$PPS"
F1=$LAB_BG_PID
lab_bg flood-wan-gre ip netns exec "$(lab_ns s1 s1)" "$LAB_PY" "$FLOODPY" wan-gre --dst "$PUB" --count "$FLOOD" \
	--max-time "$FLOOD_TIME" --seed 2 --pps "$PPS"
F2=$LAB_BG_PID
lab_bg flood-wan-l2tp ip netns exec "$(lab_ns s1 s1)" "$LAB_PY" "$FLOODPY" wan-l2tp --dst "$PUB" --count "$FLOOD" \
	--max-time "$FLOOD_TIME" --seed 3 --pps "$PPS" --exclude "$L2TP_XLAT"
F5=$LAB_BG_PID
lab_bg flood-wan-tcp ip netns exec "$(lab_ns s1 s1)" "$LAB_PY" "$FLOODPY" wan-tcp --dst "$PUB" --count "$FLOOD" \
	--max-time "$FLOOD_TIME" --seed 4 --pps "$PPS"
F6=$LAB_BG_PID
lab_bg flood-wan-tcp-c1 ip netns exec "$(lab_ns s1 s1)" "$LAB_PY" "$FLOODPY" wan-tcp --dst "$PUB" --count 4000 \
	--max-time "$FLOOD_TIME" --seed 5 --pps 1000 --dport "$C1_CTRL_PORT"
F7=$LAB_BG_PID
lab_bg flood-wan-frag ip netns exec "$(lab_ns s1 s1)" "$LAB_PY" "$FLOODPY" frag --dst "$PUB" \
	--count $((FLOOD / 4)) --max-time "$FLOOD_TIME" --seed 6 --pps $((PPS / 4))
F8=$LAB_BG_PID
# From the internet namespace, on the link to the router's WAN (the servers' links are routed there).
lab_bg flood-wan-malformed ip netns exec "$(lab_ns s1 inet)" "$LAB_PY" "$FLOODPY" malformed --dst "$PUB" \
	--ifname "r$(lab_site_index s1)" \
	--count $((FLOOD / 4)) --max-time "$FLOOD_TIME" --seed 7 --pps $((PPS / 4))
F9=$LAB_BG_PID
# On the LAN switch's port to the router: the lab's Linux bridge (br_netfilter) drops broken IPv4
# headers that a hardware switch would forward from a LAN host.
lab_bg flood-lan-malformed ip netns exec "$(lab_ns s1 lan)" "$LAB_PY" "$FLOODPY" malformed --dst "$S1" --ifname rtr \
	--count $((FLOOD / 4)) --max-time "$FLOOD_TIME" --seed 8 --pps $((PPS / 4))
F10=$LAB_BG_PID
lab_bg flood-lan-pptp ip netns exec "$(lab_ns s1 c3)" "$LAB_PY" "$FLOODPY" lan-pptp --dst "$S1" --count "$LAN_FLOOD" \
	--max-time "$FLOOD_TIME" --first 1 --pps $((PPS * 8))
F3=$LAB_BG_PID
lab_bg flood-lan-esp ip netns exec "$(lab_ns s1 c3)" "$LAB_PY" "$FLOODPY" lan-esp --dst "$S2" --count "$LAN_FLOOD" \
	--max-time "$FLOOD_TIME" --first 16777216 --pps "$PPS"
F4=$LAB_BG_PID
lab_wait_pids $((FLOOD_TIME + 10)) "$F1" "$F2" "$F3" "$F4" "$F5" "$F6" "$F7" "$F8" "$F9" "$F10" || lab_fail "a flood did not finish in time"
lab_pass "floods done in $((SECONDS - t_flood)) s"
for f in "$LAB_STATE"/flood-*.log; do lab_info "$(basename "$f" .log): $(tail -n1 "$f")"; done
st1=$(lab_status_json s1)
printf '%s' "$st1" >"$d/status-after-flood.json"

# ---------------------------------------------------------------- refusals are counted, tables measured
delta() { # delta DIR REASON
	"$LAB_PY" -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); print(b["reasons"][sys.argv[3]][sys.argv[4]] - a["reasons"][sys.argv[3]][sys.argv[4]])' \
		"$st0" "$st1" "$1" "$2"
}
used() { lab_json "d['maps']['$1']['used']" <<<"$st1"; }
cap() { lab_json "d['maps']['$1']['capacity']" <<<"$st1"; }
unbound=$(delta inbound esp_unbound)
nocall=$(delta inbound gre_no_call)
lab_assert_ge "WAN ESP flood: random SPIs dropped and counted (esp_unbound)" 1000 "$unbound"
lab_assert_ge "WAN GRE flood: random Call IDs of no call passed and counted (gre_no_call)" 100 "$nocall"
unknown_conn=$(delta inbound pptp_unknown_conn)
out_of_window=$(delta inbound pptp_out_of_window)
lab_assert_ge "WAN TCP flood: segments of no LAN connection passed untracked and counted (pptp_unknown_conn)" 1000 \
	"$unknown_conn"
lab_assert_ge "WAN TCP flood at c1's connection: SYN/FIN/RST out of its window ignored and counted (pptp_out_of_window)" \
	1000 "$out_of_window"
lab_assert_eq "WAN TCP flood: no control connection refused for lack of room (pptp_stream_full)" 0 \
	"$(($(delta inbound pptp_stream_full) + $(delta outbound pptp_stream_full)))"
frags=$(($(delta inbound esp_fragment) + $(delta inbound l2tp_fragment)))
lab_assert_ge "WAN fragment storm: ESP and L2TP fragments left to the kernel and counted (esp_/l2tp_fragment)" 1000 \
	"$frags"
broken() { # broken DIR: malformed packets counted in that direction
	"$LAB_PY" -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); d=sys.argv[3]
print(sum(b["reasons"][d][r] - a["reasons"][d][r] for r in ("ip_ihl", "ip_version", "ip_totlen", "ip_trunc")))' \
		"$st0" "$st1" "$1"
}
lab_assert_ge "WAN malformed flood: broken IPv4 headers counted under their reasons" 1000 "$(broken inbound)"
lab_assert_ge "LAN malformed flood: broken IPv4 headers counted under their reasons" 1000 "$(broken outbound)"
notunnel=$(delta inbound l2tp_no_tunnel)
lab_assert_ge "WAN L2TP flood: random Tunnel IDs of no tunnel passed and counted (l2tp_no_tunnel)" 1000 "$notunnel"
calls_used=$(used vpnpt_pptp_calls_v2)
esp_used=$(used vpnpt_esp_out_v2)
calls_full=$(($(delta outbound pptp_table_full) + $(delta outbound pptp_id_exhausted)))
esp_full=$(delta outbound esp_table_full)
calls_quota=$(delta outbound pptp_host_quota)
esp_quota=$(delta outbound esp_host_quota)
held=$(delta outbound pptp_held)
lab_info "PPTP call table after the LAN flood: $calls_used / $(cap vpnpt_pptp_calls_v2) (refused: $calls_full, flood segments held: $held)"
lab_info "outbound ESP table after the LAN flood: $esp_used / $(cap vpnpt_esp_out_v2) (refused: $esp_full)"
c3_calls=$(sessions | lab_json "sum(1 for r in d if r['proto'] == 'pptp' and r.get('host') == '$(lab_client_ip s1 3)')")
lab_info "of which calls of the flooding host c3: $c3_calls"
c3_sas=$(sessions | lab_json "sum(len(r['ids']['spi_out']) for r in d if r['proto'] == 'ipsec' and r.get('host') == '$(lab_client_ip s1 3)')")
# Per-host shares (abi/vpnpt_abi.h VPNPT_HOST_MAX_*): one host fails only its own new sessions.
lab_assert_ge "the flooding host holds at most its share of the call table (1024)" "$c3_calls" 1024
lab_assert_ge "the flooding host holds at most its share of the outbound ESP table (1024)" "$c3_sas" 1024
lab_assert_ge "calls over the host's share are refused and counted (pptp_host_quota)" 1 "$calls_quota"
lab_assert_ge "SPIs over the host's share are refused and counted (esp_host_quota)" 1 "$esp_quota"

# Another LAN host asks for one new call and one new SPI now.
before=$(lab_status_json s1)
lab_host_exec s1 c2 "$LAB_PY" "$FLOODPY" lan-pptp --dst "$S1" --count 1 --first 4242 --sport 46000 >/dev/null
lab_host_exec s1 c2 "$LAB_PY" "$FLOODPY" lan-esp --dst "$S2" --count 1 --first 99999 >/dev/null
sleep 0.3
after=$(lab_status_json s1)
other=$("$LAB_PY" "$LAB_DIR/tests/dataplane/flood_refusals.py" "$before" "$after")
read -r other_calls other_esp other_reasons <<<"$other"
lab_info "another host's new call / new SPI refused for lack of room: $other_calls / $other_esp (reasons: $other_reasons)"
other="$other_calls $other_esp $other_reasons"
lab_assert_eq "another host's new call is not refused for lack of room" 0 "$other_calls"
lab_assert_eq "another host's new SPI is not refused for lack of room" 0 "$other_esp"
lab_assert_not "no quota refusal hits the other host" grep -q host_quota <<<"$other_reasons"
if ((calls_used >= $(cap vpnpt_pptp_calls_v2) - 1)); then
	lab_assert_ge "the full call table refuses new calls with a reason (pptp_table_full/pptp_id_exhausted)" 1 "$calls_full"
fi
if ((esp_used >= $(cap vpnpt_esp_out_v2))); then
	lab_assert_ge "the full outbound ESP table refuses new SPIs with a reason (esp_table_full)" 1 "$esp_full"
fi
printf '{"calls_used": %d, "calls_capacity": %d, "c3_calls": %d, "esp_out_used": %d, "esp_out_capacity": %d, "calls_refused": %d, "esp_refused": %d, "other_host_refused": "%s", "esp_unbound": %d, "gre_no_call": %d, "pptp_held": %d, "pptp_unknown_conn": %d, "pptp_out_of_window": %d}\n' \
	"$calls_used" "$(cap vpnpt_pptp_calls_v2)" "$c3_calls" "$esp_used" "$(cap vpnpt_esp_out_v2)" "$calls_full" "$esp_full" \
	"$other" "$unbound" "$nocall" "$held" "$unknown_conn" "$out_of_window" | tee "$d/figures.json"

# ---------------------------------------------------------------- the event ring and the report limiter still work
SPI=0x7e57ab1e
lab_host_exec s1 s2 "$LAB_PY" - "$PUB" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50)
for i in range(3):
    s.sendto(struct.pack("!II", 0x7E57AB1E, 1) + bytes(32), (sys.argv[1], 0))
EOF
seen=0
for ((t = 0; t < 40; t++)); do
	seen=$(lab_router_exec s1 "$VPNPT" diagnose --json | lab_json "sum(1 for l in d if '$((SPI))' in str(l) or '$(printf '%x' $((SPI)))' in str(l).lower())")
	((seen > 0)) && break
	sleep 0.1
done
lab_assert_ge "after the flood, a new unknown SPI still reaches vpnpt diagnose (ring and limiter work)" 1 "$seen"

# ---------------------------------------------------------------- the sessions were not disturbed
keys_after=$(sessions | lab_json "$SESSION_KEYS")
missing=$(comm -23 <(tr ' ' '\n' <<<"$keys_before" | sort) <(tr ' ' '\n' <<<"$keys_after" | sort) | tr '\n' ' ')
lab_assert_eq "no established session was evicted or changed (ids before and after)" "" "$missing"
for ((t = 0; t < 400; t++)); do [[ -e $d/pptp-c1.ready && -e $d/esp-c2.ready && -e $d/lac-c1.ready ]] && break; sleep 0.1; done
touch "$d/release"
lab_wait_pids 30 "$PPTP_CLIENT" "$ESP_HOST" "$LAC" || true
sleep 1
lab_assert_eq "PPTP: every GRE packet of both calls arrived during the floods" "$N $N" \
	"$(lab_json '" ".join(str(v) for _, v in sorted(d["rx_at_ready"].items()))' <"$d/pptp-c1.json")"
# Flood packets that happen to carry the translated id of one of c1's calls are c1's by the mapping
# (spoofed from its server): they arrive with c1's own Call IDs. Anything else would be misdelivery.
wrong=$(lab_json 'sum(1 for g in d["gre"] if g.get("key") not in (1000, 1001))' <"$d/pptp-c1.json")
lab_assert_eq "PPTP: every GRE packet at the client carries one of its own Call IDs" 0 "$wrong"
lab_assert_eq "IPsec: every ESP echo arrived during the floods (one lost to the binding at most)" "ok" \
	"$(lab_json '"ok" if d["sas"] and all(len(set(s["rx_echo"])) >= '"$N"' - 1 for s in d["sas"]) else "got %s" % [len(set(s["rx_echo"])) for s in d["sas"]]' <"$d/esp-c2.json")"
lab_assert_eq "IPsec: 0 misdelivered ESP packets at the host" 0 "$(lab_json 'len(d["foreign"])' <"$d/esp-c2.json")"
lab_assert_eq "L2TP: every echo of the tunnel arrived during the floods" "$N" \
	"$(lab_json 'len(set(d["echo_seqs"]))' <"$d/lac-c1.json")"
lab_assert_eq "L2TP: 0 misdelivered packets at the LAC" 0 "$(lab_json 'len(d["foreign"])' <"$d/lac-c1.json")"
lab_log "== PASS: flood"
