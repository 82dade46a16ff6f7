#!/usr/bin/env bash
# vpnpt sessions, vpnpt diagnose and bpftool against known sessions and known
# failures: two PPTP calls (sessions --json rows, then "ended: the server
# disconnected it"), GRE for an unknown Call ID, ESP with an unbound SPI,
# a switched-off protocol (per host, and as a standing condition), an IPsec
# session waiting for its inbound SPI, and named fields in every pinned map.
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
. "$(dirname "$0")/../../lib/lib.sh"
lab_init "${1:-}"
PEERS=$LAB_PEERS/pptp

lab_site s1 2 1
lab_start_vpnpt s1
SRV=$(lab_server_ip s1 1)
PUB=$(lab_wan_ip s1)
C1=$(lab_client_ip s1 1)
C2=$(lab_client_ip s1 2)
SNS=$(lab_ns s1 s1)
d=$LAB_STATE/obs
mkdir -p "$d"
vp() { lab_router_exec s1 "$VPNPT" "$@"; }

# ---------------------------------------------------------------- PPTP sessions
lab_bg pptp-server ip netns exec "$SNS" "$LAB_PY" "$PEERS" server --expect 1 --count 5 --report "$d/server.json" \
	--ready-file "$d/server.ready" --max-time 25
for ((i = 0; i < 50; i++)); do [[ -e $d/server.ready ]] && break; sleep 0.1; done
lab_bg pptp-c1 ip netns exec "$(lab_ns s1 c1)" "$LAB_PY" "$PEERS" client --server "$SRV" --name c1 --index 1 \
	--call-id 1000 --calls 2 --count 5 --report "$d/c1.json" --ready-file "$d/c1.ready" --release-file "$d/release" \
	--max-time 20
CLIENT_PID=$LAB_BG_PID
for ((i = 0; i < 100; i++)); do [[ -e $d/c1.ready ]] && break; sleep 0.1; done
[[ -e $d/c1.ready ]] || lab_fail "the crafted PPTP client did not get its calls up"

vp sessions --json --proto pptp >"$d/pptp.json"
lab_assert_eq "sessions --json lists both PPTP calls of c1" "2 $C1 1000,1001 established,established" \
	"$(lab_json '"%d %s %s %s" % (len(d), ",".join(sorted({r["host"] for r in d})), ",".join(str(r["ids"]["client_call_id"]) for r in sorted(d, key=lambda r: r["ids"]["client_call_id"])), ",".join(r["state"] for r in d))' <"$d/pptp.json")"
lab_assert_eq "each call counted its GRE both ways" "true" \
	"$(lab_json 'all(r["packets_out"] >= 5 and r["packets_in"] >= 5 and r["bytes_in"] > 0 for r in d)' <"$d/pptp.json")"
lab_assert_eq "sessions --host filters (c2 has none)" "0" \
	"$(vp sessions --json --host "$C2" | lab_json 'len(d)')"
vp sessions >"$d/sessions.txt"
lab_assert "sessions prints a table" grep -q "call 1000 ->" "$d/sessions.txt"

# The kernel vpnpt runs on, and what it does without there (docs/kernels.md).
lab_assert_eq "status --json: kernel release" "$(uname -r)" "$(lab_status_json s1 | lab_json 'd["kernel"]["release"]')"
lab_assert "status: a kernel line" grep -q "^  kernel: $(uname -r)" <(vp status wan0)

