#!/usr/bin/env bash
# vpnpt Prometheus endpoint lab test: the daemon's /metrics passes
# `promtool check metrics` (every family, including ones added later), the
# core families are there with HELP and TYPE, and a REAL Prometheus server
# scraping it every second returns, through its HTTP query API, exactly the
# packet counts the test sent.
#
# Usage: netns-lab/tests/daemon/metrics.sh [VPNPT]   (default: $VPNPT, else <repo>/build/vpnpt)
# Exit:  0 pass, 1 fail, 77 skipped (no root / tool / kernel feature, no
#        prometheus or promtool: apt-get install prometheus)
# Env:   K=40 packets per class, LAB_KEEP_LOGS=1 keeps the logs (daemon,
#        Prometheus, its config and TSDB, the scraped /metrics text),
#        PROMETHEUS=/path/to/prometheus, PROMTOOL=/path/to/promtool,
#        PROM_LIFETIME=60 hard bound on Prometheus's run time (s),
#        LAB_FAIL_AFTER_PROMETHEUS=1 fails on purpose once Prometheus is
#        ready (to check that cleanup stops it and leaves nothing behind).
#
# Everything runs inside the site's router namespace (nsenter --net): vpnpt
# serves 127.0.0.1:9477 there, Prometheus listens on 127.0.0.1:9090 there,
# so neither port touches the host (netns-lab/lib/prometheus.sh: bounded
# lifetime, private config and TSDB, stopped on success, failure or signal).
set -euo pipefail

# shellcheck source=netns-lab/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lib/lib.sh"
lab_init "${1:-}"

K=${K:-40}
# shellcheck source=netns-lab/lib/prometheus.sh
. "$LAB_LIB/prometheus.sh"
prom_init # prometheus, promtool, the traps that stop it

METRICS_ADDR=127.0.0.1:9477 # vpnpt's default --metrics-address
T0=$SECONDS

# ---------------------------------------------------------------- helpers

