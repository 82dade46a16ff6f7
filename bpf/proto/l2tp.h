/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * L2TPv2 over UDP (RFC 2661) translated at XDP. Every LAN client keeps its
 * UDP source port on the public side (1701 for nearly all), so inbound
 * packets of several clients of one server arrive on the same tuple and are
 * told apart by the Tunnel ID in the L2TP header, which always names the
 * receiver's tunnel. Tunnels are set up by the daemon: a client's tunnel
 * request (SCCRQ, Tunnel ID 0) is handed over through a ring buffer; the
 * daemon assigns a Tunnel ID that is unique on the gateway (rewriting the
 * Assigned Tunnel ID AVP on a collision), records the tunnel in the slot
 * of that id, and sends the request on. From then on both directions run
 * here:
 *   outbound: source address -> public IP (port kept), for known clients,
 *             found through the open-addressed index vpnpt_l2tp_out_v2;
 *   inbound:  the slot the Tunnel ID names, checked against server and
 *             public port, the Tunnel ID rewritten back to the client's own
 *             when it was translated; per-port NAT tunnels by public port.
 * Session IDs are per tunnel and need no translation. Control messages
 * with AVPs are also copied to the daemon for its bookkeeping (StopCCN
 * ends a tunnel). Anything unknown goes to the kernel untouched.
 */
#ifndef VPNPT_BPF_L2TP_H
#define VPNPT_BPF_L2TP_H

#include "bpf/lib/clock.h"
#include "bpf/lib/frag.h"
#include "bpf/lib/fwd.h"
#include "bpf/lib/l4csum.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/stats.h"

#define L2TP_F_TYPE 0x8000   /* T: control message */
#define L2TP_F_LENGTH 0x4000 /* L: length field present */
#define L2TP_F_SEQ 0x0800    /* S: Ns/Nr present */
#define L2TP_F_OFFSET 0x0200 /* O: offset size present */
#define L2TP_VERSION_MASK 0x000f
#define L2TP_CTRL_HDR_LEN 12 /* flags, length, tunnel, session, Ns, Nr */

/* The parts of an L2TP header the translation needs. */
struct l2tp_hdr_info {
	__be16 *tunnel_id; /* in the packet */
	__u16 flags;
	__u16 length; /* L2TP length field, 0 if absent */
};

/*
 * Parses the L2TPv2 header after @uh; @l4_len is the datagram's length after
 * the IPv4 header (Ethernet padding is not part of it). Returns 0, or -1 if
 * it is not L2TPv2 (or cut off).
 */
static __always_inline int l2tp_parse(struct udphdr *uh, void *end, __u32 l4_len, struct l2tp_hdr_info *h)
{
	__u8 *l2 = (void *)(uh + 1);

	if ((void *)(l2 + 6) > end || l4_len < sizeof(*uh) + 6) /* flags, [length], tunnel */
		return -1;
	h->flags = (__u16)l2[0] << 8 | l2[1];
	if ((h->flags & L2TP_VERSION_MASK) != 2)
		return -1;
	if (h->flags & L2TP_F_TYPE) {
		/* Control messages always carry length and sequence numbers, never an offset. */
		if ((h->flags & (L2TP_F_LENGTH | L2TP_F_SEQ | L2TP_F_OFFSET)) != (L2TP_F_LENGTH | L2TP_F_SEQ))
			return -1;
		if ((void *)(l2 + L2TP_CTRL_HDR_LEN) > end || l4_len < sizeof(*uh) + L2TP_CTRL_HDR_LEN)
			return -1;
	}
	if (h->flags & L2TP_F_LENGTH) {
		h->length = (__u16)l2[2] << 8 | l2[3];
		h->tunnel_id = (__be16 *)(l2 + 4);
	} else {
		h->length = 0;
		h->tunnel_id = (__be16 *)(l2 + 2);
	}
	return 0;
}

static __always_inline int l2tp_is_control(const struct l2tp_hdr_info *h)
{
	return (h->flags & L2TP_F_TYPE) != 0;
}