# bpftool prints every pinned map with named fields (BTF): every map has BTF,
# and every map that holds entries right now dumps them with field names.
PIN=$(lab_status_json s1 | lab_json 'd["pin_dir"]')
for f in "$PIN"/*; do
	m=$(basename "$f")
	info=$(bpftool map show pinned "$f")
	[[ "$info" == *ringbuf* ]] && continue # a ring has no key/value to name
	lab_assert "bpftool: $m carries BTF" grep -q "btf_id" <<<"$info"
	# Big plain arrays (the PPTP call table: 65,536 slots) show one slot: its fields are the point.
	if [[ "$info" == *": array "* ]] && [[ "$info" =~ max_entries\ ([0-9]+) ]] && ((BASH_REMATCH[1] > 4096)); then
		dump=$(bpftool map lookup pinned "$f" key 0 0 0 0 2>/dev/null || true)
	else
		dump=$(bpftool map dump pinned "$f" 2>/dev/null || true)
	fi
	if grep -q '"key"' <<<"$dump"; then
		# Field names beyond bpftool's own "key", "value", "values", "cpu".
		names=$(grep -o '"[a-z_0-9]*":' <<<"$dump" | sort -u | grep -vc '"\(key\|value\|values\|cpu\)":' || true)
		lab_assert "bpftool: $m dumps named fields ($names names)" test "$names" -gt 0
	fi
done
for m in "vpnpt_config_v1:public_ip" "vpnpt_counters_v1:packets" "vpnpt_pptp_calls_v2:client_call_id" \
	"vpnpt_pptp_streams_v2:next_seq" "vpnpt_ifaces_v2:prog_id" "vpnpt_diag_v1:seq"; do
	lab_assert "bpftool map dump ${m%%:*} names field ${m#*:}" \
		bash -c "bpftool map dump pinned '$PIN/${m%%:*}' | grep -m1 -q '\"${m#*:}\"'"
done

touch "$d/release"
lab_wait_pids 10 "$CLIENT_PID" || true
sleep 1.5 # the daemon handles the server's Call-Disconnect-Notify on its next tick
vp diagnose "$C1" >"$d/diag-c1.txt"
lab_assert "diagnose C1 shows its calls set up" grep -q "PPTP call set up: $C1 Call ID 1000" "$d/diag-c1.txt"
lab_assert "diagnose C1 says why the calls ended" grep -q "ended: the server disconnected it" "$d/diag-c1.txt"

# ---------------------------------------------------------------- unknown Call ID, unbound SPI
lab_traffic s1 s1 --class gre --dst "$PUB" --count 3 --quiet
lab_traffic s1 s1 --class esp --dst "$PUB" --count 3 --quiet
sleep 0.5
vp diagnose >"$d/diag-all.txt"
lab_assert "diagnose: GRE with an unknown Call ID" grep -q "GRE from $SRV with unknown Call ID" "$d/diag-all.txt"
lab_assert "diagnose: ESP with an unbound SPI, in plain words" \
	grep -q "ESP from $SRV SPI 0x[0-9a-f]\{8\} not bound: no LAN host finished a CHILD_SA exchange" "$d/diag-all.txt"

# ---------------------------------------------------------------- an IPsec session waiting for its inbound SPI
lab_traffic s1 c1 --class esp --dst "$SRV" --count 3 --quiet
lab_assert_eq "sessions --proto ipsec: c1 to the server, outbound SPI known, inbound awaited" \
	"1 $C1 $SRV 1 waiting for inbound SPI" \
	"$(vp sessions --json --proto ipsec | lab_json '"%d %s %s %d %s" % (len(d), d[0]["host"], d[0]["server"], len(d[0]["ids"]["spi_out"]), d[0]["state"])')"

# ---------------------------------------------------------------- a switched-off protocol
vp set pptp off
lab_traffic s1 c2 --class gre --dst "$SRV" --count 3 --quiet
sleep 0.5
vp diagnose "$C2" >"$d/diag-c2.txt"
lab_assert "diagnose C2: PPTP passthrough is switched off (standing condition)" \
	grep -q "^now: PPTP passthrough is switched off" "$d/diag-c2.txt"
lab_assert "diagnose C2: its own PPTP packets hit the switch" \
	grep -q "PPTP between $C2 and $SRV: PPTP passthrough is switched off" "$d/diag-c2.txt"
vp diagnose "$C1" >"$d/diag-c1b.txt"
lab_assert_not "diagnose C1 does not show C2's packets" grep -q "PPTP between $C2" "$d/diag-c1b.txt"
vp set pptp on
lab_assert_not "after set pptp on the standing condition is gone" \
	bash -c "'$VPNPT' diagnose 2>/dev/null | grep -q '^now: PPTP passthrough is switched off'"
lab_log "== PASS: observability"
