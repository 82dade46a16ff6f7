#!/usr/bin/env bash
# vpnpt benchmark (issue 7): vpnpt against Linux netfilter masquerade, plain
# kernel forwarding and a bare XDP rewrite+redirect, on one topology with one
# generator. Prints figures; it is not a pass/fail test. Needs root.
#
#   tools/bench.sh [--runs N] [--seconds S] [--quick] [--no-docs] [--build DIR] [--out DIR]
#   tools/bench.sh --smoke        # a few seconds: the tooling works and cleans up (ctest)
#   tools/bench.sh --point "MODE PROTO DIR SIZE FLOWS CPUS"...   # single measurements only
#
# Topology, in namespaces this script creates and deletes (also on failure):
#
#   [client ns] c0 ---- lan0 [router ns] wan0 ---- s0 [server ns]
#   192.168.77.2        .77.1   198.51.100.1 (public)   198.51.100.2
#
# veths with two queues each (one per core), GRO on, static neighbours. The
# generator (live-frames BPF_PROG_TEST_RUN, tools/bench/bench_xdp.bpf.c) sends
# from the client (LAN->WAN) or the server (WAN->LAN); an XDP sink on the far
# host counts the frames that arrived translated as expected and drops them.
# Router modes, measured interleaved (run i of every mode before run i+1):
#   vpnpt      vpnpt's XDP programs (bench-loaded, unpinned maps, pre-filled
#              sessions) + nft masquerade (the deployment: NAT-T reads its conntrack)
#   vpnpt-tc   the same with vpnpt's TC programs at clsact ingress instead (no XDP
#              on the router: frames reach it as skbs through the veths' GRO/NAPI)
#   netfilter  nft masquerade + the PPTP conntrack/NAT helper on TCP 1723
#   plain      forwarding without NAT (notrack)
#   bare       a bare XDP rewrite + redirect (the ceiling)
#
# Output: $OUT/raw.jsonl (one line per run), $OUT/results.json, $OUT/results.md,
# and (unless --no-docs or --smoke) the generated part of docs/benchmarks.md.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$REPO/build
RUNS=5
SECONDS_PER_RUN=0.5
SMOKE=0
QUICK=0
DOCS=1
OUT=""
POINTS=()
while (($#)); do
	case $1 in
	--smoke) SMOKE=1 ;;
	--quick) QUICK=1 ;;
	--no-docs) DOCS=0 ;;
	--runs) RUNS=$2; shift ;;
	--seconds) SECONDS_PER_RUN=$2; shift ;;
	--build) BUILD=$(cd "$2" && pwd); shift ;;
	--out) OUT=$2; shift ;;
	--point) POINTS+=("$2"); shift ;;
	-h | --help) sed -n '2,32p' "$0"; exit 0 ;;
	*) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
((SMOKE)) && DOCS=0
[[ $(id -u) -eq 0 ]] || { echo "SKIP: bench.sh needs root (netns, XDP)"; exit 77; }
LAB=$BUILD/tools/bench/vpnpt_bench_lab
PROGS=$BUILD/tools/bench/vpnpt_bench_progs
[[ -x $LAB && -x $PROGS ]] || { echo "bench.sh: build first (ninja -C $BUILD): $LAB" >&2; exit 1; }
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

ID=vpb$$
NS_C=$ID-c NS_R=$ID-r NS_S=$ID-s
CREATED=()
CHILD=""
KEEP_OUT=1
if [[ -z "$OUT" ]]; then
	OUT=$(mktemp -d /tmp/vpnpt-bench.XXXXXX)
	((SMOKE)) && KEEP_OUT=0
fi
mkdir -p "$OUT"
RAW=$OUT/raw.jsonl
: >"$RAW"

