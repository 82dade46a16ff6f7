/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NAT-T (RFC 3948): ESP inside UDP 4500, forwarded at XDP. UDP ports
 * already tell the hosts apart, so there is no SPI to learn: the kernel's
 * masquerade allocates the public port when IKE moves to 4500, and vpnpt
 * forwards the flow's ESP with exactly that mapping, read from conntrack.
 * IKE on 4500 (the 4-byte zero non-ESP marker) and NAT keepalives (one
 * 0xFF byte) go to the kernel, which keeps the mapping alive and lets the
 * daemon see IKE. The UDP checksum of forwarded ESP-in-UDP is set to zero,
 * as RFC 3948 3.1.2 recommends for IPv4 (ESP authenticates its payload):
 * that also keeps vpnpt correct when a sender on a virtual NIC hands over
 * only a partial (offloaded) checksum, which a redirected frame would carry
 * to its receiver as if it were complete.
 */
#ifndef VPNPT_BPF_NATT_H
#define VPNPT_BPF_NATT_H

#include "conntrack.h"
#include "fwd.h"
#include "stats.h"

/* 1 if the UDP payload is ESP (a non-zero SPI), 0 for IKE, keepalives and runts. */
static __always_inline int natt_is_esp(struct udphdr *uh, void *end, __u32 l4_len)
{
	__be32 *marker = (void *)(uh + 1);

	if ((void *)(marker + 2) > end || l4_len < sizeof(*uh) + 8) /* SPI + sequence number */
		return 0;
	return *marker != 0;
}

static __always_inline void udp_rewrite(struct iphdr *ip, struct udphdr *uh, const struct udp_nat *n)
{
	uh->check = 0; /* "no checksum": see above */
	csum_replace_be32(&ip->check, ip->saddr, n->saddr);
	csum_replace_be32(&ip->check, ip->daddr, n->daddr);
	ip->saddr = n->saddr;
	ip->daddr = n->daddr;
	uh->source = n->sport;
	uh->dest = n->dport;
}

/* Either direction: UDP 4500 with ESP inside, for a flow the kernel has NATed. */
static __always_inline struct xlat_result natt_forward(struct xdp_md *ctx, struct pkt *p,
						       const struct vpnpt_config *cfg, __u32 dir)
{
	struct xlat_result r = {XDP_PASS, VPNPT_REASON_NONE};
	struct udphdr *uh = p->l4;
	struct iphdr *ip = p->ip;

	if (!uh || p->fragmented) {
		r.reason = VPNPT_REASON_ESP_FRAGMENT;
		return r;
	}
	/* Only the server side's port 4500 counts: host -> server:4500 out, server:4500 -> public in. */
	if (dir == VPNPT_DIR_OUTBOUND ? uh->dest != bpf_htons(4500) : uh->source != bpf_htons(4500))
		return r;
	if (!natt_is_esp(uh, (void *)(long)ctx->data_end, p->l4_len)) {
		r.reason = VPNPT_REASON_NATT_NOT_ESP;
		return r;
	}
	if (p->vlans) {
		r.reason = VPNPT_REASON_VLAN_TAGGED;
		return r;
	}
	struct udp_nat n;
	if (ct_udp_translation(ctx, ip->saddr, ip->daddr, uh->source, uh->dest, &n)) {
		r.reason = VPNPT_REASON_NATT_NO_CT;
		return r;
	}
	/* Outbound must leave with the public address (the kernel masquerades on the WAN). */
	if (dir == VPNPT_DIR_OUTBOUND && n.saddr != cfg->public_ip) {
		r.reason = VPNPT_REASON_NATT_NO_CT;
		return r;
	}
	const struct bpf_fib_lookup *plan;
	r.reason = fwd_lookup(ctx, ip, n.saddr, n.daddr, &plan);
	if (!r.reason && dir == VPNPT_DIR_OUTBOUND && plan->ifindex != cfg->wan_ifindex)
		r.reason = VPNPT_REASON_FIB_OTHER;
	if (r.reason)
		return r; /* untouched: the kernel's NAT does the same translation */
	udp_rewrite(ip, uh, &n);
	r.action = fwd_redirect(p->eth, ip, plan);
	return r;
}

/* As a subprogram: its frame stays out of the main one (see xlat_pack). */
static __noinline __u32 natt_step(struct xdp_md *ctx, struct pkt *p, const struct vpnpt_config *cfg, __u32 dir)
{
	return xlat_pack(natt_forward(ctx, p, cfg, dir));
}

#endif
