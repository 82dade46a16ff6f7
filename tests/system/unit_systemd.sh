#!/usr/bin/env bash
# tools/vpnpt.service.in under a real systemd: run by tools/kernel-vm.sh
# --init systemd, where systemd is PID 1 of a VM (it is not on the build
# machines). Installs build/vpnpt, the unit and a config in the guest (its
# root is an overlay: nothing reaches the host), gives it a WAN and a LAN
# (veths to two namespaces), then checks what a router's admin relies on:
#   - `systemctl start` returns once the daemon said READY=1 (Type=notify),
#     and the daemon is attached and serves /metrics;
#   - it stays up with the watchdog at 2 s (pings from its loop), no restarts;
#   - `systemctl reload` (SIGHUP) applies a config change, same PID;
#   - SIGKILL: systemd restarts it, and it adopts the data plane;
#   - `systemctl stop` stops the daemon; the data plane stays attached.
# Usage (from the repository's top): sudo bash tools/kernel-vm.sh --init systemd -- bash tests/system/unit_systemd.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
fails=0
ok() { echo "PASS: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { # check DESC COMMAND...
  local d=$1
  shift
  if "$@"; then ok "$d"; else bad "$d"; fi
}
[ "$(cat /proc/1/comm)" = systemd ] || { echo "FAIL: systemd is not PID 1 here; run me through tools/kernel-vm.sh --init systemd"; exit 1; }
[ -x "$repo/build/vpnpt" ] || { echo "FAIL: no $repo/build/vpnpt; build first"; exit 1; }
prop() { systemctl show -P "$1" vpnpt; }
# status_is PYEXPR: true when PYEXPR holds for `vpnpt status wan0 --json`,
# read as d (attached: the names of the attached interfaces). Exit status 2
# (degraded: the daemon stopped) is a reading too.
status_is() {
  { vpnpt status wan0 --json || [ $? -eq 2 ]; } | python3 -c "import json,sys
d = json.load(sys.stdin)
attached = {i['name'] for i in d['interfaces'] if i['attached']}
sys.exit(0 if ($1) else 1)"
}

# The machine: wan0 to an "isp" namespace, lan0 to a client namespace.
ip netns add isp
ip netns add c1
ip link add wan0 type veth peer name up0 netns isp
ip link add lan0 type veth peer name eth0 netns c1
ip addr add 203.0.113.1/24 dev wan0
ip addr add 192.168.1.1/24 dev lan0
ip link set wan0 up
ip link set lan0 up
ip -n isp addr add 203.0.113.254/24 dev up0
ip -n isp link set up0 up
ip -n c1 addr add 192.168.1.10/24 dev eth0
ip -n c1 link set eth0 up
modprobe nf_conntrack 2>/dev/null || true

# The unit with this test's paths filled in, as cmake --install fills in its own (cmake/InstallPrefixed.cmake).
install -m 0755 "$repo/build/vpnpt" /usr/local/bin/vpnpt
sed -e 's|@VPNPT_BINARY@|/usr/local/bin/vpnpt|' -e 's|@VPNPT_CONFIG@|/etc/vpnpt/vpnpt.conf|' \
  "$repo/tools/vpnpt.service.in" >/etc/systemd/system/vpnpt.service
mkdir -p /etc/vpnpt /etc/systemd/system/vpnpt.service.d
printf 'wan = wan0\nlan = lan0\npptp = on\n' >/etc/vpnpt/vpnpt.conf
# Shorter than the unit's own values, so that a missed ping or a restart shows within seconds.
printf '[Service]\nWatchdogSec=2s\nRestartSec=1s\n' >/etc/systemd/system/vpnpt.service.d/test.conf
systemctl daemon-reload

t0=$(date +%s%N)
check "systemctl start returns success (Type=notify: READY=1 arrived)" timeout 120 systemctl start vpnpt
echo "  .. start took $((($(date +%s%N) - t0) / 1000000)) ms"
check "the unit is active" test "$(systemctl is-active vpnpt)" = active
check "the unit is Type=notify with a watchdog of 2 s" test "$(prop Type) $(prop WatchdogUSec)" = "notify 2s"
pid=$(prop MainPID)
check "vpnpt status: wan0 and lan0 attached, the daemon is the unit's main process" \
  status_is "{'wan0', 'lan0'} <= attached and d['daemon_pid'] == $pid"
check "/metrics answers on 127.0.0.1:9477" bash -c 'curl -sf --max-time 5 http://127.0.0.1:9477/metrics | grep -q "^vpnpt_"'

sleep 6
check "still active after 6 s with WatchdogSec=2s, same PID, no restart" \
  test "$(systemctl is-active vpnpt) $(prop MainPID) $(prop NRestarts)" = "active $pid 0"

printf 'wan = wan0\nlan = lan0\npptp = off\n' >/etc/vpnpt/vpnpt.conf
check "systemctl reload succeeds" timeout 60 systemctl reload vpnpt
# systemctl reload returns once ExecReload (kill -HUP) exits; the daemon applies the file from
# its loop right after (systemd 252 has no Type=notify-reload to wait for that): allow 10 s.
eventually() { # eventually CMD...: true once CMD is, within 10 s
  for _ in $(seq 1 50); do "$@" && return 0; sleep 0.2; done
  return 1
}
check "after the reload: pptp is off (within 10 s)" \
  eventually status_is "not d['switches']['pptp']"
check "the journal says what the reload applied" bash -c \
  "journalctl -u vpnpt --no-pager -o cat | grep -q 'config reload applied: pptp on -> off'"
check "the reload kept the process (PID $pid) and the unit active" \
  test "$(systemctl is-active vpnpt) $(prop MainPID)" = "active $pid"

kill -KILL "$pid"
for _ in $(seq 1 100); do
  np=$(prop MainPID)
  [ "$(systemctl is-active vpnpt)" = active ] && [ "$np" != 0 ] && [ "$np" != "$pid" ] && break
  sleep 0.2
done
check "after SIGKILL systemd restarted it (NRestarts 1, a new PID)" \
  test "$(systemctl is-active vpnpt) $(prop NRestarts)" = "active 1"
check "the restarted daemon adopted the data plane (pptp still off)" \
  status_is "not d['switches']['pptp']"

check "systemctl stop succeeds" timeout 60 systemctl stop vpnpt
check "the unit is inactive (a clean stop, not failed)" test "$(systemctl is-active vpnpt)" = inactive
check "the data plane stays attached without the daemon" \
  status_is "{'wan0', 'lan0'} <= attached and not d['daemon_pid']"
vpnpt detach wan0 >/dev/null 2>&1 || bad "vpnpt detach wan0"
if ((fails)); then
  echo "--- journalctl -u vpnpt"
  journalctl -u vpnpt --no-pager -o short-monotonic | tail -40
  echo "unit_systemd: $fails check(s) failed"
  exit 1
fi
echo "unit_systemd: all checks passed"
