#!/usr/bin/env bash
# Real IPsec software through the lab router (site s1: NAT router, N client
# namespaces, server s1 at 203.0.113.101).
#
# Usage: netns-lab/tests/ipsec/real.sh [MODE] [SCENARIO] [VPNPT]
#   MODE (or $ROUTER_MODE, default masq):
#     masq    nftables masquerade only (the lab default)
#     vpnpt   masquerade + vpnpt attached on the router (lib.sh lab_start_vpnpt)
#   SCENARIO (or $SCENARIO, default strongswan):
#     strongswan  strongSwan charon IKEv2 responder in s1 and one charon
#                 initiator per client, all initiating at once; PSK, virtual
#                 IPs from a pool, kernel-libipsec (userspace ESP over TUN,
#                 always ESP-in-UDP on 4500: NAT-T). Default 3 clients.
#     vpnc        vpnc (Cisco-style IKEv1 client, aggressive mode PSK +
#                 XAUTH + mode config, userspace ESP over TUN) in each client,
#                 --natt-mode $VPNC_NATT (default none: raw ESP, IP proto 50).
#                 Clients connect one after the other, then all ping at once;
#                 VPNC_START=together starts them all within milliseconds and
#                 reports each one's time to its first ESP answer.
#                 Server: $VPNC_SERVER (default standin: esp_responder.py, a
#                 minimal IKEv1 responder doing raw ESP; charon: strongSwan
#                 IKEv1 responder with kernel-libipsec, which cannot do raw
#                 ESP, see README.md). Default 1 client.
#   VPNPT: vpnpt binary (only used in mode vpnpt; default $VPNPT, else
#          <repo>/build/vpnpt)
# Env: NCLIENTS, PINGS=5 (echo requests per client, 0.2 s apart),
#      WAIT=30 (max seconds for all tunnels to come up), CAPTURE=1 (tcpdump
#      on the router's lan0 and wan0), VPNC_NATT=none|natt|force-natt,
#      VPNC_SERVER=standin|charon, LAB_KEEP_LOGS=1 keeps the state directory,
#      LAB_MUTE_CLIENTS (default 0 here: the clients' kernels behave as real
#      hosts).
# Every client pings the server's inner address 10.99.0.1 through its
# tunnel (all at once), then the server pings every client's virtual IP.
# Output: one CLIENT line per client, SERVER lines, WIRE lines (IKE and ESP
#   packets per direction and SPI on the router's lan0/wan0), then
#   RESULT scenario=S mode=M clients=N working=K   (see README.md)
# Exit: 0 every client got all PINGS replies through its tunnel, 1 otherwise
#       (or failure), 77 skipped (software or kernel feature missing).
set -euo pipefail

IPSEC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=netns-lab/lib/lib.sh
. "$IPSEC_DIR/../../lib/lib.sh"
NSRUN=$LAB_LIB/nsrun.sh
SINK=$LAB_LIB/syslog_sink.py

usage() {
	echo "usage: $0 [masq|vpnpt] [strongswan|vpnc] [VPNPT]   (or ROUTER_MODE=..., SCENARIO=...)" >&2
	exit 1
}
MODE=${ROUTER_MODE:-masq}
SCEN=${SCENARIO:-strongswan}
while (($#)); do
	case "$1" in
	masq | vpnpt) MODE=$1 ;;
	strongswan | vpnc) SCEN=$1 ;;
	-h | --help) usage ;;
	*) break ;;
	esac
	shift
