#!/bin/sh
# Minimal vpnc --script for the lab. vpnc runs it (via system()) with
# reason=pre-init|connect|disconnect|reconnect and TUNDEV,
# INTERNAL_IP4_ADDRESS, VPNGATEWAY, ... in the environment. It only sets up
# the TUN device and one route to the server's inner subnet: unlike
# /usr/share/vpnc-scripts/vpnc-script it never touches /etc/resolv.conf,
# the default route or anything outside the client's namespace.
# LAB_INNER_NET (default 10.99.0.0/24): the subnet routed into the tunnel.
# LAB_VPNC_ENVLOG: file the environment of each call is appended to.
# shellcheck disable=SC2154  # reason, TUNDEV, INTERNAL_IP4_ADDRESS come from vpnc
net=${LAB_INNER_NET:-10.99.0.0/24}
if [ -n "${LAB_VPNC_ENVLOG:-}" ]; then
	{
		echo "--- reason=$reason"
		env | grep -E '^(TUNDEV|VPNGATEWAY|VPNPID|INTERNAL_IP4_|CISCO_|reason)' | sort
	} >>"$LAB_VPNC_ENVLOG"
fi
case "$reason" in
pre-init) ;;
connect)
	ip link set dev "$TUNDEV" up mtu 1400
	ip addr add "$INTERNAL_IP4_ADDRESS/32" dev "$TUNDEV"
	ip route replace "$net" dev "$TUNDEV" src "$INTERNAL_IP4_ADDRESS"
	;;
disconnect)
	ip link set dev "$TUNDEV" down 2>/dev/null || true
	;;
esac
exit 0
