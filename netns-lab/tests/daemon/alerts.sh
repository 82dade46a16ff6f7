#!/usr/bin/env bash
# vpnpt alerting rules lab test: a REAL Prometheus loads
# deploy/prometheus/vpnpt-alerts.yml (a copy with every `for:` shortened to
# FOR), scrapes the vpnpt daemon every second, and evaluates the rules every
# second. While the daemon runs no vpnpt alert is pending or firing; once the
# daemon is killed (SIGKILL, by pid) VpnptDaemonDown goes pending and then
# firing, through Prometheus's /api/v1/alerts, within WAIT seconds.
#
# Usage: netns-lab/tests/daemon/alerts.sh [VPNPT]   (default: $VPNPT, else <repo>/build/vpnpt)
# Exit:  0 pass, 1 fail, 77 skipped (VPNPT_ALLOW_SKIP=1 only: no root / tool / kernel feature,
#        no prometheus or promtool: apt-get install prometheus)
# Env:   FOR=3s the test copy's `for:` (whole seconds), WAIT=60 bound on the wait for the alert (s),
#        PROM_LIFETIME=150 hard bound on Prometheus's run time (s), LAB_KEEP_LOGS=1 keeps the
#        logs (daemon, Prometheus, its config, the rules copy and TSDB),
#        PROMETHEUS=/path/to/prometheus, PROMTOOL=/path/to/promtool.
#
# Prometheus and vpnpt both run in the site's router namespace
# (netns-lab/lib/prometheus.sh), so neither port touches the host.
set -euo pipefail

# shellcheck source=netns-lab/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lib/lib.sh"
lab_init "${1:-}"

FOR=${FOR:-3s}
WAIT=${WAIT:-60}
PROM_LIFETIME=${PROM_LIFETIME:-150}
# shellcheck source=netns-lab/lib/prometheus.sh
. "$LAB_LIB/prometheus.sh"
prom_init # prometheus, promtool, the traps that stop it

RULES=$LAB_REPO/deploy/prometheus/vpnpt-alerts.yml
METRICS_ADDR=127.0.0.1:9477 # vpnpt's default --metrics-address
T0=$SECONDS

# vpnpt_alerts: the vpnpt alerts Prometheus has now, "name state {labels}" lines, or "(none)".
vpnpt_alerts() {
	local a
	a=$(prom_query alerts "")
	[[ "$a" != error:* ]] || lab_fail "GET $PROM_URL/api/v1/alerts: $a"
	grep -E '^Vpnpt' <<<"$a" || echo "(none)"
}

lab_log "== vpnpt alerts lab, run $LAB_ID, vpnpt $VPNPT, rules $RULES (for: $FOR)"
lab_info "$("$PROMETHEUS" --version 2>&1 | head -1)"

# ---------------------------------------------------------------- 1. site + vpnpt
lab_log "-- 1. site with 1 client and 1 server, vpnpt in the router (metrics on $METRICS_ADDR)"
lab_site s1 1 1
lab_start_vpnpt s1
lab_pass "vpnpt daemon ready in $(lab_ns s1 router) (pid $(lab_vpnpt_pid s1))"

# ---------------------------------------------------------------- 2. the rules, with short for:
lab_log "-- 2. a copy of the rules with every for: set to $FOR"
COPY=$PROM_DIR/vpnpt-alerts.yml
sed -E "s/^([[:space:]]+for:) .*/\1 $FOR/" "$RULES" >"$COPY"
n_for=$(grep -cE '^[[:space:]]+for: ' "$RULES")
n_alerts=$(grep -cE '^[[:space:]]+- alert: ' "$RULES")
n_changed=$(diff "$RULES" "$COPY" | grep -c '^>' || true)
lab_assert_eq "every alert has a for: (the copy shortens each)" "$n_alerts" "$n_for"
lab_assert "the copy differs from the rules in for: lines only" \
	bash -c "diff '$RULES' '$COPY' | grep -E '^[<>]' | grep -vqE '^[<>][[:space:]]+for: ' && exit 1 || exit 0"
lab_assert_eq "lines changed: the for: lines not already $FOR" \
	"$(grep -E '^[[:space:]]+for: ' "$RULES" | grep -vcE "for: $FOR\$" || true)" "$n_changed"
if out=$("$PROMTOOL" check rules "$COPY" 2>&1); then
	lab_pass "promtool check rules (the copy): $(grep -o '[0-9]* rules found' <<<"$out")"
else
	printf '%s\n' "$out" | sed 's/^/    promtool| /'
	lab_fail "promtool check rules failed on the copy"
fi

# ---------------------------------------------------------------- 3. Prometheus
lab_log "-- 3. a real Prometheus on $PROM_ADDR: scrape and rule evaluation every 1 s"
cat >"$PROM_DIR/prometheus.yml" <<EOF
# vpnpt netns lab ($LAB_ID): private config, removed with the lab state dir.
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $COPY
scrape_configs:
  - job_name: vpnpt
    static_configs:
      - targets: ['$METRICS_ADDR']