done
case "$MODE" in masq | vpnpt) ;; *) usage ;; esac
case "$SCEN" in strongswan | vpnc) ;; *) usage ;; esac
if [[ "$SCEN" == strongswan ]]; then NCLIENTS=${NCLIENTS:-3}; else NCLIENTS=${NCLIENTS:-1}; fi
PINGS=${PINGS:-5}
WAIT=${WAIT:-30}
CAPTURE=${CAPTURE:-1}
VPNC_NATT=${VPNC_NATT:-none}
VPNC_SERVER=${VPNC_SERVER:-standin}
case "$VPNC_SERVER" in standin | charon) ;; *) echo "VPNC_SERVER must be standin or charon" >&2; exit 1 ;; esac
PY=/usr/bin/python3
export LAB_MUTE_CLIENTS=${LAB_MUTE_CLIENTS:-0}
LIFETIME=$((WAIT + 10 * NCLIENTS + PINGS + 40)) # upper bound for every process we start
CHARON=/usr/lib/ipsec/charon
PLUGINS=/usr/lib/ipsec/plugins
INNER_NET=10.99.0.0/24 # server side of the tunnels
INNER_SRV=10.99.0.1    # the server's inner address (on its lo)
POOL=10.99.1.0/24      # clients' virtual IPs
PSK=lab-ipsec-psk-0123456789
GROUP=labgroup
GROUP_PSK=lab-group-secret-42

# ---------------------------------------------------------------- prerequisites
[[ $(id -u) -eq 0 ]] || lab_skip "needs root"
need_charon=0
[[ "$SCEN" == strongswan || "$VPNC_SERVER" == charon ]] && need_charon=1
for t in "$PY" timeout ip; do
	command -v "$t" >/dev/null 2>&1 || lab_skip "missing $t"
done
if ((need_charon)); then
	command -v swanctl >/dev/null 2>&1 || lab_skip "missing swanctl (apt-get install -y strongswan-swanctl)"
	[[ -x $CHARON ]] || lab_skip "missing $CHARON (apt-get install -y strongswan-charon)"
	[[ -e $PLUGINS/libstrongswan-kernel-libipsec.so ]] || lab_skip "missing kernel-libipsec plugin (apt-get install -y libcharon-extra-plugins)"
	[[ "$SCEN" != vpnc || -e $PLUGINS/libstrongswan-xauth-generic.so ]] || lab_skip "missing xauth-generic plugin (apt-get install -y libcharon-extauth-plugins)"
fi
if [[ "$SCEN" == vpnc ]]; then
	command -v vpnc >/dev/null 2>&1 || lab_skip "missing vpnc (apt-get install -y vpnc)"
	[[ "$VPNC_SERVER" != standin ]] || "$PY" -c 'import cryptography' 2>/dev/null || lab_skip "the stand-in server needs python3-cryptography"
fi
lab_ensure_tun "userspace ESP needs it"
if [[ "$CAPTURE" != 0 ]] && ! command -v tcpdump >/dev/null 2>&1; then
	lab_warn "tcpdump not found: no wire summary (CAPTURE=0)"
	CAPTURE=0
fi
VPNPT_ARG=${1:-${VPNPT:-$LAB_REPO/build/vpnpt}}
if [[ "$MODE" != vpnpt && ! -x "$VPNPT_ARG" ]]; then
	VPNPT_ARG=$(command -v true)
fi

lab_init "$VPNPT_ARG"

# Processes the VPN daemons fork are ended by lab_cleanup (lab_stop_netns_procs).

S=$LAB_STATE
lab_log "== real IPsec lab: scenario $SCEN, mode $MODE, $NCLIENTS clients, run $LAB_ID, state $S"
lab_site s1 "$NCLIENTS" 1
R=$(lab_ns s1 router)
SNS=$(lab_ns s1 s1)
SRV=$(lab_server_ip s1 1)
PUB=$(lab_wan_ip s1)
ip -n "$SNS" addr add "$INNER_SRV/32" dev lo
lab_info "site s1: clients 192.168.1.11..$((10 + NCLIENTS)), router public $PUB, server $SRV (inner $INNER_SRV)"

case "$MODE" in
masq) lab_info "router: masquerade only" ;;
vpnpt)
	lab_start_vpnpt s1
	lab_info "router: masquerade + vpnpt (pid $(lab_vpnpt_pid s1))"
	;;
esac

# ---------------------------------------------------------------- captures, syslog
if [[ "$CAPTURE" != 0 ]]; then
	for ifn in lan0 wan0; do
		lab_bg "tcpdump-$ifn" nsenter --net="/run/netns/$R" timeout "$LIFETIME" tcpdump --immediate-mode -U -nn -s ${CAPTURE_SNAPLEN:-256} -i "$ifn" -w "$S/$ifn.pcap"
	done
	for ((i = 0; i < 50; i++)); do
		[[ -s $S/lan0.pcap && -s $S/wan0.pcap ]] && break
		sleep 0.1
	done