/* A control message that carries AVPs (not a bare acknowledgement, ZLB). */
static __always_inline int l2tp_has_avps(const struct l2tp_hdr_info *h)
{
	return l2tp_is_control(h) && h->length > L2TP_CTRL_HDR_LEN;
}

/* The daemon's heartbeat is fresh: tunnel setup can be handed to it. */
static __always_inline int daemon_alive(void)
{
	__u32 zero = 0;
	struct vpnpt_daemon *d = bpf_map_lookup_elem(&vpnpt_daemon_v1, &zero);

	return d && vpnpt_daemon_serving(d->heartbeat_ns, bpf_ktime_get_ns());
}

/*
 * Hands the frame (up to VPNPT_PUNT_FRAME_MAX bytes; SETUP needs it whole)
 * to the daemon. Returns 0, or -1 if it could not (ring full, too big). A
 * subprogram: the record is built in the ring, not on the shared stack.
 */
static __noinline int l2tp_punt(struct __ctx_buff *ctx, __u32 kind, __u32 dir, __u32 l3_off,
                                const struct bpf_fib_lookup *plan)
{
	__u32 len = ctx_len(ctx);

	if (len > VPNPT_PUNT_FRAME_MAX) {
		if (kind == VPNPT_PUNT_SETUP)
			return -1;
		len = VPNPT_PUNT_FRAME_MAX;
	}
	if (len < 1)
		return -1;
	struct vpnpt_l2tp_punt *rec = bpf_ringbuf_reserve(&vpnpt_l2tp_punt_v1, sizeof(*rec), 0);
	if (!rec)
		return -1;
	rec->ktime_ns = bpf_ktime_get_ns();
	rec->kind = kind;
	rec->in_ifindex = ctx->ingress_ifindex;
	rec->dir = dir;
	rec->pad = 0;
	rec->pad2 = 0;
	rec->l3_off = l3_off;
	rec->frame_len = len;
	if (plan) {
		rec->out_ifindex = plan->ifindex;
		__builtin_memcpy(rec->smac, plan->smac, 6);
		__builtin_memcpy(rec->dmac, plan->dmac, 6);
	} else {
		rec->out_ifindex = 0;
		__builtin_memset(rec->smac, 0, 6);
		__builtin_memset(rec->dmac, 0, 6);
	}
	/* Re-bound for the verifier, which loses the checks above across the reserve. */
	barrier_var(len);
	len &= 0x7ff;
	if (len > VPNPT_PUNT_FRAME_MAX || len < 1) {
		bpf_ringbuf_discard(rec, 0);
		return -1;
	}
	/* 6.1's verifier keeps 0 as len's lower bound past "len < 1": copy 1 + (len - 1), masked. */
	__u32 more = len - 1;
	barrier_var(more);
	more &= VPNPT_PUNT_FRAME_MAX - 1;
	if (ctx_load_bytes(ctx, 0, rec->frame, more + 1)) {
		bpf_ringbuf_discard(rec, 0);
		return -1;
	}
	bpf_ringbuf_submit(rec, 0);
	return 0;
}

/* Both directions: a datagram (or its first fragment) with an L2TPv2 header, or why not. */
static __always_inline enum vpnpt_reason l2tp_header(struct __ctx_buff *ctx, struct pkt *p, struct l2tp_hdr_info *h)
{
	if (!p->l4)
		return VPNPT_REASON_L2TP_FRAGMENT;
	if (l2tp_parse(p->l4, (void *)(long)ctx->data_end, p->l4_len, h))
		return VPNPT_REASON_L2TP_NOT_V2;
	return VPNPT_REASON_NONE;
}

/* The tunnel in slot @xid, whatever its state; NULL only for a bad index. */
static __always_inline struct vpnpt_l2tp_tunnel *l2tp_slot(__u32 xid)
{
	return bpf_map_lookup_elem(&vpnpt_l2tp_tunnels_v2, &xid);
}

