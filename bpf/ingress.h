/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The XDP ingress pipeline shared by the LAN and WAN hooks: parse, classify,
 * count. Protocol translators plug in here as they land; until then every
 * packet is passed to the stack. Malformed packets are counted under their
 * reason and passed untouched (the documented rule: vpnpt never rewrites
 * what it could not fully parse, and never drops what the kernel would take).
 */
#ifndef VPNPT_BPF_INGRESS_H
#define VPNPT_BPF_INGRESS_H

#include "classify.h"
#include "stats.h"

static __always_inline int vpnpt_ingress(struct xdp_md *ctx, __u32 dir)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	__u64 bytes = c.end - c.pos;
	struct pkt p = {};
	enum vpnpt_reason reason;
	enum vpnpt_class cls;

	reason = parse_l2_l3(&c, &p, cfg_vlan_depth);
	if (reason) {
		count_malformed(dir, reason, bytes, ctx->ingress_ifindex, &p);
		return XDP_PASS;
	}
	if (!p.ip) {
		count_class(dir, VPNPT_CLASS_NON_IPV4, bytes);
		return XDP_PASS;
	}

	reason = VPNPT_REASON_NONE;
	cls = classify(&c, &p, &reason);
	if (cls == VPNPT_CLASS_MALFORMED) {
		count_malformed(dir, reason, bytes, ctx->ingress_ifindex, &p);
		return XDP_PASS;
	}
	count_class(dir, cls, bytes);
	return XDP_PASS;
}

#endif