cleanup() {
	local rc=$? ns
	trap - EXIT INT TERM HUP
	set +e
	if [[ -n "$CHILD" ]] && kill -0 "$CHILD" 2>/dev/null; then
		kill -TERM "$CHILD" 2>/dev/null
		wait "$CHILD" 2>/dev/null
	fi
	# Deleting the namespaces drops their veths and every XDP link on them (the
	# measuring process owns its links; they are gone once it has exited).
	for ns in "${CREATED[@]}"; do ip netns del "$ns" 2>/dev/null; done
	for ns in "${CREATED[@]}"; do
		[[ -e /run/netns/$ns ]] && { echo "bench.sh: namespace $ns left behind" >&2; rc=1; }
	done
	((KEEP_OUT)) || rm -rf -- "$OUT"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

rx() { nsenter --net="/run/netns/$NS_R" "$@"; }

netns_add() {
	CREATED+=("$1")
	ip netns add "$1"
	nsenter --net="/run/netns/$1" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6' 2>/dev/null || true
	ip -n "$1" link set lo up
}

topology() {
	netns_add "$NS_C"
	netns_add "$NS_R"
	netns_add "$NS_S"
	ip -n "$NS_R" link add lan0 numtxqueues 2 numrxqueues 2 address 02:bc:00:00:00:01 type veth \
		peer name c0 netns "$NS_C" numtxqueues 2 numrxqueues 2 address 02:bc:00:00:00:02
	ip -n "$NS_R" link add wan0 numtxqueues 2 numrxqueues 2 address 02:bd:00:00:00:01 type veth \
		peer name s0 netns "$NS_S" numtxqueues 2 numrxqueues 2 address 02:bd:00:00:00:02
	ip -n "$NS_C" addr add 192.168.77.2/24 dev c0
	ip -n "$NS_R" addr add 192.168.77.1/24 dev lan0
	ip -n "$NS_R" addr add 198.51.100.1/24 dev wan0
	ip -n "$NS_S" addr add 198.51.100.2/24 dev s0
	ip -n "$NS_C" link set c0 up
	ip -n "$NS_R" link set lan0 up
	ip -n "$NS_R" link set wan0 up
	ip -n "$NS_S" link set s0 up
	ip -n "$NS_C" route add default via 192.168.77.1
	ip -n "$NS_S" route add 192.168.77.0/24 via 198.51.100.1 # plain forwarding only
	ip -n "$NS_C" neigh replace 192.168.77.1 lladdr 02:bc:00:00:00:01 dev c0 nud permanent
	ip -n "$NS_S" neigh replace 198.51.100.1 lladdr 02:bd:00:00:00:01 dev s0 nud permanent
	ip -n "$NS_R" neigh replace 192.168.77.2 lladdr 02:bc:00:00:00:02 dev lan0 nud permanent
	ip -n "$NS_R" neigh replace 198.51.100.2 lladdr 02:bd:00:00:00:02 dev wan0 nud permanent
	# XDP_TX/redirect into a veth needs NAPI on the receiving end: GRO on everywhere.
	nsenter --net="/run/netns/$NS_C" ethtool -K c0 gro on >/dev/null
	nsenter --net="/run/netns/$NS_S" ethtool -K s0 gro on >/dev/null
	rx ethtool -K lan0 gro on >/dev/null
	rx ethtool -K wan0 gro on >/dev/null
	rx sysctl -qw net.ipv4.ip_forward=1
	# The PPTP control connections the netfilter runs set up are crafted (tools/bench/bench_lab.cpp):
	# exact sequence numbers, but no retransmissions; liberal window tracking keeps them valid.
	rx sysctl -qw net.netfilter.nf_conntrack_tcp_be_liberal=1
}

# Router netfilter configuration of a mode.
router_mode() {
	rx nft delete table ip bench 2>/dev/null || true
	case $1 in
	plain)
		rx nft -f - <<'EOF'
table ip bench {
	chain raw { type filter hook prerouting priority raw; policy accept; notrack; }
	chain rawout { type filter hook output priority raw; policy accept; notrack; }
}
EOF
		;;
	*)
		rx nft -f - <<'EOF'
table ip bench {
	ct helper pptp { type "pptp" protocol tcp; }
	chain pre { type filter hook prerouting priority filter; policy accept; tcp dport 1723 ct helper set "pptp"; }
	chain post { type nat hook postrouting priority srcnat; policy accept; oifname "wan0" masquerade; }
}
EOF
		;;
	esac
}

# The measuring process removes its TC filters (vpnpt-tc) itself, unlike its XDP links, which the
# kernel drops with the process: check that it did, so no mode measures behind another's filter.
router_clean() {
	local dev left
	for dev in lan0 wan0; do
		left=$(rx tc qdisc show dev "$dev" | grep clsact || true)$(rx tc filter show dev "$dev" ingress 2>/dev/null || true)
		if [[ -n "$left" ]]; then
			echo "bench.sh: $1 left TC state on $dev: $left" >&2
			return 1
		fi
	done
}

