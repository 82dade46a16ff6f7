/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NAT-T (RFC 3948): ESP inside UDP 4500, forwarded at XDP. UDP ports
 * already tell the hosts apart, so there is no SPI to learn: the kernel's
 * masquerade allocates the public port when IKE moves to 4500, and vpnpt
 * forwards the flow's ESP with exactly that mapping, read from conntrack.
 * IKE on 4500 (the 4-byte zero non-ESP marker) and NAT keepalives (one
 * 0xFF byte) go to the kernel, which keeps the mapping alive and lets the
 * daemon see IKE. The UDP checksum of forwarded ESP-in-UDP is set to zero,
 * at XDP, as RFC 3948 3.1.2 recommends for IPv4 (ESP authenticates its
 * payload): that also keeps vpnpt correct when a sender on a virtual NIC
 * hands over only a partial (offloaded) checksum, which a redirected frame
 * would carry to its receiver as if it were complete (udp_rewrite).
 */
#ifndef VPNPT_BPF_NATT_H
#define VPNPT_BPF_NATT_H

#include "abi/wire.h"
#include "bpf/lib/clock.h"
#include "bpf/lib/conntrack.h"
#include "bpf/lib/fwd.h"
#include "bpf/lib/l4csum.h"
#include "bpf/lib/stats.h"

/* One slot of the NAT-T mapping cache: a conntrack answer and the tuple it answered. */
struct vpnpt_natt_cache_slot {
	__u64 at_ns; /* vpnpt_now_ns() of the conntrack lookup; 0 = empty */
	__be32 saddr, daddr;
	__be16 sport, dport;
	struct udp_nat nat;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VPNPT_NATT_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct vpnpt_natt_cache_slot);
} vpnpt_natt_cache SEC(".maps");

/*
 * Where a NAT-T packet goes, from the kernel's conntrack. A conntrack lookup
 * (siphash, two atomics on the entry's refcount) costs about as much as the
 * rest of the translation, so with cfg_fib_cache_ns > 0 the answer is kept
 * per CPU in the slot of its tuple and reused for the same tuple within that
 * bound: a mapping the kernel drops or changes reaches the fast path within
 * it. Each lookup renews the entry's timeout (conntrack.h), i.e. at most once
 * per flow, CPU and bound. Failures are never cached. Returns 0 or -1.
 */
static __always_inline int natt_translation(struct __ctx_buff *ctx, const struct iphdr *ip, const struct udphdr *uh,
                                            struct udp_nat *n)
{
	struct vpnpt_natt_cache_slot *slot = 0;
	__u64 now = 0;

	if (cfg_fib_cache_ns) {
		__u32 idx = vpnpt_mix3(ip->saddr, ip->daddr, (__u32)uh->source << 16 | uh->dest) &
		            (VPNPT_NATT_CACHE_SLOTS - 1);

		slot = bpf_map_lookup_elem(&vpnpt_natt_cache, &idx);
		if (slot) {
			now = vpnpt_now_ns();
			if (cache_fresh(slot->at_ns, now) && slot->saddr == ip->saddr && slot->daddr == ip->daddr &&
			    slot->sport == uh->source && slot->dport == uh->dest) {
				*n = slot->nat;
				return 0;
			}
		}
	}
	if (ct_udp_translation(ctx, ip->saddr, ip->daddr, uh->source, uh->dest, cfg_natt_ct_timeout_ms, n))
		return -1;
	if (slot) {
		slot->at_ns = cache_stamp(now);
		slot->saddr = ip->saddr;
		slot->daddr = ip->daddr;
		slot->sport = uh->source;
		slot->dport = uh->dest;
		slot->nat = *n;
	}
	return 0;
}

/* 1 if the UDP payload is ESP (a non-zero SPI), 0 for IKE, keepalives and runts. */
static __always_inline int natt_is_esp(struct udphdr *uh, void *end, __u32 l4_len)
{
	__be32 *marker = (void *)(uh + 1);

	if ((void *)(marker + 2) > end || l4_len < sizeof(*uh) + 8) /* SPI + sequence number */
		return 0;
	return *marker != 0;
}

/*
 * An XDP frame with a sender's partial checksum would carry it on as if it
 * were complete, so XDP sends no checksum; a TC skb keeps its checksum
 * state through the redirect, so TC updates the checksum (l4csum.h).
 */
static __always_inline void udp_rewrite(struct __ctx_buff *ctx, struct pkt *p, struct iphdr *ip, struct udphdr *uh,
                                        const struct udp_nat *n)
{
#ifdef VPNPT_HOOK_TC
	l4_csum_be32(ctx, p, &uh->check, L4_UDP, ip->saddr, n->saddr, L4_CSUM_PSEUDO);
	l4_csum_be32(ctx, p, &uh->check, L4_UDP, ip->daddr, n->daddr, L4_CSUM_PSEUDO);
	l4_csum_be16(ctx, p, &uh->check, L4_UDP, uh->source, n->sport, L4_CSUM_DATA);
	l4_csum_be16(ctx, p, &uh->check, L4_UDP, uh->dest, n->dport, L4_CSUM_DATA);
#else
	(void)ctx;
	(void)p;
	uh->check = 0; /* "no checksum": see above */
#endif
	csum_replace_be32(&ip->check, ip->saddr, n->saddr);
	csum_replace_be32(&ip->check, ip->daddr, n->daddr);
	ip->saddr = n->saddr;
	ip->daddr = n->daddr;
	uh->source = n->sport;
	uh->dest = n->dport;
}

/* Either direction: UDP 4500 with ESP inside, for a flow the kernel has NATed. */
static __always_inline struct xlat_result natt_forward(struct __ctx_buff *ctx, struct pkt *p,
                                                       const struct vpnpt_config *cfg, __u32 dir)
{
	struct xlat_result r = {CTX_PASS, VPNPT_REASON_NONE};
	struct udphdr *uh = p->l4;
	struct iphdr *ip = p->ip;

	if (!uh || p->fragmented) {
		r.reason = VPNPT_REASON_ESP_FRAGMENT;
		return r;
	}
	/* Only the server side's port 4500 counts: host -> server:4500 out, server:4500 -> public in. */
	if (dir == VPNPT_DIR_OUTBOUND ? uh->dest != bpf_htons(PORT_NATT) : uh->source != bpf_htons(PORT_NATT))
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
	if (natt_translation(ctx, ip, uh, &n)) {
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
	if (fwd_planned(r.reason) && dir == VPNPT_DIR_OUTBOUND && plan->ifindex != cfg->wan_ifindex)
		r.reason = VPNPT_REASON_FIB_OTHER;
	if (!fwd_planned(r.reason))
		return r; /* untouched: the kernel's NAT does the same translation */
	udp_rewrite(ctx, p, ip, uh, &n);
	r.action = fwd_redirect(p->eth, ip, plan);
	return r;
}

/* As a subprogram: its frame stays out of the main one (see xlat_pack). */
static __noinline __u32 natt_step(struct __ctx_buff *ctx, struct pkt *p, const struct vpnpt_config *cfg, __u32 dir)
{
	return xlat_pack(natt_forward(ctx, p, cfg, dir));
}

#endif