/* Outbound: a live tunnel of the client source toward @server, through the index (usually its first slot). */
static __always_inline struct vpnpt_l2tp_tunnel *l2tp_out_tunnel(__be32 client, __be32 server, __be16 client_port)
{
	struct vpnpt_run r = vpnpt_l2tp_out_run(client, server, client_port);

	for (__u32 i = 0; i < VPNPT_L2TP_OUT_PROBES; i++) {
		__u32 idx = vpnpt_run_slot(&r, i);
		struct vpnpt_l2tp_out_slot *s = bpf_map_lookup_elem(&vpnpt_l2tp_out_v2, &idx);
		if (!s || s->tag != r.tag)
			continue;
		/* The tag is a hash: the slot it names must really be this source's. */
		struct vpnpt_l2tp_tunnel *t = l2tp_slot(s->xid);
		if (t && vpnpt_session_in_use(t->state) && t->client == client && t->server == server &&
		    t->client_port == client_port)
			return t;
	}
	return NULL;
}

/*
 * Inbound: the tunnel the server names with @tid on @public_port, else the
 * per-port NAT tunnel that owns @public_port. *by_id says which (only a
 * tunnel found by id has its Tunnel ID translated).
 */
static __always_inline struct vpnpt_l2tp_tunnel *l2tp_in_tunnel(__be32 server, __be16 public_port, __be16 tid,
                                                                int *by_id)
{
	struct vpnpt_l2tp_tunnel *t;

	*by_id = 0;
	if (tid) {
		t = l2tp_slot(bpf_ntohs(tid));
		if (t && vpnpt_session_in_use(t->state) && t->server == server && t->public_port == public_port &&
		    !(t->flags & VPNPT_L2TP_F_PORT_NAT)) {
			*by_id = 1;
			return t;
		}
	}
	__u32 port = (__u32)bpf_ntohs(public_port) - VPNPT_L2TP_PORT_NAT_FIRST;
	if (port >= VPNPT_L2TP_PORT_NAT_PORTS)
		return NULL;
	struct vpnpt_l2tp_port *owner = bpf_map_lookup_elem(&vpnpt_l2tp_ports_v2, &port);
	if (!owner || !owner->xid1)
		return NULL;
	t = l2tp_slot(owner->xid1 - 1);
	if (t && vpnpt_session_in_use(t->state) && t->server == server && t->public_port == public_port &&
	    (t->flags & VPNPT_L2TP_F_PORT_NAT))
		return t;
	return NULL;
}

/*
 * A Tunnel ID the kernel's NAT carries toward @server (abi/vpnpt_abi.h,
 * vpnpt_l2tp_kernel_v1): recorded, at most once a second per id.
 */
static __always_inline void l2tp_kernel_note(__be32 server, __be16 tid)
{
	struct vpnpt_l2tp_kernel_key k = {.server = server, .tunnel_id = tid};
	__u64 now = vpnpt_now_ns();
	__u64 *seen = bpf_map_lookup_elem(&vpnpt_l2tp_kernel_v1, &k);

	if (seen && *seen <= now && now - *seen < VPNPT_L2TP_KERNEL_REFRESH_NS)
		return;
	bpf_map_update_elem(&vpnpt_l2tp_kernel_v1, &k, &now, BPF_ANY);
}

#define L2TP_AVP_HIDDEN 0x4000
#define L2TP_AVP_LEN_MASK 0x03ff
#define L2TP_AVP_ASSIGNED_TUNNEL_ID 9
#define L2TP_AVPS_MAX 16 /* xl2tpd's SCCRQ names its tunnel in its 8th AVP */

/*
 * The visible Assigned Tunnel ID AVP of a control message whose AVPs lie at
 * [@off, @end) of the frame. Returns 0 and *tid (network order), or -1: not
 * among the first L2TP_AVPS_MAX AVPs, hidden, zero, or cut off.
 */
static __always_inline int l2tp_assigned_tid(struct __ctx_buff *ctx, __u32 off, __u32 end, __be16 *tid)
{
	for (__u32 i = 0; i < L2TP_AVPS_MAX; i++) {
		__u8 h[6];

		if (off > 0xffff || off + sizeof(h) > end || ctx_load_bytes(ctx, off, h, sizeof(h)))
			return -1;
		__u16 flags_len = (__u16)h[0] << 8 | h[1];
		__u16 len = flags_len & L2TP_AVP_LEN_MASK;
		if (len < sizeof(h))
			return -1;
		if (h[2] == 0 && h[3] == 0 && h[4] == 0 && h[5] == L2TP_AVP_ASSIGNED_TUNNEL_ID) {
			if ((flags_len & L2TP_AVP_HIDDEN) || len < sizeof(h) + 2 || off + sizeof(h) + 2 > end ||
			    ctx_load_bytes(ctx, off + sizeof(h), tid, 2))
				return -1;
			return *tid ? 0 : -1;
		}
		off += len;
	}
	return -1;
}