fi
# vpnc logs some messages only through syslog(3): give each client a sink.
if [[ "$SCEN" == vpnc ]]; then
	sinkargs=()
	for ((i = 1; i <= NCLIENTS; i++)); do sinkargs+=("$S/c$i.sock=$S/c$i.syslog"); done
	lab_bg syslog-sink "$PY" "$SINK" --max-time "$LIFETIME" "${sinkargs[@]}"
	SINK_PID=$LAB_BG_PID
	for ((i = 0; i < 50; i++)); do [[ -S $S/c1.sock ]] && break; sleep 0.1; done
	[[ -S $S/c1.sock ]] || lab_fail "syslog sink did not start (see $S/syslog-sink.log)"
else
	SINK_PID=""
fi

# ---------------------------------------------------------------- charon instances
# charon_conf NAME: writes $S/NAME/strongswan.conf. Only the plugins listed
# are loaded (load_modular = no; /etc/strongswan.conf and /etc/strongswan.d
# are never read: STRONGSWAN_CONF points here). kernel-libipsec comes before
# kernel-netlink, so it is the kernel IPsec backend (SAs and policies live in
# charon, ESP is done in userspace over the TUN device ipsec0); kernel-netlink
# only serves as the networking backend (addresses, routes in table 220).
charon_conf() {
	local name=$1 d=$S/$1 extra_plugins=""
	[[ "$SCEN" != vpnc ]] || extra_plugins=" xauth-generic"
	mkdir -p "$d"
	cat >"$d/strongswan.conf" <<EOF
# private strongSwan configuration of lab run $LAB_ID ($name)
charon {
	load_modular = no
	load = random nonce aes sha1 sha2 md5 hmac gmp kdf pem pkcs1 pubkey x509 attr kernel-libipsec kernel-netlink socket-default vici$extra_plugins
	port = 500
	port_nat_t = 4500
	install_virtual_ip = yes
	install_routes = yes
	# vpnc only speaks Aggressive Mode with a group PSK (IKEv1 responder).
	i_dont_care_about_security_and_use_aggressive_mode_psk = yes
	retransmit_tries = 4
	retransmit_timeout = 2.0
	retransmit_base = 1.4
	filelog {
		charon {
			path = $d/charon.log
			time_format = %H:%M:%S
			ike_name = yes
			append = no
			flush_line = yes
			default = 1
			ike = 2
			cfg = 1
			esp = 1
			knl = 1
		}
	}
	plugins {
		vici {
			socket = unix://$d/charon.vici
		}
	}
}
swanctl {
	load = pem pkcs1 x509 pubkey random nonce aes sha1 sha2 md5 hmac gmp kdf
}
EOF
}

# charon_start NAME NETNS: starts charon (private /run for its pid file)
# and waits for its vici socket.
charon_start() {
	local name=$1 ns=$2 i
	lab_bg "$name.charon-stdout" ip netns exec "$ns" env STRONGSWAN_CONF="$S/$name/strongswan.conf" \
		"$NSRUN" -- timeout "$LIFETIME" "$CHARON"
	CHARON_PID=$LAB_BG_PID
	for ((i = 0; i < 100; i++)); do
		[[ -S $S/$name/charon.vici ]] && return 0
		_lab_pid_alive "$CHARON_PID" || break
		sleep 0.1
	done
	sed 's/^/    charon| /' "$S/$name.charon-stdout.log" "$S/$name/charon.log" 2>/dev/null | tail -30
	lab_fail "charon $name did not open its vici socket"
}

swanctl_() { # swanctl_ NAME ARGS...
	local name=$1
	shift
	STRONGSWAN_CONF="$S/$name/strongswan.conf" swanctl "$@" --uri "unix://$S/$name/charon.vici"
}

