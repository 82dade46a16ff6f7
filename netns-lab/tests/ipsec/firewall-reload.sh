#!/usr/bin/env bash
# A firewall reload while vpnpt learns raw-ESP SPIs. Debian's nftables.service
# reloads /etc/nftables.conf, which starts with `flush ruleset`: every table
# goes, vpnpt's IKE queue table (table ip vpnpt_wan0) too, and with it the
# daemon's view of IKE, so new CHILD_SAs would get no inbound SPI binding.
# The daemon must notice (at once from nf_tables notifications, at the latest
# at its 3 s check) and put the table back.
#
#   round 1   NHOSTS (2) LAN hosts, crafted IKEv2 (peers/ipsec) + N raw ESP
#             each way with one server: every SA learned and translated
#   reload    under traffic (every host pings the server throughout), the
#             router loads a file that starts with `flush ruleset` and then
#             brings back the router's own masquerade (table lab_nat), as a
#             stock nftables.conf does
#   checks    the daemon logs the restore (one warning naming the table)
#             within RESTORE_WAIT (8) s; vpnpt_nft_restores_total >= 1 on
#             /metrics; `nft list table ip vpnpt_wan0` shows both queue rules
#   by hand   one of the two rules deleted (nft delete rule): restored too,
#             logged as changed, the counter at 2
#   round 2   NEW IKE exchanges and CHILD_SAs (new SPIs) + raw ESP from every
#             host after the reload: every SA learned and translated again
#
# On a vpnpt whose queue rules do not come back, the restore checks and round
# 2's inbound ESP fail (esp_unbound): that is what this lab exists to catch.
#
# Usage: netns-lab/tests/ipsec/firewall-reload.sh [VPNPT]
# Exit:  0 pass, 1 fail (77 only with VPNPT_ALLOW_SKIP=1, see lib.sh)
# Env:   NHOSTS=2, N=20 ESP per SA, K=3 losses allowed per SA before
#        binding, RESTORE_WAIT=8, LAB_KEEP_LOGS=1 keeps the state dir.
set -euo pipefail

# shellcheck source=netns-lab/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lib/lib.sh"
lab_init "${1:-}"

NHOSTS=${NHOSTS:-2}
N=${N:-20}
K=${K:-3}
RESTORE_WAIT=${RESTORE_WAIT:-8}
((NHOSTS >= 2 && NHOSTS <= 16)) || lab_fail "NHOSTS must be 2..16 (several hosts share one public IP)"
PEERS=$LAB_PEERS/ipsec
METRICS_PORT=9477
TABLE=vpnpt_wan0
T0=$SECONDS
command -v curl >/dev/null 2>&1 || lab_skip "missing tool: curl (reads /metrics)"

lab_log "== vpnpt IKE queue across a firewall reload, run $LAB_ID, vpnpt $VPNPT"
lab_site s1 "$NHOSTS" 1
R=$(lab_ns s1 router)
SRV=$(lab_server_ip s1 1)
PUB=$(lab_wan_ip s1)
lab_start_vpnpt s1 --metrics-address "127.0.0.1:$METRICS_PORT"
LOG=${LAB_VPNPT_LOG[s1]}
lab_pass "site s1: $NHOSTS hosts, server $SRV, public $PUB, vpnpt attached (pid $(lab_vpnpt_pid s1))"