/*
 * A tunnel request (SCCRQ) the kernel's NAT is about to carry, with verdict
 * @packed: dropped (l2tp_id_in_use) if a live vpnpt tunnel toward @server
 * has its Tunnel ID, the server's packets for one would reach the other;
 * otherwise its id is noted for the daemon's allocator. A hidden id cannot
 * be read: such a request goes on as it is (docs/l2tp.md). A subprogram:
 * the AVP walk stays out of the translators' frame.
 */
static __noinline __u32 l2tp_request_to_kernel(struct __ctx_buff *ctx, __u32 avps, __u32 end, __be32 server,
                                               __u32 packed)
{
	struct xlat_result r = xlat_unpack(packed);
	__be16 tid = 0;

	if (l2tp_assigned_tid(ctx, avps, end, &tid))
		return packed;
	struct vpnpt_l2tp_tunnel *t = l2tp_slot(bpf_ntohs(tid));
	if (t && vpnpt_session_in_use(t->state) && t->server == server && !(t->flags & VPNPT_L2TP_F_PORT_NAT)) {
		r.action = CTX_DROP;
		r.reason = VPNPT_REASON_L2TP_ID_IN_USE;
		return xlat_pack(r);
	}
	l2tp_kernel_note(server, tid);
	return packed;
}

/* LAN -> WAN. */
static __always_inline struct xlat_result l2tp_outbound(struct __ctx_buff *ctx, struct pkt *p,
                                                        const struct vpnpt_config *cfg, __u64 bytes)
{
	struct xlat_result r = {CTX_PASS, VPNPT_REASON_NONE};
	struct udphdr *uh = p->l4;
	struct iphdr *ip = p->ip;
	struct l2tp_hdr_info h;

	r.reason = l2tp_header(ctx, p, &h);
	if (r.reason)
		return r;
	const struct bpf_fib_lookup *plan;
	if (l2tp_is_control(&h) && *h.tunnel_id == 0) {
		/* A tunnel request: the daemon assigns the tunnel and sends it on, whole. */
		if (p->fragmented)
			r.reason = VPNPT_REASON_L2TP_FRAGMENT;
		else if (!daemon_alive())
			r.reason = VPNPT_REASON_L2TP_NO_DAEMON;
		else if (!(r.reason = plan_outbound(ctx, p, cfg, &plan)) &&
		         l2tp_punt(ctx, VPNPT_PUNT_SETUP, VPNPT_DIR_OUTBOUND, p->l3_off, plan))
			r.reason = VPNPT_REASON_L2TP_NO_DAEMON;
		if (!r.reason) {
			r.action = CTX_DROP;
			r.reason = VPNPT_REASON_L2TP_TO_DAEMON;
			return r;
		}
		/* The kernel's NAT gets it. */
		return xlat_unpack(l2tp_request_to_kernel(ctx, p->l4_off + sizeof(*uh) + L2TP_CTRL_HDR_LEN,
		                                          p->l3_off + p->ip_len, ip->daddr, xlat_pack(r)));
	}
	struct vpnpt_l2tp_tunnel *t = l2tp_out_tunnel(ip->saddr, ip->daddr, uh->source);
	if (!t) {
		r.reason = VPNPT_REASON_L2TP_NO_TUNNEL;
		return r;
	}
	r.reason = plan_outbound(ctx, p, cfg, &plan);
	if (r.reason)
		return r;
	if (frag_refused(&r, p, VPNPT_DIR_OUTBOUND, VPNPT_CLASS_L2TP, cfg->public_ip))
		return r;
	if (l2tp_has_avps(&h) && !p->fragmented)
		l2tp_punt(ctx, VPNPT_PUNT_COPY, VPNPT_DIR_OUTBOUND, p->l3_off,
		          0); /* best effort, whole messages only */

	/* Counted on the tunnel the index names: a source's tunnels to one server share one port. */
	t->last_out_ns = vpnpt_now_ns();
	t->lan_ifindex = ctx->ingress_ifindex;
	__sync_fetch_and_add(&t->packets_out, 1);
	__sync_fetch_and_add(&t->bytes_out, bytes);

	l4_csum_be32(ctx, p, &uh->check, L4_UDP, ip->saddr, cfg->public_ip, L4_CSUM_PSEUDO);
	__be16 public_port = t->public_port;
	if (public_port != uh->source) {
		l4_csum_be16(ctx, p, &uh->check, L4_UDP, uh->source, public_port, L4_CSUM_DATA);
		uh->source = public_port;
	}
	r.action = snat_redirect(p, cfg->public_ip, plan);
	return r;
}

