# shellcheck shell=bash
# Crafted VPN sessions for lab scripts (sourced after lib.sh): one PPTP
# call, one raw-ESP SA and one L2TP tunnel from a LAN host to server s1,
# echoed back by the server's peers (peers/pptp, peers/ipsec,
# peers/l2tp). The caller sets d (state directory), N (packets each way)
# and INTERVAL (seconds between them).

# sessions_start SITE HOST TAG: a PPTP call, a raw-ESP SA and an L2TP tunnel
# from HOST to server s1 (N packets each way, INTERVAL apart), held until
# $d/TAG.release exists. Pids in SESS_PIDS.
sessions_start() {
	local site=$1 host=$2 tag=$3 s1ns hns srv idx t
	s1ns=$(lab_ns "$site" s1)
	hns=$(lab_ns "$site" "$host")
	srv=$(lab_server_ip "$site" 1)
	idx=${host#c}
	SESS_PIDS=()
	lab_bg "$tag-pptp-server" ip netns exec "$s1ns" "$LAB_PY" "$LAB_PEERS/pptp" server --expect 1 \
		--count "$N" --interval "$INTERVAL" --report "$d/$tag-pptp-server.json" --ready-file "$d/$tag-pptp-server.ready" \
		--max-time 90
	SESS_PIDS+=("$LAB_BG_PID")
	lab_bg "$tag-esp-server" ip netns exec "$s1ns" "$LAB_PY" "$LAB_PEERS/ipsec" server --count "$N" \
		--interval "$INTERVAL" --report "$d/$tag-esp-server.json" --ready-file "$d/$tag-esp-server.ready" \
		--release-file "$d/$tag.release" --max-time 90
	SESS_PIDS+=("$LAB_BG_PID")
	lab_bg "$tag-lns" ip netns exec "$s1ns" "$LAB_PY" "$LAB_PEERS/l2tp" lns --report "$d/$tag-lns.json" \
		--ready-file "$d/$tag-lns.ready" --expect 1 --max-time 90
	SESS_PIDS+=("$LAB_BG_PID")
	for ((t = 0; t < 50; t++)); do
		[[ -e $d/$tag-pptp-server.ready && -e $d/$tag-esp-server.ready && -e $d/$tag-lns.ready ]] && break
		sleep 0.1
	done
	lab_bg "$tag-pptp" ip netns exec "$hns" "$LAB_PY" "$LAB_PEERS/pptp" client --server "$srv" --name "$host" \
		--index "$idx" --call-id 1000 --calls 1 --count "$N" --interval "$INTERVAL" --rx-wait 20 \
		--report "$d/$tag-pptp.json" --ready-file "$d/$tag-pptp.ready" --release-file "$d/$tag.release" --max-time 85
	SESS_PIDS+=("$LAB_BG_PID")
	lab_bg "$tag-esp" ip netns exec "$hns" "$LAB_PY" "$LAB_PEERS/ipsec" host --server "$srv" --name "$host" \
		--index "$idx" --count "$N" --interval "$INTERVAL" --rx-wait 20 --report "$d/$tag-esp.json" \
		--ready-file "$d/$tag-esp.ready" --release-file "$d/$tag.release" --max-time 85
	SESS_PIDS+=("$LAB_BG_PID")
	lab_bg "$tag-lac" ip netns exec "$hns" "$LAB_PY" "$LAB_PEERS/l2tp" lac --server "$srv" --name "$host" \
		--index "$idx" --tunnel-id 4242 --count "$N" --interval "$INTERVAL" --paced --rx-wait 20 --report "$d/$tag-lac.json" \
		--ready-file "$d/$tag-lac.ready" --release-file "$d/$tag.release" --max-time 85
	SESS_PIDS+=("$LAB_BG_PID")
}

# sessions_wait_up SITE MIN: until vpnpt lists MIN sessions with inbound packets (15 s).
sessions_wait_up() {
	local t up=0
	for ((t = 0; t < 150; t++)); do
		up=$(lab_router_exec "$1" "$VPNPT" sessions --json | lab_json 'sum(1 for r in d if r["packets_in"] > 3)')
		((up >= $2)) && break
		sleep 0.1
	done
	echo "$up"
}

# sessions_finish TAG: waits for the clients' ready files (their traffic
# done, 30 s), releases, waits; sets SESS_RX="pptp esp l2tp" (distinct
# packets the client received from its server, per protocol).
sessions_finish() {
	local tag=$1 t
	for ((t = 0; t < 300; t++)); do
		[[ -e $d/$tag-pptp.ready && -e $d/$tag-esp.ready && -e $d/$tag-lac.ready ]] && break
		sleep 0.1
	done
	touch "$d/$tag.release"
	lab_wait_pids 40 "${SESS_PIDS[@]}" || true
	SESS_RX="$(lab_json 'len(set(g["seq"] for g in d["gre"] if g.get("key") == 1000))' <"$d/$tag-pptp.json" 2>/dev/null || echo 0)"
	SESS_RX+=" $(lab_json 'max([len(set(s["rx_echo"])) for s in d["sas"]] or [0])' <"$d/$tag-esp.json" 2>/dev/null || echo 0)"
	SESS_RX+=" $(lab_json 'len(set(d["echo_seqs"]))' <"$d/$tag-lac.json" 2>/dev/null || echo 0)"
}