# measure MODE PROTO DIR SIZE FLOWS CPUS [EXTRA ARGS...]: one invocation, lines to $RAW.
measure() {
	local mode=$1 proto=$2 dir=$3 size=$4 flows=$5 cpus=$6 labmode nat=1 rc=0
	shift 6
	case $mode in
	netfilter) labmode=kernel ;;
	plain) labmode=kernel nat=0 ;;
	vpnpt-block) labmode=vpnpt && set -- "$@" --flow-split block ;;
	*) labmode=$mode ;;
	esac
	router_mode "$mode"
	"$LAB" --client-ns "$NS_C" --router-ns "$NS_R" --server-ns "$NS_S" --mode "$labmode" --nat "$nat" \
		--proto "$proto" --dir "$dir" --size "$size" --flows "$flows" --cpus "$cpus" \
		--seconds "$SECONDS_PER_RUN" "$@" >"$OUT/one.jsonl" 2>"$OUT/one.err" &
	CHILD=$!
	if [[ -n "${PROFILE_TO:-}" ]]; then
		# Where the time goes: perf samples of the measuring process, which runs the whole
		# pipeline (generator, router, sink: all in its test-run syscalls and their softirqs).
		sleep 1.5
		perf record -q -p "$CHILD" -o "$PROFILE_TO.data" -- sleep 2 >/dev/null 2>&1 || true
		perf report -i "$PROFILE_TO.data" --no-children --sort symbol --stdio >"$PROFILE_TO.txt" 2>/dev/null || true
		rm -f "$PROFILE_TO.data" "$PROFILE_TO.data.old"
	fi
	wait "$CHILD" || rc=$?
	CHILD=""
	if ((rc != 0)); then
		echo "bench.sh: measurement failed: $mode $proto $dir $size $flows $cpus: $(cat "$OUT/one.err")" >&2
		return 1
	fi
	router_clean "$mode"
	# Tag the lines with the script's mode name (netfilter/plain are both "kernel" to the tool).
	"$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    d = json.loads(l); d["mode"] = sys.argv[2]; d["section"] = sys.argv[3]; print(json.dumps(d))' \
		"$OUT/one.jsonl" "$mode" "$SECTION" >>"$RAW"
	tail -n1 "$RAW" | "$PY" -c 'import json,sys; d=json.loads(sys.stdin.read()); print("  %-10s %-4s %-3s %4dB %5d flows cpus %-3s sessions %-7d run %d: %7.3f Mpps (sent %.3f)" % (d["mode"], d["proto"], d["dir"], d["size"], d["flows"], d["cpus"], d["sessions"], d["run"], d["mpps"], d["sent_mpps"]))'
}

# set_run I: the tool numbers its runs from 0 each time; record the pair index of the last line.
set_run() {
	"$PY" -c 'import json,sys
p=sys.argv[1]; ls=open(p).read().splitlines(); d=json.loads(ls[-1]); d["run"]=int(sys.argv[2]); ls[-1]=json.dumps(d); open(p,"w").write("\n".join(ls)+"\n")' "$RAW" "$1"
}

# The commit the figures belong to, taken before anything runs (the run itself rewrites
# docs/benchmarks.md, which therefore does not count as a local change).
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$REPO" status --porcelain --untracked-files=no -- . ':!docs/benchmarks.md' 2>/dev/null | grep -q . && COMMIT+="+dirty"

topology