# ---------------------------------------------------------------- scenario: strongswan
scenario_strongswan() {
	charon_conf server
	cat >"$S/server/swanctl.conf" <<EOF
connections {
	rw {
		version = 2
		local_addrs = $SRV
		pools = rw_pool
		proposals = aes256-sha256-modp2048, aes128-sha256-modp2048
		local {
			auth = psk
			id = server@lab
		}
		remote {
			auth = psk
		}
		children {
			rw {
				local_ts = $INNER_NET
				esp_proposals = aes256-sha256, aes128-sha1
			}
		}
	}
}
pools {
	rw_pool {
		addrs = $POOL
	}
}
secrets {
	ike-any {
		secret = "$PSK"
	}
}
EOF
	charon_start server "$SNS"
	SERVER_PID=$CHARON_PID
	swanctl_ server --load-all --file "$S/server/swanctl.conf" >"$S/server/load.log" 2>&1 ||
		{ cat "$S/server/load.log"; lab_fail "swanctl --load-all (server) failed"; }
	lab_info "charon responder up in s1 (pid $SERVER_PID)"

	local i name
	for ((i = 1; i <= NCLIENTS; i++)); do
		name=c$i
		charon_conf "$name"
		cat >"$S/$name/swanctl.conf" <<EOF
connections {
	lab {
		version = 2
		remote_addrs = $SRV
		vips = 0.0.0.0
		proposals = aes256-sha256-modp2048
		local {
			auth = psk
			id = $name@lab
		}
		remote {
			auth = psk
			id = server@lab
		}
		children {
			lab {
				remote_ts = $INNER_NET
				esp_proposals = aes256-sha256
			}
		}
	}
}
secrets {
	ike-any {
		secret = "$PSK"
	}
}
EOF
		charon_start "$name" "$(lab_ns s1 "$name")"
		swanctl_ "$name" --load-all --file "$S/$name/swanctl.conf" >"$S/$name/load.log" 2>&1 ||
			{ cat "$S/$name/load.log"; lab_fail "swanctl --load-all ($name) failed"; }
	done
	lab_info "$NCLIENTS charon initiators up; initiating all at once"
	local T0=$SECONDS pids=()
	for ((i = 1; i <= NCLIENTS; i++)); do
		lab_bg "c$i.initiate" timeout "$WAIT" env STRONGSWAN_CONF="$S/c$i/strongswan.conf" \
			swanctl --initiate --child lab --timeout "$WAIT" --uri "unix://$S/c$i/charon.vici"
		pids+=("$LAB_BG_PID")
	done
	lab_wait_pids "$((WAIT + 5))" "${pids[@]}" || true
	lab_info "initiations returned after $((SECONDS - T0))s"
	for ((i = 1; i <= NCLIENTS; i++)); do
		swanctl_ "c$i" --list-sas >"$S/c$i/list-sas.txt" 2>&1 || true
		sed -n 's/.*local  *\([0-9.]*\)\/32.*/\1/p' "$S/c$i/list-sas.txt" | head -1 >"$S/c$i.vip" || true
	done
	run_pings
	run_rpings
	swanctl_ server --list-sas >"$S/server/list-sas.txt" 2>&1 || true
}

