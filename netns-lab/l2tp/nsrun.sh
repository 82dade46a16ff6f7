#!/bin/sh
# nsrun.sh ETCDIR PPPD CMD [ARGS...]
#
# Runs CMD (xl2tpd) with, inside its own mount namespace only:
#  - a private tmpfs on /run (xl2tpd's default pid file /run/xl2tpd.pid and
#    control pipe /run/xl2tpd/l2tp-control are pathnames shared by every
#    network namespace: without this, the LNS and the LACs would overwrite
#    each other's pid file and read each other's control pipe);
#  - ETCDIR bind-mounted over /etc/xl2tpd (the run's private xl2tpd.conf
#    and l2tp-secrets; the host's /etc/xl2tpd is never read or changed);
#  - PPPD (the LCP stand-in) bind-mounted over /usr/sbin/pppd: xl2tpd execs
#    that fixed, compiled-in path for every session (no setting changes it),
#    and this kernel has no /dev/ppp, so the real pppd could not run.
#    PPPD "-" keeps the real pppd.
# Must be started through `ip netns exec`, which already gives the process
# its own mount namespace (with / made a recursive slave, so nothing
# mounted here reaches the host). Based on ../pptp/nsrun.sh.
set -eu
etcdir=$1
pppd=$2
shift 2
[ -n "${NSRUN_NOT_IN_IP_NETNS_EXEC:-}" ] || [ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || {
	echo "nsrun.sh: refusing to run in the host's mount namespace (use ip netns exec)" >&2
	exit 2
}
mount -t tmpfs -o mode=755,size=1m vpnpt-lab-run /run
mkdir -p /run/xl2tpd
[ -d /etc/xl2tpd ] || {
	echo "nsrun.sh: /etc/xl2tpd does not exist (is xl2tpd installed?)" >&2
	exit 2
}
mount --bind "$etcdir" /etc/xl2tpd
if [ "$pppd" != - ]; then
	mount --bind "$pppd" /usr/sbin/pppd
fi
exec "$@"
