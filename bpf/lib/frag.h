/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Fragments of a session's datagrams (abi/vpnpt_abi.h, vpnpt_frags_v1).
 * The rule: a datagram's fragments go where its first fragment went. A
 * translator that translates a first fragment remembers where it sent it
 * (frag_remember); the later fragments, which carry no SPI, Call ID or
 * port, are translated by that record (frag_follow) and never reach the
 * kernel's NAT, whose conntrack entry on the same public tuple may belong to
 * another host. Only the IPv4 address changes in a later fragment: the L4
 * checksum of the whole datagram sits in the first one.
 *
 * A later fragment without a record goes to the kernel as before (its
 * first fragment went there too, or has not arrived yet: a reordered
 * datagram is lost, as it would be if the kernel held its first fragment).
 */
#ifndef VPNPT_BPF_FRAG_H
#define VPNPT_BPF_FRAG_H

#include "bpf/lib/clock.h"
#include "bpf/lib/fwd.h"
#include "bpf/lib/maps.h"

static __always_inline struct vpnpt_frag_key frag_key(const struct pkt *p, __u32 dir)
{
	struct vpnpt_frag_key k = {
	        .saddr = p->ip->saddr,
	        .daddr = p->ip->daddr,
	        .id = p->ip->id,
	        .proto = p->ip_proto,
	        .dir = (__u8)dir,
	};
	return k;
}

/*
 * A first fragment is about to be decided: forget what an earlier datagram
 * with the same key left, so that its later fragments follow this one.
 */
static __always_inline void frag_forget(const struct pkt *p, __u32 dir)
{
	struct vpnpt_frag_key k = frag_key(p, dir);

	bpf_map_delete_elem(&vpnpt_frags_v1, &k);
}

/*
 * The translator of class @cls sends this first fragment to @addr (the new
 * source outbound, destination inbound). Call before rewriting the header.
 * Returns 0, or VPNPT_REASON_FRAG_UNTRACKED if it cannot be remembered: the
 * caller drops the fragment rather than split the datagram.
 */
static __always_inline enum vpnpt_reason frag_remember(const struct pkt *p, __u32 dir, __u32 cls, __be32 addr)
{
	if (!p->fragmented)
		return VPNPT_REASON_NONE;
	struct vpnpt_frag_key k = frag_key(p, dir);
	struct vpnpt_frag v = {.at_ns = vpnpt_now_ns(), .addr = addr, .cls = cls};

	return bpf_map_update_elem(&vpnpt_frags_v1, &k, &v, BPF_ANY) ? VPNPT_REASON_FRAG_UNTRACKED : VPNPT_REASON_NONE;
}

/* frag_remember() for a translator: 1, with @r the drop, if the fragment cannot be remembered. */
static __always_inline int frag_refused(struct xlat_result *r, const struct pkt *p, __u32 dir, __u32 cls, __be32 addr)
{
	r->reason = frag_remember(p, dir, cls, addr);
	if (!r->reason)
		return 0;
	r->action = CTX_DROP;
	return 1;
}

/* The record of a later fragment's datagram, if its first fragment was translated lately. */
static __always_inline const struct vpnpt_frag *frag_find(const struct pkt *p, __u32 dir)
{
	struct vpnpt_frag_key k = frag_key(p, dir);
	const struct vpnpt_frag *f = bpf_map_lookup_elem(&vpnpt_frags_v1, &k);

	if (!f)
		return NULL;
	__u64 now = vpnpt_now_ns();
	/* A stamp ahead of this CPU's clock counts as now (clock.h). */
	if (f->at_ns <= now && now - f->at_ns >= VPNPT_FRAG_FRESH_NS)
		return NULL;
	return f;
}

/* A later fragment, as its first fragment was translated. */
static __always_inline struct xlat_result frag_follow(struct __ctx_buff *ctx, struct pkt *p,
                                                      const struct vpnpt_config *cfg, __u32 dir, __be32 addr)
{
	struct xlat_result r = {CTX_PASS, VPNPT_REASON_NONE};

	if (dir == VPNPT_DIR_INBOUND)
		return dnat_forward(ctx, p, addr);
	const struct bpf_fib_lookup *plan;
	if (plan_outbound(ctx, p, cfg, &plan)) {
		/* The kernel would hold it for a first fragment that never comes. */
		r.action = CTX_DROP;
		r.reason = VPNPT_REASON_FRAG_UNPLACED;
		return r;
	}
	r.action = snat_redirect(p, addr, plan);
	return r;
}

#endif
