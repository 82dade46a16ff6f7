#!/usr/bin/env bash
# vpnpt IP passthrough (`vpnpt ip-passthrough wan0 <host>|off`): a site with
# two LAN clients and a server. With passthrough to c1:
#   - the server opens TCP to the router's public IP (port 8080) and sends UDP
#     to it (port 5000): both reach c1 (ports unchanged, the server's own
#     address as source) and c1's answers come back from the public IP;
#   - c2 (and c1 itself) keep their own outbound TCP and UDP to the server
#     (kernel masquerade, conntrack'd, so not passed through);
#   - a connection to a kept port (tcp/22, nothing listens on the router)
#     does not reach c1 (c1 listens on 22 and must never see it);
#   - status --json shows the host and the kept ports.
# Then `vpnpt ip-passthrough wan0 off`: the server's new connection to the
# public IP no longer reaches c1; status shows no host.
#
# Usage: netns-lab/tests/dataplane/ip-passthrough.sh [VPNPT]   (default: $VPNPT, else <repo>/build/vpnpt)
# Exit:  0 pass, 1 fail, 77 skipped
set -euo pipefail

# shellcheck source=netns-lab/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lib/lib.sh"
lab_init "${1:-}"
T0=$SECONDS

lab_log "== vpnpt IP passthrough lab, run $LAB_ID, vpnpt $VPNPT"
lab_site s1 2 1
SRV=$(lab_server_ip s1 1)
PUB=$(lab_wan_ip s1)
C1=$(lab_client_ip s1 1)
C2=$(lab_client_ip s1 2)
lab_start_vpnpt s1
lab_pass "site s1: c1 $C1, c2 $C2, server $SRV, public $PUB; vpnpt attached"

