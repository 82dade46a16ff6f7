// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* XDP on every LAN interface: traffic from LAN hosts toward the WAN. */
#include "bpf/ctx/xdp.h"
#include "bpf/ingress.h"

SEC("xdp")
int xdp_lan(struct xdp_md *ctx)
{
	return vpnpt_ingress(ctx, VPNPT_DIR_OUTBOUND);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