if ((${#POINTS[@]})); then
	SECTION=point
	for pt in "${POINTS[@]}"; do
		# shellcheck disable=SC2086 # the point is a word list
		measure $pt --runs "$RUNS"
	done
	exit 0
fi

if ((SMOKE)); then
	SECONDS_PER_RUN=0.05
	SECTION=smoke
	for mode in vpnpt vpnpt-tc netfilter plain bare; do
		for dir in out in; do
			measure "$mode" gre "$dir" 64 4 0
		done
	done
	for mode in vpnpt vpnpt-tc; do
		measure "$mode" esp in 64 4 0
		measure "$mode" natt in 64 4 0
		measure "$mode" l2tp in 64 4 0
	done
	measure vpnpt gre out 64 4 0 --sessions 2000
	"$PY" - "$RAW" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
bad = [r for r in rows if r["mode"] in ("vpnpt", "vpnpt-tc", "bare") and r["translated"] == 0]
if len(rows) != 17 or bad:
    sys.exit("bench smoke: %d results, nothing translated in: %s" % (len(rows), [(r["mode"], r["proto"], r["dir"]) for r in bad]))
print("bench smoke: %d measurements, vpnpt (XDP and TC) and bare translated frames" % len(rows))
EOF
	"$PROGS" --repeat 1000 >/dev/null
	echo "bench smoke: ok"
	exit 0
fi

MODES=(vpnpt vpnpt-tc netfilter plain bare)
PROTOS=(gre esp natt l2tp)
SIZES=(64 512)
FLOWS=(1 1024)
if ((QUICK)); then
	PROTOS=(gre esp)
	SIZES=(64)
fi

echo "== comparison: ${MODES[*]} x ${PROTOS[*]} x out/in x ${SIZES[*]} B x ${FLOWS[*]} flows, $RUNS runs of ${SECONDS_PER_RUN}s, one core"
SECTION=compare
for proto in "${PROTOS[@]}"; do
	for dir in out in; do
		for size in "${SIZES[@]}"; do
			for flows in "${FLOWS[@]}"; do
				for ((run = 0; run < RUNS; run++)); do
					for mode in "${MODES[@]}"; do
						measure "$mode" "$proto" "$dir" "$size" "$flows" 0 --runs 1
						set_run "$run"
					done
				done
			done
		done
	done
done

echo "== cores: one core vs both cores (64 B)"
# vpnpt-noatomic: per-session atomics replaced by plain adds; vpnpt-block: each core
# sends a contiguous block of the flows instead of every other flow (so the two cores
# do not write to neighbouring session entries).
SECTION=cores
for proto in gre esp; do
	for dir in out in; do
		for ((run = 0; run < RUNS; run++)); do
			for pt in "vpnpt 1024" "vpnpt-noatomic 1024" "vpnpt-block 1024" "bare 1024" "netfilter 1024" "vpnpt 1" "vpnpt-noatomic 1"; do
				set -- $pt
				for cpus in 0 0,1; do
					measure "$1" "$proto" "$dir" 64 "$2" "$cpus" --runs 1
					set_run "$run"
				done
			done
		done
	done
done

echo "== variants: what single costs weigh (64 B, 1024 flows, one core)"
SECTION=variants
for proto in gre esp; do
	for dir in out in; do
		for ((run = 0; run < RUNS; run++)); do
			for mode in vpnpt vpnpt-noatomic vpnpt-fineclock bare; do
				measure "$mode" "$proto" "$dir" 64 1024 0 --runs 1
				set_run "$run"
			done
		done
	done
done

echo "== scale: vpnpt fast path with 1k, 100k, 1M sessions pre-filled (64 B, 1024 active flows), interleaved"
SECTION=scale
for proto in gre esp l2tp; do
	for dir in out in; do
		for ((run = 0; run < RUNS; run++)); do
			for sessions in 1000 100000 1000000; do
				measure vpnpt "$proto" "$dir" 64 1024 0 --sessions "$sessions" --runs 1
				set_run "$run"
			done
		done
	done
done

if command -v perf >/dev/null 2>&1; then
	echo "== profile: perf samples of the pipeline (64 B, 1024 flows, one core)"
	SECTION=profile
	SAVED_SECONDS=$SECONDS_PER_RUN
	SECONDS_PER_RUN=4
	mkdir -p "$OUT/profile"
	for pt in "vpnpt gre out" "vpnpt gre in" "vpnpt esp out" "vpnpt esp in" "vpnpt-tc gre out" "bare gre out" "netfilter gre out"; do
		PROFILE_TO="$OUT/profile/${pt// /-}"
		# shellcheck disable=SC2086 # the point is a word list
		measure $pt 64 1024 0 --runs 1
	done
	PROFILE_TO=""
	SECONDS_PER_RUN=$SAVED_SECONDS
fi

echo "== per-program cost and slow-path setup rates (vpnpt_bench_progs)"
"$PROGS" --json >"$OUT/progs.json"
"$PROGS"

MACHINE_CPU=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)
"$PY" "$REPO/tools/bench/report.py" --raw "$RAW" --progs "$OUT/progs.json" --out "$OUT" --profiles "$OUT/profile" \
	--commit "$COMMIT" --date "$(date -u +%Y-%m-%d)" --cpu "$MACHINE_CPU" --ncpu "$(nproc)" \
	--kernel "$(uname -r)" --runs "$RUNS" --seconds "$SECONDS_PER_RUN" \
	$( ((DOCS)) && printf -- '--docs %s' "$REPO/docs/benchmarks.md")
echo "results: $OUT/results.json, $OUT/results.md"