EOF
prom_start s1 "$PROM_DIR/prometheus.yml"
loaded=$(lab_router_exec s1 "$LAB_PY" -c '
import json, sys, urllib.request
d = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/rules", timeout=5))
print(" ".join(sorted(r["name"] for g in d["data"]["groups"] for r in g["rules"] if r["type"] == "alerting")))' "$PROM_URL")
lab_assert_eq "Prometheus loaded the rules' $n_alerts alerts" \
	"$(grep -E '^[[:space:]]+- alert: ' "$RULES" | awk '{print $3}' | sort | xargs)" "$loaded"

# ---------------------------------------------------------------- 4. daemon up: silent
lab_log "-- 4. the daemon runs: up is 1 and no vpnpt alert is pending or firing"
up=""
for ((i = 0; i < 150; i++)); do # up to 15 s
	up=$(prom_query value 'up{job="vpnpt"}')
	[[ "$up" == 1 ]] && break
	sleep 0.1
done
lab_assert_eq "up{job=\"vpnpt\"} (Prometheus scrapes the daemon)" 1 "$up"
# Longer than for: and a few evaluations, so anything the daemon's metrics triggered would show.
sleep "$(("${FOR%s}" + 4))"
prom_show 'vpnpt_interface_attached'
prom_show 'vpnpt_build_info'
lab_assert_eq "up{job=\"vpnpt\"} still 1" 1 "$(prom_query value 'up{job="vpnpt"}')"
lab_assert_eq "vpnpt alerts while the daemon runs" "(none)" "$(vpnpt_alerts)"
# `vpnpt status` agrees: healthy, exit status 0.
rc=0
out=$(lab_router_exec s1 "$VPNPT" status wan0) || rc=$?
lab_assert_eq "vpnpt status while the daemon runs: exit status 0, health ok" "0 1" "$rc $(grep -c '^  health: ok$' <<<"$out")"

# ---------------------------------------------------------------- 5. kill it: VpnptDaemonDown
pid=$(lab_vpnpt_pid s1)
lab_log "-- 5. SIGKILL the daemon (pid $pid): VpnptDaemonDown must fire within $WAIT s"
T_KILL=$SECONDS
kill -KILL "$pid"
lab_stop_vpnpt s1 # reaps it
lab_pass "daemon (pid $pid) killed with SIGKILL (exit status $LAB_VPNPT_EXIT)"
state="" pending_at="" firing_at=""
deadline=$((SECONDS + WAIT))
while ((SECONDS < deadline)); do
	alerts=$(vpnpt_alerts)
	state=$(awk '$1 == "VpnptDaemonDown" { print $2 }' <<<"$alerts" | head -1)
	if [[ "$state" == pending && -z "$pending_at" ]]; then pending_at=$((SECONDS - T_KILL)); fi
	if [[ "$state" == firing ]]; then
		firing_at=$((SECONDS - T_KILL))
		break
	fi
	sleep 0.5
done
lab_info "alerts now: $(xargs <<<"$alerts")"
[[ -n "$firing_at" ]] || lab_fail "VpnptDaemonDown not firing $WAIT s after the kill (last state: ${state:-none})"
lab_pass "VpnptDaemonDown pending after ${pending_at:-<0.5}s, firing after ${firing_at}s (for: $FOR)"
lab_assert_eq "the firing alert names the vpnpt target" \
	"VpnptDaemonDown firing {instance=\"$METRICS_ADDR\",job=\"vpnpt\",severity=\"critical\"}" \
	"$(grep '^VpnptDaemonDown firing' <<<"$alerts")"
lab_assert_eq "up{job=\"vpnpt\"} is 0" 0 "$(prom_query value 'up{job="vpnpt"}')"
lab_assert_eq "the data plane stays attached without a daemon (vpnpt status)" true \
	"$(lab_status_json s1 | lab_json 'len(d["interfaces"]) == 2 and all(i["attached"] for i in d["interfaces"])')"
# ...and says it is degraded: exit status 2, the daemon named as the one problem.
rc=0
out=$(lab_router_exec s1 "$VPNPT" status wan0) || rc=$?
lab_info "status says: $(grep -A1 '^  health' <<<"$out" | xargs)"
lab_assert_eq "vpnpt status without the daemon: exit status 2, DEGRADED, the daemon named" "2 1 1" \
	"$rc $(grep -c '^  health: DEGRADED$' <<<"$out") $(grep -c '^    the daemon is stopped' <<<"$out")"
rc=0
lab_router_exec s1 "$VPNPT" status wan0 --json >/dev/null || rc=$?
lab_assert_eq "vpnpt status --json exits 2 as well" 2 "$rc"

# ---------------------------------------------------------------- 6. cleanup
lab_log "-- 6. stop Prometheus, detach vpnpt, delete the namespaces"
P=$PROM_REAL_PID
prom_stop
lab_assert_not "prometheus (pid $P) exited" _lab_pid_alive "${P:-0}"
lab_assert "vpnpt detach wan0" lab_detach_vpnpt s1
lab_delete_namespaces
left_ns=$(ip netns list | awk '{print $1}' | grep -c "^$LAB_ID-" || true)
lab_assert_eq "no namespace of run $LAB_ID left" 0 "$left_ns"

lab_log "== PASS: alerts ($((SECONDS - T0)) s)"
