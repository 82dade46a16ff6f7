/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ingress pipeline shared by the LAN and WAN hooks, at XDP and at TC: parse, classify,
 * count, translate. Malformed packets are counted under their reason and
 * passed untouched (the documented rule: vpnpt never rewrites what it could
 * not fully parse, and never drops what the kernel would take). Translators
 * return a verdict and, when they did not translate, the reason, whose
 * verdict is fixed per reason (see abi/vpnpt_abi.h).
 */
#ifndef VPNPT_BPF_INGRESS_H
#define VPNPT_BPF_INGRESS_H

#include "bpf/lib/classify.h"
#include "bpf/proto/esp.h"
#include "bpf/lib/frag.h"
#include "bpf/proto/gre.h"
#include "bpf/icmp_err.h"
#include "bpf/proto/l2tp.h"
#include "bpf/proto/natt.h"
#include "bpf/proto/passthrough.h"
#include "bpf/proto/pptp_ctrl.h"
#include "bpf/lib/stats.h"

static __always_inline const struct vpnpt_config *load_config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&vpnpt_config_v1, &zero);
}

/* Traffic of a VPN session vpnpt translates (or would, were it switched on). */
static __always_inline int is_vpn_class(enum vpnpt_class cls)
{
	return cls == VPNPT_CLASS_GRE || cls == VPNPT_CLASS_ESP || cls == VPNPT_CLASS_NATT || cls == VPNPT_CLASS_L2TP ||
	       cls == VPNPT_CLASS_PPTP_CTRL;
}

/* Hands a packet to its protocol's translator. */
static __always_inline struct xlat_result translate_protocol(struct __ctx_buff *ctx, struct pkt *p,
                                                             enum vpnpt_class cls, const struct vpnpt_config *cfg,
                                                             __u32 dir, __u64 bytes)
{
	struct xlat_result r = {CTX_PASS, VPNPT_REASON_NONE};

	switch (cls) {
	case VPNPT_CLASS_GRE:
		if (switched_off(cfg, VPNPT_SW_PPTP)) {
			r.reason = VPNPT_REASON_PPTP_OFF;
			return r;
		}
		return xlat_unpack(gre_step(ctx, p, cfg, dir, bytes));
	case VPNPT_CLASS_ESP:
		if (switched_off(cfg, VPNPT_SW_IPSEC)) {
			r.reason = VPNPT_REASON_IPSEC_OFF;
			return r;
		}
		return xlat_unpack(esp_step(ctx, p, cfg, dir, bytes));
	case VPNPT_CLASS_NATT:
		if (switched_off(cfg, VPNPT_SW_IPSEC)) {
			r.reason = VPNPT_REASON_IPSEC_OFF;
			return r;
		}
		return xlat_unpack(natt_step(ctx, p, cfg, dir));
	case VPNPT_CLASS_AH:
		r.reason = VPNPT_REASON_AH_NO_NAT;
		return r;
	case VPNPT_CLASS_L2TP:
		if (switched_off(cfg, VPNPT_SW_L2TP)) {
			r.reason = VPNPT_REASON_L2TP_OFF;
			return r;
		}
		return xlat_unpack(dir == VPNPT_DIR_OUTBOUND ? l2tp_outbound_step(ctx, p, cfg, bytes)
		                                             : l2tp_inbound_step(ctx, p, bytes));
	case VPNPT_CLASS_PPTP_CTRL: {
		__u32 v = pptp_ctrl_step(ctx, p, cfg, dir);
		r = xlat_unpack(v & ~(1u << 31));
		if ((v >> 31) && r.action == CTX_PASS)
			count_xlat(dir, cls, bytes);
		return r;
	}
	default:
		if (dir == VPNPT_DIR_INBOUND && p->ip_proto == IPPROTO_ICMP)
			return xlat_unpack(icmp_error_step(ctx, p, cfg));
		return r;
	}
}

/* The protocol translators, then IP passthrough for what they left. */
static __always_inline struct xlat_result translate(struct __ctx_buff *ctx, struct pkt *p, enum vpnpt_class cls,
                                                    __u32 dir, __u64 bytes)
{
	struct xlat_result r = {CTX_PASS, VPNPT_REASON_NONE};
	const struct vpnpt_config *cfg = load_config();

	if (!cfg || !cfg->public_ip)
		return r; /* not configured (e.g. in packet tests of the classifier): count only */
	if (dir == VPNPT_DIR_INBOUND && p->ip->daddr != cfg->public_ip)
		return r; /* routed past the gateway's address: not NAT traffic */
	r = translate_protocol(ctx, p, cls, cfg, dir, bytes);
	if (cfg->passthrough_host)
		r = xlat_unpack(passthrough_step(ctx, p, cfg, dir, xlat_pack(r)));
	return r;
}

