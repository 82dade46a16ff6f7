// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* TC ingress (clsact) on a WAN interface XDP cannot serve: the same pipeline on skbs. */
#include "bpf/ctx/skb.h"
#include "bpf/ingress.h"

SEC("tc")
int tc_wan(struct __sk_buff *ctx)
{
	return vpnpt_ingress(ctx, VPNPT_DIR_INBOUND);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
