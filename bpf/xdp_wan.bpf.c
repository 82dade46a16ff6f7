// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* XDP on the WAN interface: traffic from the internet toward LAN hosts. */
#include "bpf/ctx/xdp.h"
#include "bpf/ingress.h"

SEC("xdp")
int xdp_wan(struct xdp_md *ctx)
{
	return vpnpt_ingress(ctx, VPNPT_DIR_INBOUND);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