# ---------------------------------------------------------------- scenario: vpnc
# The IKEv1 responder for vpnc: strongSwan (aggressive mode PSK with the
# group name as KEY_ID, XAUTH, mode config pull) or the stand-in.
# shellcheck disable=SC2317  # called as "vpnc_server_$VPNC_SERVER"
vpnc_server_charon() {
	charon_conf server
	local i
	{
		cat <<EOF
connections {
	xauth {
		version = 1
		aggressive = yes
		local_addrs = $SRV
		pools = v1_pool
		proposals = aes256-sha1-modp1024, aes128-sha1-modp1024, aes256-md5-modp1024, aes128-md5-modp1024
		dpd_delay = 0
		local {
			auth = psk
			id = $SRV
		}
		remote {
			auth = psk
			id = keyid:$GROUP
		}
		remote-xauth {
			auth = xauth
		}
		children {
			xauth {
				local_ts = $INNER_NET
				esp_proposals = aes256-sha1, aes128-sha1, aes256-md5, aes128-md5
			}
		}
	}
}
pools {
	v1_pool {
		addrs = $POOL
	}
}
secrets {
	ike-group {
		id = keyid:$GROUP
		secret = "$GROUP_PSK"
	}
EOF
		for ((i = 1; i <= NCLIENTS; i++)); do
			printf '\txauth-%d {\n\t\tid = user%d\n\t\tsecret = "pass%d"\n\t}\n' "$i" "$i" "$i"
		done
		echo "}"
	} >"$S/server/swanctl.conf"
	charon_start server "$SNS"
	SERVER_PID=$CHARON_PID
	swanctl_ server --load-all --file "$S/server/swanctl.conf" >"$S/server/load.log" 2>&1 ||
		{ cat "$S/server/load.log"; lab_fail "swanctl --load-all (server) failed"; }
	lab_info "charon IKEv1 responder (aggressive PSK + XAUTH, kernel-libipsec) up in s1 (pid $SERVER_PID)"
}

# shellcheck disable=SC2317  # called as "vpnc_server_$VPNC_SERVER"
vpnc_server_standin() {
	local i users=()
	for ((i = 1; i <= NCLIENTS; i++)); do users+=(--user "user$i:pass$i"); done
	lab_bg server ip netns exec "$SNS" timeout "$LIFETIME" "$PY" "$LAB_PEERS/ipsec/esp_responder.py" \
		--listen "$SRV" --group "$GROUP" --psk "$GROUP_PSK" "${users[@]}" --pool "$POOL" \
		--inner "$INNER_SRV" --max-time "$LIFETIME"
	SERVER_PID=$LAB_BG_PID
	for ((i = 0; i < 50; i++)); do
		grep -q '^READY' "$S/server.log" 2>/dev/null && break
		_lab_pid_alive "$SERVER_PID" || break
		sleep 0.1
	done
	grep -q '^READY' "$S/server.log" 2>/dev/null ||
		{ sed 's/^/    server| /' "$S/server.log"; lab_fail "esp_responder.py did not start"; }
	lab_info "stand-in IKEv1 responder esp_responder.py up in s1 (pid $SERVER_PID)"
}

# server_child_verdicts: CHILD_SAs the vpnc server has installed or refused so far.
server_child_verdicts() {
	local n
	if [[ "$VPNC_SERVER" == charon ]]; then
		n=$(grep -cE 'CHILD_SA xauth\{[0-9]+\} established|unable to install' "$S/server/charon.log" 2>/dev/null || true)
	else
		n=$(grep -c 'CHILD_SA installed' "$S/server.log" 2>/dev/null || true)
	fi
	echo "${n:-0}"
}

# scenario_vpnc_together: every client starts at once (issue 17, finding 2: N
# hosts starting together must all finish). Each connected client pings the
# server's inner address every 0.2 s until one answer comes back through
# vpnpt, which needs its inbound SPI bound; the time from the common start to
# that answer is its time to first ESP.
scenario_vpnc_together() {
	"vpnc_server_$VPNC_SERVER"
	local i t0 now pids=() done_n=0 rounds=$((WAIT * 4))
	local -a first=()
	VPNC_PIDS=()
	for ((i = 1; i <= NCLIENTS; i++)); do vpnc_conf "$i"; done
	t0=$(date +%s.%N)
	for ((i = 1; i <= NCLIENTS; i++)); do
		vpnc_start "$i"
		VPNC_PIDS+=("$LAB_BG_PID")
	done
	lab_info "$NCLIENTS vpnc clients started within $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f", b-a}') s"
	while ((done_n < NCLIENTS && rounds-- > 0)); do
		pids=()
		for ((i = 1; i <= NCLIENTS; i++)); do
			if [[ -n "${first[i]:-}" ]] || ! grep -qs 'reason=connect' "$S/c$i.env"; then
				pids+=(0)
				continue
			fi
			ip netns exec "$(lab_ns s1 "c$i")" timeout 1 ping -n -c 1 -W 0.5 "$INNER_SRV" >/dev/null 2>&1 &
			pids+=($!)
		done
		for ((i = 1; i <= NCLIENTS; i++)); do
			((pids[i - 1] > 0)) || continue
			if wait "${pids[i - 1]}"; then
				now=$(date +%s.%N)
				first[i]=$(awk -v a="$t0" -v b="$now" 'BEGIN{printf "%.2f", b-a}')
				done_n=$((done_n + 1))
			fi
		done
		sleep 0.2
	done
	local line="" all=() stats="none"
	for ((i = 1; i <= NCLIENTS; i++)); do
		line+=" c$i=${first[i]:-none}"
		[[ -z "${first[i]:-}" ]] || all+=("${first[i]}")
		sed -n 's/^INTERNAL_IP4_ADDRESS=//p' "$S/c$i.env" 2>/dev/null | head -1 >"$S/c$i.vip" || true
	done
	((${#all[@]} == 0)) || stats=$(printf '%s\n' "${all[@]}" | sort -n |
		awk '{v[NR]=$1} END{printf "median %.2f s, max %.2f s", v[int((NR+1)/2)], v[NR]}')
	lab_info "TIME_TO_FIRST_ESP clients=$NCLIENTS answered=$done_n ($stats):$line"
	run_pings
	run_rpings
}

# vpnc_conf I: client I's vpnc configuration. vpnc reads only the files named
# on its command line (never /etc/vpnc/*.conf when one is given); secrets can
# only be passed in a file.
vpnc_conf() {
	cat >"$S/c$1.vpnc.conf" <<EOF
IPSec gateway $SRV
IPSec ID $GROUP
IPSec secret $GROUP_PSK
Xauth username user$1
Xauth password pass$1
IKE Authmode psk
IKE DH Group dh2
Perfect Forward Secrecy nopfs
NAT Traversal Mode $VPNC_NATT
Local Port 500
DPD idle timeout (our side) 0
IPSEC target network $INNER_NET
Script $IPSEC_DIR/vpnc-script.sh
Pidfile /run/vpnc.pid
Interface name tun0
No Detach
Noninteractive
Debug 1
EOF
}

# vpnc_start I: client I's vpnc, in the background (its pid in LAB_BG_PID).
vpnc_start() {
	lab_bg "c$1.vpnc" ip netns exec "$(lab_ns s1 "c$1")" \
		env LAB_VPNC_ENVLOG="$S/c$1.env" LAB_INNER_NET="$INNER_NET" \
		"$NSRUN" --syslog "$S/c$1.sock" -- timeout "$LIFETIME" vpnc "$S/c$1.vpnc.conf"
}

scenario_vpnc() {
	if [[ "${VPNC_START:-sequential}" == together ]]; then
		scenario_vpnc_together
		return
	fi
	"vpnc_server_$VPNC_SERVER"
	local i T0 name
	VPNC_PIDS=()
	for ((i = 1; i <= NCLIENTS; i++)); do
		name=c$i
		vpnc_conf "$i"
		T0=$SECONDS
		vpnc_start "$i"
		VPNC_PIDS+=("$LAB_BG_PID")
		# vpnc runs its script (reason=connect) after mode config; Quick
		# Mode follows. Wait for the server's verdict on the CHILD_SA
		# (vpnc's own stdout is block-buffered into its log file).
		while ((SECONDS - T0 < WAIT)); do
			(($(server_child_verdicts) >= i)) && break
			_lab_pid_alive "$LAB_BG_PID" || break
			sleep 0.2
		done
		lab_info "$name: vpnc $(grep -qs 'reason=connect' "$S/$name.env" && echo "connected as $(sed -n 's/^INTERNAL_IP4_ADDRESS=//p' "$S/$name.env" | head -1)" || echo "NOT connected") after $((SECONDS - T0))s; solo ping"
		sed -n 's/^INTERNAL_IP4_ADDRESS=//p' "$S/$name.env" 2>/dev/null | head -1 >"$S/$name.vip" || true
		ping_one "$i" solo-ping
	done
	run_pings
	run_rpings
}

# ---------------------------------------------------------------- pings
# ping_one I LOGNAME: client I pings the server's inner address (foreground).
ping_one() {
	lab_bg "c$1.$2" ip netns exec "$(lab_ns s1 "c$1")" timeout "$((PINGS + 10))" \
		ping -n -c "$PINGS" -i 0.2 -W 2 "$INNER_SRV"
	lab_wait_pids "$((PINGS + 15))" "$LAB_BG_PID" || true
}

# run_pings: every client pings the server's inner address at the same time.
run_pings() {
	local i pids=()
	for ((i = 1; i <= NCLIENTS; i++)); do
		lab_bg "c$i.ping" ip netns exec "$(lab_ns s1 "c$i")" timeout "$((PINGS + 10))" \
			ping -n -c "$PINGS" -i 0.2 -W 2 "$INNER_SRV"
		pids+=("$LAB_BG_PID")
	done
	lab_wait_pids "$((PINGS + 15))" "${pids[@]}" || true
}

# run_rpings: the server pings every client's inner address (virtual IP) at
# the same time: traffic the server originates, so the router must map ESP
# arriving at its public address to the right client on its own.
run_rpings() {
	local i vip pids=()
	for ((i = 1; i <= NCLIENTS; i++)); do
		vip=$(cat "$S/c$i.vip" 2>/dev/null || true)
		[[ -n "$vip" ]] || continue
		lab_bg "c$i.rping" ip netns exec "$SNS" timeout "$((PINGS + 10))" \
			ping -n -c "$PINGS" -i 0.2 -W 2 "$vip"
		pids+=("$LAB_BG_PID")
	done
	((${#pids[@]} == 0)) || lab_wait_pids "$((PINGS + 15))" "${pids[@]}" || true
}

# ct_stats NS: "insert_failed=N drop=N clash_resolve=N" summed over CPUs.
ct_stats() {
	local hdr i f=0 d=0 c=0 cols
	{
		read -r -a hdr
		while read -r -a cols; do
			for i in "${!hdr[@]}"; do
				case "${hdr[i]}" in
				insert_failed) f=$((f + 16#${cols[i]})) ;;
				drop) d=$((d + 16#${cols[i]})) ;;
				clashres) c=$((c + 16#${cols[i]})) ;;
				esac
			done
		done
	} < <(lab_nsenter "$1" cat /proc/net/stat/nf_conntrack 2>/dev/null)
	printf 'insert_failed=%d drop=%d clash_resolve=%d\n' "$f" "$d" "$c"
}
CT_BEFORE=$(ct_stats "$R")

case "$SCEN" in
strongswan) scenario_strongswan ;;
vpnc) scenario_vpnc ;;
esac

# ---------------------------------------------------------------- stop, report
if [[ "$MODE" == vpnpt ]]; then
	lab_info "vpnpt counters (outbound): $(lab_counters s1 outbound 2>/dev/null | tr '\n' ' ')"
	lab_info "vpnpt counters (inbound):  $(lab_counters s1 inbound 2>/dev/null | tr '\n' ' ')"
fi
lab_info "router conntrack stats: before $CT_BEFORE, after $(ct_stats "$R")"
for ns in "${LAB_NAMESPACES[@]}"; do
	n=$( { ip -n "$ns" xfrm state; ip -n "$ns" xfrm policy; } 2>/dev/null | grep -c "^src" || true)
	((n == 0)) || lab_warn "namespace $ns has $n kernel xfrm states/policies (expected none: ESP is in userspace)"
done
lab_nsenter "$R" cat /proc/net/nf_conntrack 2>/dev/null | grep -E 'udp .*dport=(500|4500) |esp |unknown ' |
	sed -E 's/^ipv4 +2 +//; s/ +/ /g; s/^/    router conntrack| /' || true
sleep 0.5
lab_stop_netns_procs
for p in "${LAB_PIDS[@]}"; do
	[[ "$p" == "$SINK_PID" ]] || lab_kill "$p" 3
done
rc=0
report_args=(--state "$S" --scenario "$SCEN" --mode "$MODE" --clients "$NCLIENTS" --pings "$PINGS")
[[ "$CAPTURE" != 0 ]] || report_args+=(--no-wire)
"$PY" "$LAB_PEERS/ipsec/ipsec_report.py" "${report_args[@]}" || rc=$?
exit "$rc"