router_table() { lab_nsenter "$R" nft list table ip "$TABLE" 2>&1; }
queue_rules() { router_table | grep -c 'udp [sd]port 500 .*queue.* bypass' || true; }
metric() { lab_nsenter "$R" curl -s --max-time 3 "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
status_json() { lab_status_json s1; }
delta() { "$LAB_PY" "$LAB_DIR/tests/ipsec/multihost_delta.py" "$1" "$2" "$3"; }

lab_check "table ip $TABLE holds the two IKE queue rules after attach" "$([[ $(queue_rules) == 2 ]] && echo 1 || echo 0)" \
	"$(router_table | grep -c 'queue' || true) queue rule(s)"

# round TAG PHASE: server + NHOSTS hosts 0.3 s apart (IKE_SA_INIT, IKE_AUTH,
# N ESP on the new CHILD_SA), analysis, vpnpt's ESP counters over the round.
round() {
	local tag=$1 ph=$2 d=$LAB_STATE/$1 i pids=() base srv rc=0 S exp_out own out_x in_x
	mkdir -p "$d"
	lab_bg "$tag-server" ip netns exec "$(lab_ns s1 s1)" "$LAB_PY" "$PEERS" server --phase "$ph" --count "$N" --push 2 \
		--report "$d/server.json" --ready-file "$d/server.ready" --release-file "$d/release" --max-time 40
	srv=$LAB_BG_PID
	for ((i = 0; i < 50; i++)); do [[ -e $d/server.ready ]] && break; sleep 0.1; done
	[[ -e $d/server.ready ]] || lab_fail "$tag: server not listening after 5 s"
	status_json >"$d/before.json"
	base=$("$LAB_PY" -c 'import time; print("%.3f" % (time.time() + 1.5))')
	for ((i = 1; i <= NHOSTS; i++)); do
		lab_bg "$tag-c$i" ip netns exec "$(lab_ns s1 "c$i")" "$LAB_PY" "$PEERS" host --phase "$ph" --server "$SRV" \
			--name "c$i" --index "$i" --esp-count "$N" --report "$d/c$i.json" --ready-file "$d/c$i.ready" \
			--release-file "$d/release" --max-time 30 --start-at "$("$LAB_PY" -c "print('%.3f' % ($base + ($i - 1) * 0.3))")"
		pids+=("$LAB_BG_PID")
	done
	for ((i = 0; i < 250; i++)); do # every host done: 25 s at most
		[[ $(find "$d" -name 'c*.ready' | wc -l) -ge $NHOSTS ]] && break
		sleep 0.1
	done
	sleep 0.3 # late ESP
	status_json >"$d/after.json"
	touch "$d/release"
	lab_wait_pids 10 "${pids[@]}" "$srv" || lab_warn "$tag: a peer failed or was stopped (see its report)"
	"$LAB_PY" "$PEERS" analyze --label "$tag" --server-report "$d/server.json" --public-ip "$PUB" -k "$K" \
		--summary "$d/summary.json" "$d"/c*.json || rc=$?
	((rc == 0)) || LAB_CHECK_FAILS=$((LAB_CHECK_FAILS + 1))
	[[ -s $d/summary.json ]] || lab_fail "$tag: analysis produced no summary"
	S=$(cat "$d/summary.json")
	exp_out=$(lab_json 'd["esp_at_server_expected"]' <<<"$S")
	own=$(lab_json 'd["esp_at_hosts"] + d["misdelivered"]' <<<"$S")
	out_x=$(delta "$d/before.json" "$d/after.json" counters.outbound.esp.translated_packets)
	in_x=$(delta "$d/before.json" "$d/after.json" counters.inbound.esp.translated_packets)
	lab_check_eq "[$tag] vpnpt: outbound ESP translated" "$exp_out" "$out_x"
	lab_check_eq "[$tag] vpnpt: inbound ESP translated = the ESP the hosts received" "$own" "$in_x"
	lab_info "$tag: ESP at hosts $(lab_json 'd["esp_at_hosts"]' <<<"$S"), lost $(lab_json 'd["lost"]' <<<"$S"), misdelivered $(lab_json 'd["misdelivered"]' <<<"$S"), esp_unbound $(delta "$d/before.json" "$d/after.json" reasons.inbound.esp_unbound)"
}

# expect_restore WHAT WAS MIN CMD...: runs CMD in the router, then expects the
# daemon's restore line ("table ... was WAS ...") within RESTORE_WAIT s,
# vpnpt_nft_restores_total >= MIN and the table back with both rules.
expect_restore() {
	local what=$1 was=$2 min=$3 lines t0 line="" n
	shift 3
	lines=$(wc -l <"$LOG")
	lab_nsenter "$R" "$@" || lab_check "$what: $*" 0 "the command failed"
	t0=$SECONDS
	while ((SECONDS - t0 <= RESTORE_WAIT)); do
		line=$(tail -n +"$((lines + 1))" "$LOG" | grep -m1 "nftables table $TABLE was $was .*restored" || true)
		[[ -n $line ]] && break
		sleep 0.2
	done
	lab_check "$what: the daemon logged that table ip $TABLE was $was and restored it, within $RESTORE_WAIT s" \
		"$([[ -n $line ]] && echo 1 || echo 0)" "${line:+after $((SECONDS - t0)) s: ${line#*] }}"
	n=$(metric vpnpt_nft_restores_total)
	lab_check "$what: vpnpt_nft_restores_total >= $min on /metrics" \
		"$([[ ${n:-x} =~ ^[0-9.e+]+$ ]] && awk -v v="$n" -v m="$min" 'BEGIN { print (v >= m) ? 1 : 0 }' || echo 0)" "${n:-no such metric}"
	lab_check "$what: table ip $TABLE is back with its two IKE queue rules" "$([[ $(queue_rules) == 2 ]] && echo 1 || echo 0)"
}

lab_log "-- round 1: IKE + raw ESP from $NHOSTS hosts before the reload"
round before 1

lab_log "-- reload: flush ruleset + the router's own NAT, under traffic"
PINGS=()
for ((i = 1; i <= NHOSTS; i++)); do
	lab_bg "ping-c$i" ip netns exec "$(lab_ns s1 "c$i")" timeout 30 ping -n -i 0.1 -c 150 -W 1 "$SRV"
	PINGS+=("$LAB_BG_PID")
done
sleep 1
cat >"$LAB_STATE/nftables.conf" <<'EOF'
flush ruleset

table ip lab_nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" masquerade
	}
}
EOF
expect_restore "reload" missing 1 nft -f "$LAB_STATE/nftables.conf"
{ router_table || true; } | sed 's/^/    nft| /'
lab_wait_pids 30 "${PINGS[@]}" || true
for ((i = 1; i <= NHOSTS; i++)); do
	lab_info "c$i ping across the reload: $(grep -m1 'packets transmitted' "$LAB_STATE/ping-c$i.log" || echo 'no summary')"
done

lab_log "-- one of its rules deleted by hand"
HANDLE=$({ lab_nsenter "$R" nft -a list table ip "$TABLE" || true; } | awk '/sport 500/ { print $NF }')
expect_restore "rule deleted" changed 2 nft delete rule ip "$TABLE" ike handle "${HANDLE:-0}"

lab_log "-- round 2: new IKE exchanges and CHILD_SAs + raw ESP from $NHOSTS hosts after the reload"
round after 2

lab_info "bad checksums dropped per host (TCP UDP): $(lab_csum_errors | awk '{ printf "%s %s/%s  ", $1, $2, $3 }')"
if ((LAB_CHECK_FAILS > 0)); then
	lab_log "   vpnpt daemon log (nft/IKE lines, last 10):"
	grep -iE 'nft|ike|queue' "$LOG" | tail -10 | sed 's/^/    | /' || true
	lab_log "== FAIL: IKE queue across a firewall reload, $LAB_CHECK_FAILS check(s) failed ($((SECONDS - T0)) s)"
	exit 1
fi
lab_log "== PASS: IKE queue across a firewall reload ($((SECONDS - T0)) s)"
