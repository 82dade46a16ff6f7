/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Forwarding a translated packet ourselves: the kernel's FIB picks the
 * egress interface and next hop (bpf_fib_lookup), the IPv4 TTL is
 * decremented as a router must, and the frame is redirected. Whenever the
 * FIB cannot answer with certainty (unresolved neighbour, MTU, no route,
 * forwarding off) the caller passes the packet to the stack instead and
 * the kernel handles it exactly as it would without vpnpt.
 */
#ifndef VPNPT_BPF_FWD_H
#define VPNPT_BPF_FWD_H

#include "bpf/lib/clock.h"
#include "bpf/lib/csum.h"
#include "bpf/lib/load_config.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/neigh.h"
#include "bpf/lib/parse.h"

/*
 * A forwarding plan is the FIB's answer itself (egress ifindex, smac, dmac),
 * left in per-CPU scratch: translators hold a pointer, not a copy, so the
 * stack they share with the PPTP walk does not grow.
 */

/*
 * The next-hop cache (cfg_fib_cache_ns > 0): a successful answer is kept per
 * CPU in the slot of its query (ingress ifindex, source, destination, TOS,
 * protocol) with the time it was obtained and the packet length it was
 * checked for, and reused when the same query comes again
 *   - within cfg_fib_cache_ns (clock.h: at most two ticks more), so a
 *     route, neighbour or MTU change reaches the fast path within the bound;
 *   - for a packet no longer than the one the FIB accepted (the MTU is at
 *     least that); a longer one asks the FIB, which checks the MTU again.
 * Failures are never cached: the next packet asks the FIB again. The TTL is
 * checked per packet, before the cache.
 */
/* The rule both per-CPU caches (this one and natt.h's) share: a slot stamped
 * with vpnpt_now_ns() (0 = empty) is good for cfg_fib_cache_ns. */
static __always_inline int cache_fresh(__u64 at_ns, __u64 now)
{
	return at_ns && now - at_ns < cfg_fib_cache_ns;
}

static __always_inline __u64 cache_stamp(__u64 now)
{
	return now ? now : 1; /* 0 means empty */
}

static __always_inline __u32 fwd_cache_slot(__u32 ifindex, __be32 saddr, __be32 daddr)
{
	return vpnpt_mix3(daddr, saddr, ifindex) & (VPNPT_FIB_CACHE_SLOTS - 1);
}

/*
 * Asks the FIB how a packet from @saddr to @daddr (the addresses it will
 * carry after translation) leaves. Returns VPNPT_REASON_NONE and fills
 * @plan, or the reason the stack must handle it; or, for a LAN host the
 * kernel has no neighbour for, VPNPT_REASON_NEIGH_LEARNED with a plan from
 * the host's own frames (neigh.h; fwd_planned() tells the two apart).
 */
static __always_inline enum vpnpt_reason fwd_lookup(struct __ctx_buff *ctx, const struct iphdr *ip, __be32 saddr,
                                                    __be32 daddr, const struct bpf_fib_lookup **plan)
{
	struct vpnpt_fib_cache_slot *slot = 0;
	__u32 zero = 0;
	__u64 now = 0;
	long rc;

	if (ip->ttl <= 1)
		return VPNPT_REASON_TTL_EXPIRED;
	if (cfg_fib_cache_ns) {
		__u32 idx = fwd_cache_slot(ctx->ingress_ifindex, saddr, daddr);

		slot = bpf_map_lookup_elem(&vpnpt_fib_cache, &idx);
		if (slot) {
			now = vpnpt_now_ns();
			if (cache_fresh(slot->at_ns, now) && slot->daddr == daddr && slot->saddr == saddr &&
			    slot->in_ifindex == ctx->ingress_ifindex && slot->tos == ip->tos &&
			    slot->l4_protocol == ip->protocol && bpf_ntohs(ip->tot_len) <= slot->len_ok) {
				*plan = &slot->fib;
				return VPNPT_REASON_NONE;
			}
		}
	}
	/* The 64-byte query lives in per-CPU scratch, not on the stack every translator shares. */
	struct bpf_fib_lookup *fib = bpf_map_lookup_elem(&vpnpt_scratch_fib, &zero);
	if (!fib)
		return VPNPT_REASON_FIB_OTHER;
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET;
	fib->tos = ip->tos;
	fib->l4_protocol = ip->protocol;
	fib->tot_len = bpf_ntohs(ip->tot_len);
	fib->ipv4_src = saddr;
	fib->ipv4_dst = daddr;
	fib->ifindex = ctx->ingress_ifindex;

	rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH && CTX_RESOLVES_NEIGH) {
		*plan = fib; /* egress and next hop are set; the neighbour layer resolves it (not cached) */
		return VPNPT_REASON_NONE;
	}
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		if (!lan_l2_next_hop(ctx, fib, daddr))
			return VPNPT_REASON_FIB_NO_NEIGH;
		*plan = fib; /* not cached: the kernel's answer is wanted again soon */
		return VPNPT_REASON_NEIGH_LEARNED;
	}
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return VPNPT_REASON_FIB_OTHER;
	*plan = fib;
	if (slot) {
		/* A new query, an expired answer, or a packet longer than the cached one was checked for. */
		slot->at_ns = cache_stamp(now);
		slot->in_ifindex = ctx->ingress_ifindex;
		slot->saddr = saddr;
		slot->daddr = daddr;
		slot->tos = ip->tos;
		slot->l4_protocol = ip->protocol;
		slot->len_ok = bpf_ntohs(ip->tot_len);
		__builtin_memcpy(&slot->fib, fib, sizeof(*fib));
	}
	return VPNPT_REASON_NONE;
}

