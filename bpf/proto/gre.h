/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * PPTP data: enhanced GRE (RFC 2637 section 4.1) translated at XDP.
 *
 * The Key's low 16 bits carry the *receiver's* Call ID. Outbound (client
 * to server) that is the server's own id, so only the source address
 * changes; the call is found through the outbound index (pptp_gre_out).
 * Inbound (server to public IP) it is the translated id the server knows
 * the client by: the call table's slot of that id (one array read, the
 * server address confirmed), whose client address and original id replace
 * destination and Key. Sequence
 * and acknowledgment numbers and the payload are never touched; GRE v1
 * carries no checksum (C must be 0), so only the IPv4 checksum changes.
 */
#ifndef VPNPT_BPF_GRE_H
#define VPNPT_BPF_GRE_H

#include "bpf/lib/clock.h"
#include "bpf/lib/frag.h"
#include "bpf/lib/fwd.h"
#include "bpf/lib/l4csum.h"
#include "bpf/lib/maps.h"
#include "bpf/proto/pptp_calls.h"
#include "bpf/lib/stats.h"

#define GRE_PROTO_PPP 0x880B

/* First 8 bytes of an enhanced GRE header. */
struct gre_v1_hdr {
	__u8 flags;   /* C R K S s Recur */
	__u8 version; /* A, flags, Ver */
	__be16 proto;
	__be16 payload_len;
	__be16 call_id;
};

#define GRE_FLAG_K 0x20
#define GRE_FLAG_S 0x10
#define GRE_VER_A 0x80

/*
 * Validates an enhanced GRE header at @gh (the 4 base bytes were checked by
 * the classifier). Returns 0 if this is PPTP GRE whose optional fields fit
 * the datagram (@l4_len: Ethernet padding does not count), otherwise the
 * reason to pass it.
 */
static __always_inline enum vpnpt_reason gre_v1_check(struct gre_v1_hdr *gh, void *end, __u32 l4_len)
{
	if ((void *)(gh + 1) > end || l4_len < sizeof(*gh))
		return VPNPT_REASON_L4_TRUNC;
	/* K set; C, R, s, Recur clear; S optional. Ver 1, flags clear, A optional. */
	if ((gh->flags & ~GRE_FLAG_S) != GRE_FLAG_K || (gh->version & ~GRE_VER_A) != 1 ||
	    gh->proto != bpf_htons(GRE_PROTO_PPP))
		return VPNPT_REASON_GRE_NOT_PPTP;
	__u32 opt = ((gh->flags & GRE_FLAG_S) ? 4 : 0) + ((gh->version & GRE_VER_A) ? 4 : 0);
	if ((void *)(gh + 1) + opt > end || l4_len < sizeof(*gh) + opt)
		return VPNPT_REASON_L4_TRUNC;
	return VPNPT_REASON_NONE;
}

static __always_inline void pptp_call_account(struct vpnpt_pptp_call *call, __u32 dir, __u64 bytes, __u32 ifindex)
{
	call->last_seen_ns = vpnpt_now_ns();
	if (dir == VPNPT_DIR_OUTBOUND) {
		__sync_fetch_and_add(&call->packets_out, 1);
		__sync_fetch_and_add(&call->bytes_out, bytes);
		call->lan_ifindex = ifindex;
	} else {
		__sync_fetch_and_add(&call->packets_in, 1);
		__sync_fetch_and_add(&call->bytes_in, bytes);
	}
}

/* LAN -> WAN: GRE from a client to a server it has a call with. */
static __always_inline struct xlat_result gre_outbound(struct __ctx_buff *ctx, struct pkt *p,
                                                       const struct vpnpt_config *cfg, __u64 bytes)
{
	struct xlat_result r = {CTX_PASS, VPNPT_REASON_NONE};
	struct gre_v1_hdr *gh = p->l4;
	struct iphdr *ip = p->ip;

	if (!gh) {
		r.reason = VPNPT_REASON_GRE_FRAGMENT; /* a later fragment whose first one vpnpt did not translate */
		return r;
	}
	r.reason = gre_v1_check(gh, (void *)(long)ctx->data_end, p->l4_len);
	if (r.reason)
		return r;

	__be16 xlat = 0;
	struct vpnpt_pptp_call *call = pptp_gre_out(ip->saddr, ip->daddr, gh->call_id, &xlat);
	if (!call) {
		r.reason = VPNPT_REASON_GRE_NO_CALL;
		return r;
	}
	if (!call->quote_noted) {
		/* Before its first GRE leaves: an ICMP error can only quote GRE the call sent. */
		pptp_quote_note(ip->daddr, gh->call_id, xlat, ip->saddr);
		call->quote_noted = 1;
	}
	const struct bpf_fib_lookup *plan;
	r.reason = plan_outbound(ctx, p, cfg, &plan);
	if (r.reason)
		return r;
	if (frag_refused(&r, p, VPNPT_DIR_OUTBOUND, VPNPT_CLASS_GRE, cfg->public_ip))
		return r;
	pptp_call_account(call, VPNPT_DIR_OUTBOUND, bytes, ctx->ingress_ifindex);
	r.action = snat_redirect(p, cfg->public_ip, plan);
	return r;
}

/* WAN -> LAN: GRE from a server to the public IP, for a known call. */
static __always_inline struct xlat_result gre_inbound(struct __ctx_buff *ctx, struct pkt *p, __u64 bytes)
{
	struct xlat_result r = {CTX_PASS, VPNPT_REASON_NONE};
	struct gre_v1_hdr *gh = p->l4;
	struct iphdr *ip = p->ip;

	if (!gh) {
		r.reason = VPNPT_REASON_GRE_FRAGMENT;
		return r;
	}
	r.reason = gre_v1_check(gh, (void *)(long)ctx->data_end, p->l4_len);
	if (r.reason)
		return r;

	struct vpnpt_pptp_call *call = pptp_call(ip->saddr, gh->call_id);
	/* A requested call already receives: pptpd sends GRE before its client does. */
	if (!call || call->state == VPNPT_PPTP_CALL_CLOSING) {
		r.reason = VPNPT_REASON_GRE_NO_CALL;
		report_limited(ctx, REPORT_WHAT(VPNPT_EV_GRE_UNKNOWN, r.reason, VPNPT_DIR_INBOUND), ip->saddr,
		               ip->daddr, REPORT_KEY(ip->saddr, bpf_ntohs(gh->call_id)));
		return r;
	}

	if (frag_refused(&r, p, VPNPT_DIR_INBOUND, VPNPT_CLASS_GRE, call->client))
		return r;
	/* GRE v1 has no checksum: only the IPv4 one changes (and a TC skb's whole-packet sum). */
	l4_csum_be16(ctx, p, 0, L4_TCP, gh->call_id, call->client_call_id, L4_CSUM_RAW);
	gh->call_id = call->client_call_id;
	pptp_call_account(call, VPNPT_DIR_INBOUND, bytes, 0);
	return dnat_forward(ctx, p, call->client);
}

/* Either direction as a subprogram: its frame stays out of the main one (see xlat_pack). */
static __noinline __u32 gre_step(struct __ctx_buff *ctx, struct pkt *p, const struct vpnpt_config *cfg, __u32 dir,
                                 __u64 bytes)
{
	return xlat_pack(dir == VPNPT_DIR_OUTBOUND ? gre_outbound(ctx, p, cfg, bytes) : gre_inbound(ctx, p, bytes));
}

#endif
