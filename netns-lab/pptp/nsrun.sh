#!/bin/sh
# [NSRUN_PPPD=PROGRAM] nsrun.sh SYSLOG_SOCKET|- CMD [ARGS...]
#
# Runs CMD with a private /run and (unless SYSLOG_SOCKET is "-") a private
# /dev whose /dev/log points at SYSLOG_SOCKET. With NSRUN_PPPD, PROGRAM is
# also bind-mounted over /usr/sbin/pppd (pptp launches that fixed path when
# run without --nolaunchpppd). Must be started through
# `ip netns exec`, which already gives the process its own mount namespace
# (with / made a recursive slave, so nothing mounted here reaches the host).
#
# Why:
#  - pptp-linux's call manager listens on /var/run/pptp/<server>:<port>
#    (a filesystem socket, shared by every network namespace): without a
#    private /run, the 2nd and 3rd client would hand their calls to the 1st
#    client's call manager (one TCP connection, in the wrong namespace).
#  - pptp and pptpd log only through syslog(3), and this host has no
#    /dev/log; creating one in the shared devtmpfs would affect the host.
#    The private /dev is a tmpfs holding bind mounts of the few device nodes
#    the programs need (null zero full random urandom tty, pts; ptmx is a
#    link to pts/ptmx, as in containers: a bind-mounted ptmx node fails with
#    ENOENT) plus the /dev/log link.
set -eu
sock=$1
shift
[ -n "${NSRUN_NOT_IN_IP_NETNS_EXEC:-}" ] || [ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || {
	echo "nsrun.sh: refusing to run in the host's mount namespace (use ip netns exec)" >&2
	exit 2
}
mount -t tmpfs -o mode=755,size=1m vpnpt-lab-run /run
if [ "$sock" != - ]; then
	hostdev=/run/.hostdev
	mkdir "$hostdev"
	mount --rbind /dev "$hostdev"
	mount -t tmpfs -o mode=755,size=1m vpnpt-lab-dev /dev
	for n in null zero full random urandom tty; do
		[ -e "$hostdev/$n" ] || continue
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
if [ -n "${NSRUN_PPPD:-}" ]; then
	mount --bind "$NSRUN_PPPD" /usr/sbin/pppd
fi
exec "$@"