/* The end of every path that reached a translation: the verdict, counted. */
static __always_inline int ingress_verdict(struct __ctx_buff *ctx, const struct pkt *p, struct xlat_result r, __u32 cls,
                                           __u32 dir, __u64 bytes)
{
#ifndef VPNPT_HOOK_TC
	(void)ctx;
	(void)p;
#else
	/* Last, as both invalidate packet pointers: the collected L4 checksum changes, and a link-layer
	 * header for a packet from an L3 WAN (the LAN's neighbour layer needs one to replace). */
	if (vpnpt_tc_finish(ctx, p->l4_off, p->ip_proto, cfg_no_l2 && r.action == CTX_REDIRECT)) {
		r.action = CTX_DROP; /* translated already: the stack must not see it */
		r.reason = VPNPT_REASON_L2_PUSH_FAILED;
	}
#endif
	count_reason(dir, r.reason, bytes);
	if (r.action == CTX_REDIRECT)
		count_xlat(dir, cls, bytes);
	return r.action;
}

/*
 * A later fragment of a datagram whose first fragment a translator sent to
 * @addr: the same way, counted under its datagram's class (bpf/lib/frag.h). A
 * subprogram that ends in the verdict: the main pipeline's states never
 * carry the record's class.
 */
static __noinline int later_fragment(struct __ctx_buff *ctx, struct pkt *p, __u32 dir, __u64 bytes, __be32 addr,
                                     __u32 cls)
{
	struct xlat_result r = {CTX_PASS, VPNPT_REASON_NONE};
	const struct vpnpt_config *cfg = load_config();

	count_class(dir, cls, bytes);
	if (cfg && cfg->public_ip && (dir == VPNPT_DIR_OUTBOUND || p->ip->daddr == cfg->public_ip))
		r = frag_follow(ctx, p, cfg, dir, addr);
	return ingress_verdict(ctx, p, r, cls, dir, bytes);
}

/* The pipeline both hooks run (ctx/xdp.h, ctx/skb.h say how each reaches the packet). */
static __always_inline int vpnpt_ingress(struct __ctx_buff *ctx, __u32 dir)
{
	if (ctx_vlan_outside(ctx))
		return CTX_PASS; /* the VLAN device's own hook sees it, if vpnpt serves that device */
	ctx_pull_headers(ctx, cfg_no_l2 ? 0 : sizeof(struct ethhdr));

	struct cursor c = {
	        .pos = (void *)(long)ctx->data,
	        .end = (void *)(long)ctx->data_end,
	};
	__u64 bytes = ctx_len(ctx);
	struct pkt p = {};
	enum vpnpt_reason reason;
	enum vpnpt_class cls;

	reason = parse_l2_l3(&c, &p, cfg_vlan_depth, cfg_no_l2);
	if (reason) {
		count_malformed(ctx, dir, reason, bytes, &p);
		return CTX_PASS;
	}
	if (!p.ip) {
		count_class(dir, VPNPT_CLASS_NON_IPV4, bytes);
		return CTX_PASS;
	}
	/* Before the classifier: it needs no L4 header, and the classifier's checks stay as they were. */
	if (p.fragmented && (p.ip_proto == IPPROTO_UDP || p.ip_proto == IPPROTO_GRE || p.ip_proto == IPPROTO_ESP)) {
		if (!p.frag) {
			frag_forget(&p, dir); /* this datagram's first fragment decides anew */
		} else {
			const struct vpnpt_frag *f = frag_find(&p, dir);
			if (f) /* UDP's later fragments have no ports to classify by: the record's class */
				return later_fragment(ctx, &p, dir, bytes, f->addr, f->cls);
		}
	}

	reason = VPNPT_REASON_NONE;
	cls = classify(&c, &p, &reason);
	if (cls == VPNPT_CLASS_MALFORMED) {
		count_malformed(ctx, dir, reason, bytes, &p);
		return CTX_PASS;
	}
	count_class(dir, cls, bytes);
	if (!CTX_RESOLVES_NEIGH && dir == VPNPT_DIR_OUTBOUND && p.eth && !p.vlans && is_vpn_class(cls))
		lan_l2_learn(ctx, p.eth, p.ip->saddr); /* the next hop for its answers if the kernel loses it */

	struct xlat_result r = translate(ctx, &p, cls, dir, bytes);
	if (r.reason == VPNPT_REASON_PPTP_OFF || r.reason == VPNPT_REASON_IPSEC_OFF ||
	    r.reason == VPNPT_REASON_L2TP_OFF) {
		/* Tell `vpnpt diagnose` which hosts try a switched-off protocol (once per host and class per 100 ms). */
		__be32 host = dir == VPNPT_DIR_OUTBOUND ? p.ip->saddr : p.ip->daddr;
		report_limited(ctx, REPORT_WHAT(VPNPT_EV_SWITCHED_OFF, r.reason, dir), p.ip->saddr, p.ip->daddr,
		               REPORT_KEY(host, cls));
	}
	return ingress_verdict(ctx, &p, r, cls, dir, bytes);
}

#endif
