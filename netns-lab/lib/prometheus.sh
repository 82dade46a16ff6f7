# shellcheck shell=bash
# A real Prometheus server in a site's router namespace, for the lab tests
# that need one (netns-lab/tests/daemon/metrics.sh, alerts.sh). Sourced after
# lib.sh and lab_init:
#
#   . "$LAB_LIB/prometheus.sh"
#   prom_init            # finds prometheus/promtool (or fails), installs the traps
#   prom_start s1 FILE   # runs it with config FILE, waits until ready
#   prom_query value 'up{job="vpnpt"}'
#   prom_stop            # also run on exit, failure or signal
#
# Prometheus listens on $PROM_ADDR (127.0.0.1:9090) inside the namespace, so
# no port touches the host. It runs under `timeout` (bounded lifetime,
# PROM_LIFETIME s) with its TSDB in the lab state dir, and is stopped before
# the namespaces are deleted, on success, failure or signal.
# Env: PROMETHEUS=/path/to/prometheus, PROMTOOL=/path/to/promtool, PROM_LIFETIME.

PROM_ADDR=127.0.0.1:9090
PROM_URL=http://$PROM_ADDR
PROM_PID=""      # the `timeout` wrapper (registered in LAB_PIDS)
PROM_REAL_PID="" # prometheus itself (child of the wrapper)
PROM_SITE=""
PROM_DIR="" # config and TSDB, under LAB_STATE

prom_init() {
	PROMETHEUS=${PROMETHEUS:-$(command -v prometheus || true)}
	PROMTOOL=${PROMTOOL:-$(command -v promtool || true)}
	PROM_LIFETIME=${PROM_LIFETIME:-60}
	[[ -n "$PROMETHEUS" && -x "$PROMETHEUS" ]] || lab_skip "prometheus not found (apt-get install prometheus, or set PROMETHEUS)"
	[[ -n "$PROMTOOL" && -x "$PROMTOOL" ]] || lab_skip "promtool not found (apt-get install prometheus, or set PROMTOOL)"
	_lab_have timeout || lab_skip "missing tool: timeout"
	PROM_DIR=$LAB_STATE/prometheus
	mkdir -p "$PROM_DIR/data"
	# lib.sh's cleanup would SIGTERM only the timeout wrapper and SIGKILL it
	# after 3 s, which could orphan Prometheus: stop it first, then run the
	# lab's own handlers (which see the original exit status).
	trap '_prom_on_exit' EXIT
	trap 'prom_stop || true; _lab_on_signal INT 130' INT
	trap 'prom_stop || true; _lab_on_signal TERM 143' TERM
	trap 'prom_stop || true; _lab_on_signal HUP 129' HUP
}

_prom_on_exit() {
	local rc=$?
	trap - ERR
	set +e
	prom_stop
	(exit "$rc")
	_lab_on_exit
}

# Stops Prometheus: SIGTERM to the server itself, then to its timeout
# wrapper, up to 10 s, then SIGKILL to both (by pid, never by name).
prom_stop() {
	local i
	[[ -n "$PROM_PID" ]] || return 0
	if [[ -n "$PROM_REAL_PID" ]] && _lab_pid_alive "$PROM_REAL_PID"; then
		kill -TERM "$PROM_REAL_PID" 2>/dev/null || true
	fi
	for ((i = 0; i < 100; i++)); do
		_lab_pid_alive "$PROM_PID" || break
		sleep 0.1
	done
	if _lab_pid_alive "$PROM_PID"; then
		lab_warn "prometheus (pid ${PROM_REAL_PID:-?}) did not stop within 10 s, killing it"
		[[ -n "$PROM_REAL_PID" ]] && kill -KILL "$PROM_REAL_PID" 2>/dev/null
		kill -KILL "$PROM_PID" 2>/dev/null
	fi
	lab_kill "$PROM_PID" 2 # reaps the wrapper, forgets it in LAB_PIDS
	PROM_PID=""
}

# http_get URL: body to stdout (inside the router namespace of the site Prometheus runs in).
http_get() {
	lab_router_exec "${PROM_SITE:-s1}" "$LAB_PY" -c '
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    sys.stdout.write(r.read().decode())' "$1"
}

# prom_query MODE EXPR: instant query over Prometheus's HTTP API.
#   MODE value:  the single sample's value ("none" if empty, "series=N" if several)
#   MODE lines:  one "metric{labels} value" line per series ("(empty)" if none)
#   MODE json:   the API's raw JSON answer
#   MODE label:L the single series' label L
#   MODE alerts: one "alertname state labels" line per alert of /api/v1/alerts (EXPR: "")
prom_query() {
	lab_router_exec "${PROM_SITE:-s1}" "$LAB_PY" "$LAB_DIR/tests/daemon/metrics_promql.py" "$PROM_URL" "$1" "$2"
}

# prom_show EXPR: logs the query and its result lines (the report's figures).
prom_show() {
	local line
	lab_info "PromQL: $1"
	while IFS= read -r line; do lab_info "    => $line"; done < <(prom_query lines "$1")
}

# prom_start SITE CONFIG [ARGS...]: runs Prometheus in SITE's router namespace
# with CONFIG (checked with promtool first) and waits up to 15 s until it is ready.
prom_start() {
	local site=$1 config=$2 out i ready=0
	shift 2
	PROM_SITE=$site
	if out=$("$PROMTOOL" check config "$config" 2>&1); then
		lab_pass "promtool check config: $(basename "$config") is valid"
	else
		printf '%s\n' "$out" | sed 's/^/    promtool| /'
		lab_fail "promtool check config failed"
	fi
	# nsenter execs timeout, so $! (LAB_BG_PID) is the wrapper; prometheus is its child.
	lab_bg prometheus nsenter --net="/run/netns/$(lab_ns "$site" router)" \
		timeout -k 5 "$PROM_LIFETIME" "$PROMETHEUS" \
		--config.file="$config" \
		--storage.tsdb.path="$PROM_DIR/data" \
		--storage.tsdb.retention.time=1h \
		--web.listen-address="$PROM_ADDR" \
		--log.level=info "$@"
	PROM_PID=$LAB_BG_PID
	for ((i = 0; i < 40; i++)); do
		PROM_REAL_PID=$(awk '{print $1}' "/proc/$PROM_PID/task/$PROM_PID/children" 2>/dev/null) || true
		[[ -z "$PROM_REAL_PID" ]] || break
		sleep 0.05
	done
	for ((i = 0; i < 150; i++)); do # up to 15 s
		_lab_pid_alive "$PROM_PID" || break
		if http_get "$PROM_URL/-/ready" >/dev/null 2>&1; then
			ready=1
			break
		fi
		sleep 0.1
	done
	if ((!ready)); then
		sed 's/^/    prometheus| /' "$LAB_STATE/prometheus.log" | tail -20
		lab_fail "Prometheus not ready on $PROM_URL within 15 s"
	fi
	lab_pass "Prometheus ready (pid ${PROM_REAL_PID:-?} under timeout ${PROM_LIFETIME}s, TSDB in $PROM_DIR/data)"
}