/* Whether fwd_lookup() left a plan to forward by. */
static __always_inline int fwd_planned(enum vpnpt_reason r)
{
	return r == VPNPT_REASON_NONE || r == VPNPT_REASON_NEIGH_LEARNED;
}

/* Applies a plan: TTL - 1 (checksum kept exact), new MACs where the hook sends frames as they are, redirect. */
static __always_inline int fwd_redirect(struct ethhdr *eth, struct iphdr *ip, const struct bpf_fib_lookup *plan)
{
	__u16 old = bpf_ntohs(*(__be16 *)&ip->ttl); /* ttl and protocol share a word */

	ip->ttl--;
	csum_replace_word(&ip->check, old, bpf_ntohs(*(__be16 *)&ip->ttl));
	if (CTX_WRITES_L2) {
		__builtin_memcpy(eth->h_dest, plan->dmac, 6);
		__builtin_memcpy(eth->h_source, plan->smac, 6);
	}
	return ctx_redirect(plan);
}

/* What a translator did: the XDP verdict, and why it did not translate (NONE if it did). */
struct xlat_result {
	int action;
	enum vpnpt_reason reason;
};

/* A result through a BPF subprogram's one return register (subprograms keep
 * their locals out of the main frame, whose stack the PPTP walk shares). */
static __always_inline __u32 xlat_pack(struct xlat_result r)
{
	return ((__u32)r.action & 0xff) | (__u32)r.reason << 8;
}

/* The action is a signed byte: TC's "no verdict" (TC_ACT_UNSPEC) is -1. */
static __always_inline struct xlat_result xlat_unpack(__u32 v)
{
	struct xlat_result r = {(int)(__s8)(v & 0xff), (enum vpnpt_reason)(v >> 8)};
	return r;
}

/*
 * Outbound: may this packet leave the WAN from the public address? Decided
 * before anything is rewritten, so a packet vpnpt cannot forward goes to the
 * stack untouched and the kernel's own NAT handles it.
 */
static __always_inline enum vpnpt_reason
plan_outbound(struct __ctx_buff *ctx, struct pkt *p, const struct vpnpt_config *cfg, const struct bpf_fib_lookup **plan)
{
	if (p->vlans)
		return VPNPT_REASON_VLAN_TAGGED;
	enum vpnpt_reason r = fwd_lookup(ctx, p->ip, cfg->public_ip, p->ip->daddr, plan);
	if (r == VPNPT_REASON_NEIGH_LEARNED)
		return VPNPT_REASON_FIB_NO_NEIGH; /* a learned LAN next hop is never the way out */
	if (!r && (*plan)->ifindex != cfg->wan_ifindex)
		r = VPNPT_REASON_FIB_OTHER;
	return r;
}

/* Outbound, planned: source NAT to the public address and redirect. */
static __always_inline int snat_redirect(struct pkt *p, __be32 public_ip, const struct bpf_fib_lookup *plan)
{
	csum_replace_be32(&p->ip->check, p->ip->saddr, public_ip);
	p->ip->saddr = public_ip;
	return fwd_redirect(p->eth, p->ip, plan);
}

/*
 * Inbound, the host decided: destination NAT and redirect to the LAN. The
 * translation is certain, so what the FIB cannot place (neighbour not yet
 * resolved, TTL, VLAN) still goes to the stack translated and the kernel
 * forwards it.
 */
static __always_inline struct xlat_result dnat_forward(struct __ctx_buff *ctx, struct pkt *p, __be32 host)
{
	struct xlat_result r = {CTX_PASS, VPNPT_REASON_NONE};
	const struct bpf_fib_lookup *plan;

	csum_replace_be32(&p->ip->check, p->ip->daddr, host);
	p->ip->daddr = host;
	if (p->vlans) {
		r.reason = VPNPT_REASON_VLAN_TAGGED;
		return r;
	}
	r.reason = fwd_lookup(ctx, p->ip, p->ip->saddr, host, &plan);
	if (fwd_planned(r.reason))
		r.action = fwd_redirect(p->eth, p->ip, plan);
	return r;
}

#endif
