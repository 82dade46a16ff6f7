#!/usr/bin/env bash
# SIGHUP reloads the configuration file, and the daemon speaks systemd's
# notification protocol (Type=notify): READY=1 once attached and serving,
# RELOADING=1 then READY=1 around a reload, WATCHDOG=1 at half of
# $WATCHDOG_USEC, STOPPING=1 on SIGTERM. A stand-in notification socket
# (notify_sink.py) receives what systemd would.
#
# Reloads: a changed switch, IP passthrough host and log level apply at once
# (status shows them); a changed LAN is named as needing a restart and left
# as it runs; an invalid file changes nothing; the daemon never exits on HUP.
# The unit itself under a real systemd: tools/kernel-vm.sh --init systemd
# (tests/system/unit_systemd.sh).
#
# Usage: netns-lab/tests/daemon/reload.sh [VPNPT]
# Exit:  0 pass, 1 fail, 77 skipped
set -euo pipefail
# shellcheck source=netns-lab/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lib/lib.sh"
lab_init "${1:-}"

lab_log "== vpnpt reload and service notifications, run $LAB_ID"
lab_site s1 2 1
d=$LAB_STATE/reload
mkdir -p "$d"
conf=$d/vpnpt.conf
write_conf() { # write_conf PPTP LOG_LEVEL PASSTHROUGH LAN
	printf 'wan = wan0\nlan = %s\npptp = %s\nlog_level = %s\nip_passthrough = %s\npptp_idle_timeout = 300s\nmetrics_address = off\n' \
		"$4" "$1" "$2" "$3" >"$conf"
}
write_conf on info off lan0
C1=$(lab_client_ip s1 1)

lab_bg notify "$LAB_PY" "$LAB_LIB/notify_sink.py" "$d/notify.sock" "$d/notify.log" --max-time 120
for ((t = 0; t < 50; t++)); do [[ -S $d/notify.sock ]] && break; sleep 0.1; done
[[ -S $d/notify.sock ]] || lab_fail "the notification socket stand-in did not start"

NOTIFY_SOCKET=$d/notify.sock WATCHDOG_USEC=1000000 lab_start_vpnpt s1 --no-lan --config "$conf" # the LAN from the file
pid=$(lab_vpnpt_pid s1)
log=${LAB_VPNPT_LOG[s1]}
notified() { grep -c " $1\$" "$d/notify.log" 2>/dev/null || true; }
wait_notified() { # wait_notified FIELD COUNT
	for ((t = 0; t < 50; t++)); do (($(notified "$1") >= $2)) && return 0; sleep 0.1; done
	return 1
}
wait_log() { # wait_log PATTERN
	for ((t = 0; t < 50; t++)); do grep -q -- "$1" "$log" && return 0; sleep 0.1; done
	return 1
}
status() { lab_status_json s1 | lab_json "$1"; }

lab_assert "READY=1 once attached and serving" wait_notified READY=1 1
# Pings come at half the interval (every 0.5 s): 5 in 2.5 s; at least 3 leaves room for a loaded
# machine, and none comes without the watchdog code.
sleep 2.5
lab_assert_ge "WATCHDOG=1 about every 0.5 s (WATCHDOG_USEC=1 s) over 2.5 s" 3 "$(notified WATCHDOG=1)"

lab_log "-- a. a live change: pptp off, passthrough to $C1, log level debug"
write_conf off debug "$C1" lan0
kill -HUP "$pid"
lab_assert "the reload is logged with what changed" \
	wait_log "config reload applied: pptp on -> off, ip_passthrough off -> $C1, log_level info -> debug"
lab_assert "RELOADING=1 then READY=1 around the reload" wait_notified READY=1 2
lab_assert_eq "RELOADING=1 sent once" 1 "$(notified RELOADING=1)"
lab_assert_eq "status: pptp switched off" off "$(status "'on' if d['switches']['pptp'] else 'off'")"
lab_assert_eq "status: IP passthrough host" "$C1" "$(status "d['ip_passthrough']['host']")"
lab_assert "the daemon runs on after SIGHUP" kill -0 "$pid"

lab_log "-- b. a change that needs a restart, and an invalid file"
write_conf off debug "$C1" "lan0 wan9"
kill -HUP "$pid"
lab_assert "a LAN change is named as needing a restart" \
	wait_log "config reload: not applied until vpnpt restarts (see vpnpt.conf(5), RELOADING): lan lan0 -> lan0 wan9"
printf 'wan = wan0\npptp = maybe\n' >"$conf"
kill -HUP "$pid"
lab_assert "an invalid file is refused in one line, naming file and line" \
	wait_log "config reload: $conf:2: .*; nothing changed"
lab_assert_eq "status: pptp still off after the invalid file" off "$(status "'on' if d['switches']['pptp'] else 'off'")"
lab_assert "the daemon runs on after both" kill -0 "$pid"
write_conf on info off lan0
kill -HUP "$pid"
lab_assert "back to the first file: applied, and the LAN no longer differs" \
	wait_log "config reload applied: pptp off -> on, ip_passthrough $C1 -> off, log_level debug -> info$"
lab_assert_eq "status: pptp on again" on "$(status "'on' if d['switches']['pptp'] else 'off'")"

lab_log "-- c. SIGTERM"
lab_stop_vpnpt s1
lab_assert_eq "the daemon exits 0 on SIGTERM" 0 "$LAB_VPNPT_EXIT"
lab_assert "STOPPING=1 before it exits" wait_notified STOPPING=1 1
lab_detach_vpnpt s1 || lab_fail "detach failed"
lab_log "PASS: test-reload"