# prom_wait_scrape_after T TIMEOUT_S: waits until Prometheus holds a sample
# of vpnpt taken at or after unix time T (float), i.e. a scrape that started
# after T. Returns 1 on timeout.
prom_wait_scrape_after() {
	local t=$1 deadline=$((SECONDS + $2)) ts
	while ((SECONDS < deadline)); do
		ts=$(prom_query value 'timestamp(vpnpt_info)')
		if [[ "$ts" =~ ^[0-9.]+$ ]] && "$LAB_PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$ts" "$t"; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

now() { date +%s.%N; }

lab_log "== vpnpt metrics lab, run $LAB_ID, vpnpt $VPNPT, K=$K"
lab_info "$("$PROMETHEUS" --version 2>&1 | head -1)"

# ---------------------------------------------------------------- 1. site + vpnpt
lab_log "-- 1. site with 2 clients and 1 server, vpnpt in the router (metrics on $METRICS_ADDR)"
lab_site s1 2 1
SRV=$(lab_server_ip s1 1)
lab_start_vpnpt s1
lab_pass "vpnpt daemon ready in $(lab_ns s1 router) (pid $(lab_vpnpt_pid s1))"

# ---------------------------------------------------------------- 2. /metrics + promtool
lab_log "-- 2. GET http://$METRICS_ADDR/metrics inside the router namespace"
MFILE=$LAB_STATE/metrics.txt
ok=0
for ((i = 0; i < 50; i++)); do # the exposer is up before status shows ready, but be patient
	if http_get "http://$METRICS_ADDR/metrics" >"$MFILE" 2>"$LAB_STATE/metrics.err"; then
		ok=1
		break
	fi
	sleep 0.1
done
((ok)) || lab_fail "cannot fetch http://$METRICS_ADDR/metrics in the router namespace: $(tail -1 "$LAB_STATE/metrics.err")"
lab_pass "fetched /metrics ($(wc -l <"$MFILE") lines, $(grep -c '^# TYPE ' "$MFILE") families)"

if out=$("$PROMTOOL" check metrics <"$MFILE" 2>&1); then
	lab_pass "promtool check metrics: no problems in any of the $(grep -c '^# TYPE ' "$MFILE") families"
else
	printf '%s\n' "$out" | sed 's/^/    promtool| /'
	lab_fail "promtool check metrics reported problems (above)"
fi

declare -A WANT_TYPE=(
	[vpnpt_info]=gauge
	[vpnpt_packets_total]=counter
	[vpnpt_bytes_total]=counter
	[vpnpt_translated_packets_total]=counter
	[vpnpt_translated_bytes_total]=counter
	[vpnpt_untranslated_packets_total]=counter
	[vpnpt_map_entries]=gauge
	[vpnpt_map_capacity_entries]=gauge
	[vpnpt_untranslated_bytes_total]=counter
	[vpnpt_build_info]=gauge
	[vpnpt_interface_attached]=gauge
	[vpnpt_switch_on]=gauge
	[vpnpt_deferred_to_kernel_helper]=gauge
)
declare -A WANT_LABELS=(
	[vpnpt_info]="kernel lan mode version wan"
	[vpnpt_packets_total]="class direction"
	[vpnpt_bytes_total]="class direction"
	[vpnpt_translated_packets_total]="class direction"
	[vpnpt_untranslated_packets_total]="direction proto reason verdict"
	[vpnpt_map_entries]="map"
	[vpnpt_map_capacity_entries]="map"
	[vpnpt_untranslated_bytes_total]="direction proto reason verdict"
	[vpnpt_build_info]="abi version"
	[vpnpt_interface_attached]="interface path role"
	[vpnpt_switch_on]="proto"
	[vpnpt_deferred_to_kernel_helper]="proto"
)
# (docs/operations.md's list of every family, types and labels, is checked against the code by
# tests/unit/test_metrics.cpp; here the core ones are checked on a live daemon.)
for fam in $(printf '%s\n' "${!WANT_TYPE[@]}" | sort); do
	grep -qE "^# HELP $fam .+" "$MFILE" || lab_fail "$fam: no (non-empty) # HELP line"
	got=$(awk -v f="$fam" '$1 == "#" && $2 == "TYPE" && $3 == f { print $4 }' "$MFILE")
	[[ "$got" == "${WANT_TYPE[$fam]}" ]] || lab_fail "$fam: # TYPE is '$got', expected ${WANT_TYPE[$fam]}"
	n=$(grep -cE "^$fam(\{| )" "$MFILE" || true)
	((n > 0)) || lab_fail "$fam: HELP/TYPE but no sample"
	labels=""
	if [[ -n "${WANT_LABELS[$fam]:-}" ]]; then
		labels=$(grep -m1 -E "^$fam\{" "$MFILE" | sed -E 's/^[^{]*\{(.*)\}.*/\1/' |
			grep -oE '[a-zA-Z_][a-zA-Z0-9_]*="' | tr -d '="' | sort | xargs)
		[[ "$labels" == "${WANT_LABELS[$fam]}" ]] || lab_fail "$fam: labels '$labels', expected '${WANT_LABELS[$fam]}'"
		labels=" {${labels// /,}}"
	fi
	lab_pass "$fam: HELP, TYPE ${WANT_TYPE[$fam]}, $n sample(s)$labels"
done
EXTRA=$(awk '$1 == "#" && $2 == "TYPE" { print $3 }' "$MFILE" | grep -vxF -f <(printf '%s\n' "${!WANT_TYPE[@]}") | xargs || true)
[[ -z "$EXTRA" ]] || lab_info "further families (checked by promtool only): $EXTRA"
lab_assert_eq "vpnpt_info sample" \
	"1 wan0" "$(awk '/^vpnpt_info\{/ { v = $NF; match($0, /wan="[^"]*"/); w = substr($0, RSTART + 5, RLENGTH - 6); print v + 0, w }' "$MFILE")"
