/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IP passthrough: one LAN host gets the public address's unsolicited
 * traffic. Precedence for a packet to the public IP (docs/ip-passthrough.md):
 *   1. vpnpt's own sessions (PPTP calls, bound SPIs, L2TP tunnels, NAT-T);
 *   2. connections the kernel tracks (conntrack: the router's own and every
 *      LAN host's NATed connection) and the router's local ports;
 *   3. everything else goes to the passthrough host, ports unchanged, and
 *      the flow is remembered so the host's answers leave with the public IP.
 * Connections the host opens itself go through the kernel's NAT (which
 * keeps its ports when it can), so one conntrack table knows every port.
 * Fragments are not passed through (the kernel reassembles them).
 */
#ifndef VPNPT_BPF_PASSTHROUGH_H
#define VPNPT_BPF_PASSTHROUGH_H

#include "abi/wire.h"
#include "bpf/lib/clock.h"
#include "bpf/lib/conntrack.h"
#include "bpf/lib/fwd.h"
#include "bpf/lib/l4csum.h"
#include "bpf/lib/maps.h"

#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8

/* Did the protocol translators leave this packet to the kernel because no session claims it? */
static __always_inline int pt_unclaimed(const struct xlat_result *r)
{
	if (r->action != CTX_PASS)
		return 0;
	switch (r->reason) {
	case VPNPT_REASON_NONE:
	case VPNPT_REASON_GRE_NOT_PPTP:
	case VPNPT_REASON_GRE_NO_CALL:
	case VPNPT_REASON_NATT_NO_CT:
	case VPNPT_REASON_NATT_NOT_ESP:
	case VPNPT_REASON_L2TP_NO_TUNNEL:
	case VPNPT_REASON_L2TP_NOT_V2:
		return 1;
	default:
		return 0;
	}
}

/*
 * The flow key of a packet as seen on the WAN side: @peer is the far end,
 * @inbound tells which port is whose. ICMP echo uses its identifier as the
 * local port. Returns -1 for packets that are never passed through.
 */
static __always_inline int pt_flow_key(struct pkt *p, void *end, int inbound, struct vpnpt_pt_flow_key *k)
{
	struct iphdr *ip = p->ip;

	__builtin_memset(k, 0, sizeof(*k));
	k->peer = inbound ? ip->saddr : ip->daddr;
	k->proto = p->ip_proto;
	if (p->fragmented)
		return -1;
	switch (p->ip_proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP: {
		struct udphdr *uh = p->l4; /* ports sit at the same place in both */
		if (!uh || (void *)(uh + 1) > end)
			return -1;
		k->peer_port = inbound ? uh->source : uh->dest;
		k->local_port = inbound ? uh->dest : uh->source;
		return 0;
	}
	case IPPROTO_ICMP: {
		__u8 *icmp = (void *)ip + ip->ihl * 4;
		if ((void *)(icmp + 8) > end)
			return -1;
		/* Requests in, replies out; errors belong to the connection they report on (the kernel's). */
		if (icmp[0] != (inbound ? ICMP_ECHO_REQUEST : ICMP_ECHO_REPLY))
			return -1;
		k->local_port = *(__be16 *)(icmp + 4);
		return 0;
	}
	default:
		return 0;
	}
}

/* The L4 checksum follows an address change (TCP/UDP pseudo-header); ICMP, GRE, ESP have none over it. */
static __always_inline void pt_l4_csum(struct __ctx_buff *ctx, struct pkt *p, __be32 from, __be32 to)
{
	void *end = (void *)(long)ctx->data_end;

	/* Bounds re-checked: the verifier does not tie p->l4's checked length to p->ip_proto. */
	if (p->ip_proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;
		if (th && (void *)(th + 1) <= end)
			l4_csum_be32(ctx, p, &th->check, L4_TCP, from, to, L4_CSUM_PSEUDO);
	} else if (p->ip_proto == IPPROTO_UDP) {
		struct udphdr *uh = p->l4;
		if (uh && (void *)(uh + 1) <= end)
			l4_csum_be32(ctx, p, &uh->check, L4_UDP, from, to, L4_CSUM_PSEUDO);
	}
}

/* Flows that imply a portless companion: IKE brings ESP, PPTP control brings GRE. */
static __always_inline void pt_remember_companion(const struct vpnpt_pt_flow_key *k, const struct vpnpt_pt_flow *v)
{
	struct vpnpt_pt_flow_key c = {.peer = k->peer};

	if (k->proto == IPPROTO_UDP && (k->local_port == bpf_htons(PORT_IKE) || k->local_port == bpf_htons(PORT_NATT)))
		c.proto = IPPROTO_ESP;
	else if (k->proto == IPPROTO_TCP && k->local_port == bpf_htons(PORT_PPTP))
		c.proto = IPPROTO_GRE;
	else
		return;
	bpf_map_update_elem(&vpnpt_pt_flows_v1, &c, v, BPF_NOEXIST);
}