/* WAN -> LAN: the tunnel by its Tunnel ID, then by public port alone (per-port NAT). */
static __always_inline struct xlat_result l2tp_inbound(struct __ctx_buff *ctx, struct pkt *p, __u64 bytes)
{
	struct xlat_result r = {CTX_PASS, VPNPT_REASON_NONE};
	struct udphdr *uh = p->l4;
	struct iphdr *ip = p->ip;
	struct l2tp_hdr_info h;

	r.reason = l2tp_header(ctx, p, &h);
	if (r.reason)
		return r;
	__be16 tid = *h.tunnel_id;
	int by_id;
	struct vpnpt_l2tp_tunnel *t = l2tp_in_tunnel(ip->saddr, uh->dest, tid, &by_id);
	if (!t) {
		report_limited(ctx, REPORT_WHAT(VPNPT_EV_L2TP_UNKNOWN, VPNPT_REASON_L2TP_NO_TUNNEL, VPNPT_DIR_INBOUND),
		               ip->saddr, ip->daddr, REPORT_KEY(ip->saddr, bpf_ntohs(tid)));
		if (tid)
			l2tp_kernel_note(ip->saddr,
			                 tid); /* the kernel's tunnel, or none: the daemon keeps off the id */
		r.reason = VPNPT_REASON_L2TP_NO_TUNNEL;
		return r;
	}
	if (frag_refused(&r, p, VPNPT_DIR_INBOUND, VPNPT_CLASS_L2TP, t->client))
		return r;
	if (l2tp_has_avps(&h) && !p->fragmented)
		l2tp_punt(ctx, VPNPT_PUNT_COPY, VPNPT_DIR_INBOUND, p->l3_off, 0); /* as the server sent it */

	t->last_seen_ns = vpnpt_now_ns();
	t->server_port = uh->source;
	__sync_fetch_and_add(&t->packets_in, 1);
	__sync_fetch_and_add(&t->bytes_in, bytes);

	if (by_id && t->client_tunnel_id != tid) {
		l4_csum_be16(ctx, p, &uh->check, L4_UDP, tid, t->client_tunnel_id, L4_CSUM_DATA);
		*h.tunnel_id = t->client_tunnel_id;
	}
	if (t->client_port != uh->dest) {
		l4_csum_be16(ctx, p, &uh->check, L4_UDP, uh->dest, t->client_port, L4_CSUM_DATA);
		uh->dest = t->client_port;
	}
	l4_csum_be32(ctx, p, &uh->check, L4_UDP, ip->daddr, t->client, L4_CSUM_PSEUDO);
	return dnat_forward(ctx, p, t->client);
}

/* Each direction as a subprogram with a small frame of its own (see xlat_pack). */
static __noinline __u32 l2tp_outbound_step(struct __ctx_buff *ctx, struct pkt *p, const struct vpnpt_config *cfg,
                                           __u64 bytes)
{
	return xlat_pack(l2tp_outbound(ctx, p, cfg, bytes));
}

static __noinline __u32 l2tp_inbound_step(struct __ctx_buff *ctx, struct pkt *p, __u64 bytes)
{
	return xlat_pack(l2tp_inbound(ctx, p, bytes));
}

#endif