lab_assert_eq "vpnpt_info names the running kernel" "kernel=\"$(uname -r)\"" \
	"$(grep -m1 '^vpnpt_info{' "$MFILE" | grep -o 'kernel="[^"]*"')"
# The alert signals say what `vpnpt status` says.
ST=$LAB_STATE/status.json
lab_status_json s1 >"$ST"
lab_assert_eq "vpnpt_build_info is this binary's version and ABI (vpnpt status)" \
	"$(lab_json '"version=\"%s\",abi=\"%s\"" % (d["build"]["this_binary"]["version"], d["build"]["this_binary"]["abi"])' <"$ST")" \
	"$(grep -m1 '^vpnpt_build_info{' "$MFILE" | sed -E 's/^[^{]*\{(.*)\}.*/\1/')"
lab_assert_eq "vpnpt_interface_attached: wan0 and lan0 attached, on vpnpt status's paths" \
	"$(lab_json '" ".join("%s:%s:%d" % (i["name"], i["mode"], i["attached"]) for i in sorted(d["interfaces"], key=lambda i: i["name"]))' <"$ST")" \
	"$(awk -F'[{}]' '/^vpnpt_interface_attached\{/ { match($2, /interface="[^"]*"/); i = substr($2, RSTART + 11, RLENGTH - 12);
		match($2, /path="[^"]*"/); p = substr($2, RSTART + 6, RLENGTH - 7); print i ":" p ":" $3 + 0 }' "$MFILE" | sort | xargs)"
lab_assert_eq "vpnpt_switch_on / vpnpt_deferred_to_kernel_helper per protocol (vpnpt status)" \
	"$(lab_json '" ".join("%s:%d:%d" % (p, d["switches"][p], d["deferred"][p]) for p in sorted(d["switches"]))' <"$ST")" \
	"$(for p in $(lab_json '" ".join(sorted(d["switches"]))' <"$ST"); do
		printf '%s:%s:%s ' "$p" "$(awk -v p="$p" '$1 == "vpnpt_switch_on{proto=\"" p "\"}" { print $2 + 0 }' "$MFILE")" \
			"$(awk -v p="$p" '$1 == "vpnpt_deferred_to_kernel_helper{proto=\"" p "\"}" { print $2 + 0 }' "$MFILE")"
	done | xargs)"

# ---------------------------------------------------------------- 3. real Prometheus
lab_log "-- 3. a real Prometheus in the router namespace on $PROM_ADDR, scraping vpnpt every 1 s"
cat >"$PROM_DIR/prometheus.yml" <<EOF
# vpnpt netns lab ($LAB_ID): private config, removed with the lab state dir.
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: vpnpt
    metrics_path: /metrics
    static_configs:
      - targets: ['$METRICS_ADDR']
EOF
prom_start s1 "$PROM_DIR/prometheus.yml"
[[ -z "${LAB_FAIL_AFTER_PROMETHEUS:-}" ]] || lab_fail "LAB_FAIL_AFTER_PROMETHEUS is set: failing on purpose with Prometheus running"

# First scrape: target up, counters still zero (nothing sent yet).
prom_wait_scrape_after "$(now)" 10 || lab_fail "Prometheus did not scrape vpnpt within 10 s"
lab_assert_eq "up{job=\"vpnpt\"}" 1 "$(prom_query value 'up{job="vpnpt"}')"
TGT=$(lab_router_exec s1 "$LAB_PY" -c '
import json, sys, urllib.request
d = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/targets", timeout=5))
t = [t for t in d["data"]["activeTargets"] if t["labels"].get("job") == "vpnpt"]
print(" ".join("%s:%s:%r" % (x["scrapeUrl"], x["health"], x["lastError"]) for x in t))' "$PROM_URL")
lab_assert_eq "/api/v1/targets: the vpnpt target is healthy" "http://$METRICS_ADDR/metrics:up:''" "$TGT"
Q_ESP='vpnpt_packets_total{direction="outbound",class="esp"}'
Q_GRE='vpnpt_packets_total{direction="outbound",class="gre"}'
Q_SUM='sum(vpnpt_packets_total{direction="outbound",class=~"esp|gre"})'
prom_show "$Q_SUM"
lab_assert_eq "before traffic: $Q_SUM" 0 "$(prom_query value "$Q_SUM")"

# ---------------------------------------------------------------- 4. traffic, then PromQL
lab_log "-- 4. c1 sends $K esp + $K gre packets to $SRV; Prometheus must return exactly those counts"
lab_traffic s1 c1 -- --class esp,gre --count "$K" --dst "$SRV" --interval 0.002 --timeout 15 --quiet
lab_wait_counters s1 outbound "$K" esp gre || true # polls status until >= K, then 0.3 s more
SETTLED=$(now)
# Two full scrapes that started after the data plane settled (1 s interval).
prom_wait_scrape_after "$("$LAB_PY" -c 'import sys; print(float(sys.argv[1]) + 2)' "$SETTLED")" 10 ||
	lab_fail "Prometheus did not scrape vpnpt in the 10 s after the traffic"
lab_pass "Prometheus scraped vpnpt >= 2 times after the traffic settled"

for q in "$Q_ESP" "$Q_GRE" "$Q_SUM" \
	'vpnpt_info' 'up{job="vpnpt"}' \
	'sum by (class) (vpnpt_packets_total{direction="outbound",class!~"non_ipv4"}) > 0' \
	'vpnpt_bytes_total{direction="outbound",class=~"esp|gre"}'; do
	prom_show "$q"
done
lab_assert_eq "PromQL $Q_ESP" "$K" "$(prom_query value "$Q_ESP")"
lab_assert_eq "PromQL $Q_GRE" "$K" "$(prom_query value "$Q_GRE")"
lab_assert_eq "PromQL $Q_SUM" $((2 * K)) "$(prom_query value "$Q_SUM")"
# Frame bytes: IP datagram bytes (traffic.py --dry-run) + 14 bytes of Ethernet header per packet.
while read -r c n ipbytes; do
	q="vpnpt_bytes_total{direction=\"outbound\",class=\"$c\"}"
	lab_assert_eq "PromQL $q" $((ipbytes + 14 * n)) "$(prom_query value "$q")"
done < <("$LAB_PY" "$LAB_LIB/traffic.py" --class esp,gre --count "$K" --dst "$SRV" --dry-run)
lab_assert_eq "PromQL sum(vpnpt_packets_total{direction=\"outbound\",class!~\"esp|gre|non_ipv4\"}) (nothing else sent)" \
	0 "$(prom_query value 'sum(vpnpt_packets_total{direction="outbound",class!~"esp|gre|non_ipv4"})')"
lab_assert_eq "PromQL vpnpt_info" 1 "$(prom_query value 'vpnpt_info')"
lab_assert_eq "PromQL vpnpt_info label wan" wan0 "$(prom_query label:wan 'vpnpt_info')"
lab_assert_eq "PromQL vpnpt_info{wan=\"wan0\"} == 1" 1 "$(prom_query value 'vpnpt_info{wan="wan0"} == 1')"
lab_assert_eq "PromQL vpnpt_info names the LAN interface" lan0 "$(prom_query label:lan 'vpnpt_info')"
lab_assert_ne "PromQL vpnpt_info label version is set" "" "$(prom_query label:version 'vpnpt_info')"
# Prometheus and `vpnpt status` read the same pinned maps.
lab_assert_eq "Prometheus esp == vpnpt status esp" "$(lab_counter s1 outbound esp)" "$(prom_query value "$Q_ESP")"

# ---------------------------------------------------------------- 5. cleanup
lab_log "-- 5. stop Prometheus, detach vpnpt, delete the namespaces"
P=$PROM_REAL_PID
prom_stop
lab_assert_not "prometheus (pid $P) exited" _lab_pid_alive "${P:-0}"
lab_assert "vpnpt detach wan0" lab_detach_vpnpt s1
rm -rf -- "$PROM_DIR"
lab_assert_not "Prometheus storage dir removed" test -e "$PROM_DIR"
lab_delete_namespaces
left=$(ip netns list | awk '{print $1}' | grep -c "^$LAB_ID-" || true)
lab_assert_eq "no namespace of run $LAB_ID left" 0 "$left"

lab_log "== PASS: metrics ($((SECONDS - T0)) s)"