# ---------------------------------------------------------------- helpers
# One small Python tool: bounded echo servers that log every peer, and
# one-shot TCP/UDP clients.
TOOL=$LAB_DIR/tests/dataplane/ip_passthrough_echo.py
serve() { # serve HOST SPEC: echo servers in HOST (c1, c2, s1), log in $LAB_STATE/HOST.peers
	lab_bg "serve-$1" ip netns exec "$(lab_ns s1 "$1")" timeout 80 "$LAB_PY" "$TOOL" serve "$2" "$LAB_STATE/$1.peers" 75
	for ((t = 0; t < 50; t++)); do grep -qs '^ready' "$LAB_STATE/$1.peers" && return 0; sleep 0.1; done
	lab_fail "echo servers in $1 not ready"
}
call() { # call HOST PROTO DST PORT MSG [TIMEOUT]: one request from HOST, prints the answer or ERR
	lab_host_exec s1 "$1" timeout 10 "$LAB_PY" "$TOOL" client "$2" "$3" "$4" "$5" "${6:-2}" || echo "ERR timeout"
}
seen() { # seen HOST MSG: lines of HOST's peer log carrying MSG
	grep -c -- " $2\$" "$LAB_STATE/$1.peers" || true
}
expect_echo() { # expect_echo DESC HOST PROTO DST PORT MSG
	local got
	got=$(call "$2" "$3" "$4" "$5" "$6")
	lab_check "$1" "$([[ "$got" == "echo:$6 lport="* ]] && echo 1 || echo 0)" "$got"
	LPORT=${got##*lport=}
}

serve c1 tcp:8080,tcp:22,udp:5000
serve c2 tcp:8080,udp:5000
serve s1 tcp:9000,udp:9001

# ---------------------------------------------------------------- passthrough off (baseline)
lab_log "-- before: no passthrough"
got=$(call s1 tcp "$PUB" 8080 base-1 1)
lab_check "server -> $PUB:8080 does not reach c1 without passthrough" "$(( $(seen c1 base-1) == 0 ? 1 : 0 ))" "$got"

# ---------------------------------------------------------------- passthrough to c1
lab_log "-- vpnpt ip-passthrough wan0 $C1"
lab_router_exec s1 "$VPNPT" ip-passthrough wan0 "$C1" >>"$LAB_STATE/ipt.log" 2>&1 ||
	{ cat "$LAB_STATE/ipt.log"; lab_fail "vpnpt ip-passthrough wan0 $C1 failed"; }
ST=$(lab_status_json s1)
lab_check_eq "status: ip_passthrough host" "$C1" "$(lab_json "d['ip_passthrough']['host']" <<<"$ST")"
lab_check "status: kept ports include tcp/22 and udp/68" \
	"$(lab_json "1 if {'tcp/22', 'udp/68'} <= set(d['ip_passthrough']['local_ports']) else 0" <<<"$ST")" \
	"$(lab_json "' '.join(d['ip_passthrough']['local_ports'])" <<<"$ST")"
lab_info "status: $(lab_status s1 | grep -i 'ip passthrough' || true)"

LPORTS=""
for i in 1 2 3; do
	expect_echo "[on] server -> $PUB:8080 (TCP) #$i: reaches c1, echo comes back" s1 tcp "$PUB" 8080 "pt-tcp-$i"
	LPORTS+="$LPORT "
done
lab_check_eq "[on] c1 accepted the 3 connections, from the server's own address" 3 \
	"$(grep -c "^tcp 8080 $SRV [0-9]* pt-tcp-" "$LAB_STATE/c1.peers" || true)"
lab_check_eq "[on] c2 saw none of them" 0 "$(grep -c 'pt-tcp-' "$LAB_STATE/c2.peers" || true)"
SPORTS=$(grep "^tcp 8080 $SRV" "$LAB_STATE/c1.peers" | awk '{print $4}' | tr '\n' ' ')
lab_check_eq "[on] ports unchanged: c1 saw the server's own source ports" "$LPORTS" "$SPORTS"
expect_echo "[on] server -> $PUB:5000 (UDP): reaches c1, echo comes back" s1 udp "$PUB" 5000 pt-udp-1
lab_check_eq "[on] c1 got the datagram from the server's own address" 1 \
	"$(grep -c "^udp 5000 $SRV [0-9]* pt-udp-1\$" "$LAB_STATE/c1.peers" || true)"

# The other LAN host and the passthrough host itself: their own connections (masquerade).
expect_echo "[on] c2 -> server TCP 9000 (its own connection)" c2 tcp "$SRV" 9000 c2-tcp-1
expect_echo "[on] c2 -> server UDP 9001 (its own exchange)" c2 udp "$SRV" 9001 c2-udp-1
expect_echo "[on] c1 -> server TCP 9000 (a connection c1 opens itself)" c1 tcp "$SRV" 9000 c1-tcp-1
expect_echo "[on] c1 -> server UDP 9001" c1 udp "$SRV" 9001 c1-udp-1
lab_check_eq "[on] the server saw c2's and c1's connections from the public IP" 4 \
	"$(grep -cE "^(tcp 9000|udp 9001) $PUB [0-9]+ c[12]-(tcp|udp)-1\$" "$LAB_STATE/s1.peers" || true)"
# c2 again while the server talks to c1: both at once.
lab_bg par-c2 bash -c "for i in 1 2 3 4 5; do ip netns exec '$(lab_ns s1 c2)' '$LAB_PY' '$TOOL' client udp '$SRV' 9001 c2-par-\$i 2; sleep 0.1; done"
PAR=$LAB_BG_PID
for i in 1 2 3 4 5; do call s1 tcp "$PUB" 8080 "pt-par-$i" >/dev/null; done
lab_wait_pids 15 "$PAR" || true
lab_check_eq "[on] concurrently: c2's 5 UDP requests answered" 5 "$(grep -c '^echo:c2-par-' "$LAB_STATE/par-c2.log" || true)"
lab_check_eq "[on] concurrently: the server's 5 connections reached c1" 5 "$(seen c1 'pt-par-[0-9]')"

# Kept port: tcp/22 belongs to the router (nothing listens there).
got=$(call s1 tcp "$PUB" 22 pt-ssh-1 2)
lab_check "[on] server -> $PUB:22 (kept port) is not passed through (the router answers)" \
	"$([[ "$got" == ERR* ]] && echo 1 || echo 0)" "$got"
lab_check_eq "[on] c1 never saw the connection to port 22" 0 "$(grep -c '^tcp 22 ' "$LAB_STATE/c1.peers" || true)"
lab_check "[on] vpnpt counted it as a kept port (reason pt_local_port)" \
	"$(lab_status_json s1 | lab_json "1 if d['reasons']['inbound'].get('pt_local_port', 0) > 0 else 0")"

# ---------------------------------------------------------------- passthrough off
lab_log "-- vpnpt ip-passthrough wan0 off"
lab_router_exec s1 "$VPNPT" ip-passthrough wan0 off >>"$LAB_STATE/ipt.log" 2>&1 ||
	{ cat "$LAB_STATE/ipt.log"; lab_fail "vpnpt ip-passthrough wan0 off failed"; }
lab_check_eq "[off] status: ip_passthrough host" null "$(lab_status_json s1 | lab_json "d['ip_passthrough']['host']")"
got=$(call s1 tcp "$PUB" 8080 off-tcp-1 2)
lab_check "[off] server -> $PUB:8080: no answer from c1" "$([[ "$got" == ERR* ]] && echo 1 || echo 0)" "$got"
lab_check_eq "[off] c1 did not see the new connection" 0 "$(seen c1 off-tcp-1)"
got=$(call s1 udp "$PUB" 5000 off-udp-1 1)
lab_check_eq "[off] c1 did not see the new datagram" 0 "$(seen c1 off-udp-1)"
expect_echo "[off] c2 -> server TCP 9000 still works" c2 tcp "$SRV" 9000 c2-tcp-2

lab_info "reasons: $(lab_status_json s1 | lab_json "' '.join('%s/%s=%d' % (k, r, v) for k, per in sorted(d['reasons'].items()) for r, v in sorted(per.items()) if v)")"
lab_info "run time $((SECONDS - T0)) s"
if ((LAB_CHECK_FAILS > 0)); then
	lab_log "== FAIL: $LAB_CHECK_FAILS check(s) failed (LAB_KEEP_LOGS=1 keeps $LAB_STATE)"
	exit 1
fi
lab_log "== PASS: IP passthrough"
