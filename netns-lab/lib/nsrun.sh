#!/bin/sh
# nsrun.sh [--syslog SOCKET] [--pppd PROGRAM] [--bind SRC:DST]... [--mkdir DIR]... -- CMD [ARGS...]
#
# Runs a VPN daemon of the real-software labs (pptpd, pptp, xl2tpd, charon,
# vpnc) with private copies of the shared paths it would otherwise fight
# over with its neighbours in other namespaces, and that the host must not
# see. Must be started through `ip netns exec`, which already gives the
# process its own mount namespace (with / made a recursive slave, so nothing
# mounted here reaches the host).
#
#   always     a private tmpfs on /run: pid files, control sockets and pipes
#              (pptp's call manager /run/pptp/<server>:<port>, xl2tpd's
#              /run/xl2tpd/l2tp-control, charon.pid, vpnc.pid) are pathnames
#              shared by every network namespace.
#   --syslog   a private /dev whose /dev/log is SOCKET: pptp, pptpd and vpnc
#              log only through syslog(3) and this host has no /dev/log. The
#              private /dev holds bind mounts of the few nodes the daemons
#              need (null zero full random urandom tty net/tun, pts; ptmx is
#              a link to pts/ptmx, as in containers: a bind-mounted ptmx node
#              fails with ENOENT).
#   --pppd     PROGRAM bind-mounted over /usr/sbin/pppd: pptp and xl2tpd exec
#              that fixed path, and this kernel has no /dev/ppp, so the real
#              pppd cannot run; the labs use lib/lcp_standin.py.
#   --bind     SRC bind-mounted over DST (e.g. the run's own /etc/xl2tpd).
#   --mkdir    DIR created after /run is private (e.g. /run/xl2tpd).
set -eu
sock="" pppd=""
binds="" dirs=""
while [ $# -gt 0 ]; do
	case "$1" in
	--syslog) sock=$2; shift 2 ;;
	--pppd) pppd=$2; shift 2 ;;
	--bind) binds="$binds $2"; shift 2 ;;
	--mkdir) dirs="$dirs $2"; shift 2 ;;
	--) shift; break ;;
	*) echo "nsrun.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ $# -gt 0 ] || { echo "nsrun.sh: no command" >&2; exit 2; }
[ -n "${NSRUN_NOT_IN_IP_NETNS_EXEC:-}" ] || [ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || {
	echo "nsrun.sh: refusing to run in the host's mount namespace (use ip netns exec)" >&2
	exit 2
}

mount -t tmpfs -o mode=755,size=1m vpnpt-lab-run /run
for d in $dirs; do mkdir -p "$d"; done

if [ -n "$sock" ]; then
	hostdev=/run/.hostdev
	mkdir "$hostdev"
	mount --rbind /dev "$hostdev"
	mount -t tmpfs -o mode=755,size=1m vpnpt-lab-dev /dev
	for n in null zero full random urandom tty net/tun; do
		[ -e "$hostdev/$n" ] || continue
		mkdir -p "/dev/$(dirname "$n")"
		: >"/dev/$n"
		mount --bind "$hostdev/$n" "/dev/$n"
	done
	mkdir /dev/pts /dev/shm
	mount --rbind "$hostdev/pts" /dev/pts
	ln -s pts/ptmx /dev/ptmx
	ln -s /proc/self/fd /dev/fd
	ln -s /proc/self/fd/0 /dev/stdin
	ln -s /proc/self/fd/1 /dev/stdout
	ln -s /proc/self/fd/2 /dev/stderr
	ln -s "$sock" /dev/log
fi
if [ -n "$pppd" ]; then
	mount --bind "$pppd" /usr/sbin/pppd
fi
for b in $binds; do
	src=${b%%:*} dst=${b#*:}
	[ -d "$dst" ] || [ -f "$dst" ] || { echo "nsrun.sh: $dst does not exist (package missing?)" >&2; exit 2; }
	mount --bind "$src" "$dst"
done
exec "$@"