/* WAN -> the passthrough host, for an inbound packet no session claimed. */
static __always_inline struct xlat_result pt_inbound(struct __ctx_buff *ctx, struct pkt *p,
                                                     const struct vpnpt_config *cfg, struct xlat_result r)
{
	void *end = (void *)(long)ctx->data_end;
	struct vpnpt_pt_flow_key k;

	if (pt_flow_key(p, end, 1, &k))
		return r;
	if (k.proto == IPPROTO_TCP || k.proto == IPPROTO_UDP) {
		struct vpnpt_local_port_key lk = {.port = k.local_port, .proto = k.proto};
		if (bpf_map_lookup_elem(&vpnpt_local_ports_v1, &lk)) {
			r.reason = VPNPT_REASON_PT_LOCAL_PORT;
			return r;
		}
		if (ct_tracked(ctx, k.proto, p->ip->saddr, p->ip->daddr, k.peer_port, k.local_port)) {
			r.reason = VPNPT_REASON_PT_KERNEL_CONN;
			return r;
		}
	}
	__u64 now = vpnpt_now_ns();
	struct vpnpt_pt_flow *f = bpf_map_lookup_elem(&vpnpt_pt_flows_v1, &k);
	if (f) {
		f->last_seen_ns = now;
		f->packets_in++;
	} else {
		struct vpnpt_pt_flow fresh = {.created_ns = now, .last_seen_ns = now, .packets_in = 1};
		bpf_map_update_elem(&vpnpt_pt_flows_v1, &k, &fresh, BPF_ANY);
		pt_remember_companion(&k, &fresh);
	}
	pt_l4_csum(ctx, p, p->ip->daddr, cfg->passthrough_host);
	return dnat_forward(ctx, p, cfg->passthrough_host);
}

/* Inbound ESP with an SPI bound to no host: the passthrough host's, if its peer opened IKE to it. */
static __always_inline struct xlat_result pt_inbound_esp(struct __ctx_buff *ctx, struct pkt *p,
                                                         const struct vpnpt_config *cfg, struct xlat_result r)
{
	struct vpnpt_pt_flow_key k = {.peer = p->ip->saddr, .proto = IPPROTO_ESP};
	struct vpnpt_pt_flow *f = bpf_map_lookup_elem(&vpnpt_pt_flows_v1, &k);

	if (!f || p->fragmented)
		return r;
	f->last_seen_ns = vpnpt_now_ns();
	f->packets_in++;
	return dnat_forward(ctx, p, cfg->passthrough_host);
}

/* The passthrough host -> WAN: answers of flows the WAN opened leave with the public IP, ports kept. */
static __always_inline struct xlat_result pt_outbound(struct __ctx_buff *ctx, struct pkt *p,
                                                      const struct vpnpt_config *cfg, struct xlat_result r)
{
	void *end = (void *)(long)ctx->data_end;
	struct vpnpt_pt_flow_key k;

	if (pt_flow_key(p, end, 0, &k))
		return r;
	struct vpnpt_pt_flow *f = bpf_map_lookup_elem(&vpnpt_pt_flows_v1, &k);
	if (!f)
		return r; /* a connection the host opens: the kernel's NAT */
	const struct bpf_fib_lookup *plan;
	enum vpnpt_reason why = plan_outbound(ctx, p, cfg, &plan);
	if (why) {
		r.reason = why;
		return r;
	}
	f->last_seen_ns = vpnpt_now_ns();
	f->packets_out++;
	pt_l4_csum(ctx, p, p->ip->saddr, cfg->public_ip);
	r.reason = VPNPT_REASON_NONE;
	r.action = snat_redirect(p, cfg->public_ip, plan);
	return r;
}

/* Applies IP passthrough to what the translators left, if it is on. */
static __always_inline struct xlat_result passthrough(struct __ctx_buff *ctx, struct pkt *p,
                                                      const struct vpnpt_config *cfg, __u32 dir, struct xlat_result r)
{
	__be32 host = cfg->passthrough_host;

	if (!host)
		return r;
	if (dir == VPNPT_DIR_INBOUND) {
		if (r.action == CTX_DROP && r.reason == VPNPT_REASON_ESP_UNBOUND)
			return pt_inbound_esp(ctx, p, cfg, r);
		return pt_unclaimed(&r) ? pt_inbound(ctx, p, cfg, r) : r;
	}
	if (p->ip->saddr != host || !pt_unclaimed(&r))
		return r;
	return pt_outbound(ctx, p, cfg, r);
}

/* The same as a subprogram (see xlat_pack); the caller checks passthrough_host first. */
static __noinline __u32 passthrough_step(struct __ctx_buff *ctx, struct pkt *p, const struct vpnpt_config *cfg,
                                         __u32 dir, __u32 packed)
{
	return xlat_pack(passthrough(ctx, p, cfg, dir, xlat_unpack(packed)));
}

#endif
