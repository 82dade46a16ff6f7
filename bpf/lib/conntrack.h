/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kernel's own NAT mapping of a UDP flow, read by the hooks through the
 * conntrack kfuncs: when the kernel's masquerade owns the port allocation
 * (IKE and NAT-T on 4500), vpnpt forwards the flow's ESP itself with exactly
 * the addresses and ports conntrack chose, so there is one NAT table, not
 * two that could disagree. Field offsets of struct nf_conn are relocated
 * against the running kernel's BTF (CO-RE), so no kernel headers are needed.
 */
#ifndef VPNPT_BPF_CONNTRACK_H
#define VPNPT_BPF_CONNTRACK_H

#include "bpf/lib/common.h"

#ifndef BPF_F_CURRENT_NETNS
#define BPF_F_CURRENT_NETNS (-1)
#endif

struct bpf_ct_opts___vp {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u16 ct_zone_id;
	__u8 ct_zone_dir;
	__u8 reserved[3];
};

/*
 * opts__sz: 12, the layout every kernel with these kfuncs takes (netns_id,
 * error, l4proto, dir, 2 reserved bytes). 6.1 takes nothing else
 * (NF_BPF_CT_OPTS_SZ was 12, every lookup with 16 failed with -EINVAL);
 * later kernels also take 16, whose last 4 bytes name a ct zone, which
 * vpnpt does not use. The struct keeps 16 bytes of room.
 */
#define VPNPT_CT_OPTS_SZ 12

struct nf_conn;
/* bpf_xdp_ct_lookup or bpf_skb_ct_lookup, named by the hook's ctx shim. */
extern struct nf_conn *ctx_ct_lookup_kfunc(struct __ctx_buff *ctx, struct bpf_sock_tuple *bpf_tuple, __u32 tuple__sz,
                                           struct bpf_ct_opts___vp *opts, __u32 opts__sz) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;
extern int bpf_ct_change_timeout(struct nf_conn *nfct, __u32 timeout) __ksym;

/* Just the fields read here; names match the kernel's, layout comes from its BTF. */
union nf_inet_addr___vp {
	__be32 ip;
} __attribute__((preserve_access_index));

struct nf_conntrack_tuple___vp {
	struct {
		union nf_inet_addr___vp u3;
		union {
			__be16 all;
		} u;
	} src;
	struct {
		union nf_inet_addr___vp u3;
		union {
			__be16 all;
		} u;
	} dst;
} __attribute__((preserve_access_index));

struct nf_conntrack_tuple_hash___vp {
	struct nf_conntrack_tuple___vp tuple;
} __attribute__((preserve_access_index));

/* Defined (not just declared): libbpf matches kfunc prototypes by kind, and a
 * forward declaration does not match the kernel's struct. */
struct nf_conn {
	unsigned long status;
	struct nf_conntrack_tuple_hash___vp tuplehash[2];
} __attribute__((preserve_access_index));

#define IPS_SEEN_REPLY___vp (1UL << 1)     /* IPS_SEEN_REPLY_BIT: the peer answered */
#define IPS_FIXED_TIMEOUT___vp (1UL << 10) /* IPS_FIXED_TIMEOUT_BIT: an admin-set timeout, left alone */

enum { CT_DIR_ORIGINAL = 0, CT_DIR_REPLY = 1 };

/* Where a UDP flow's packets go after the kernel's NAT, in one direction. */
struct udp_nat {
	__be32 saddr, daddr;
	__be16 sport, dport;
};

/*
 * Looks up the conntrack entry of the UDP packet (saddr:sport -> daddr:dport)
 * and returns, in *out, the addresses and ports the same packet carries on
 * the other side of the kernel's NAT. Returns 0, or -1 if conntrack has no
 * entry (the kernel has not seen the flow yet: it must go the slow way).
 *
 * The packets vpnpt forwards never reach conntrack, which would otherwise
 * let the mapping of a busy flow expire (the UDP stream timeout, 120 s by
 * default) whenever its peers send no keepalive or IKE in that time (they
 * send them only when idle). So every lookup also renews the timeout of an
 * entry whose peer has answered to @timeout_ms (the stream timeout), as the
 * kernel does for each packet of a flow that keeps going.
 */
static __always_inline int ct_udp_translation(struct __ctx_buff *ctx, __be32 saddr, __be32 daddr, __be16 sport,
                                              __be16 dport, __u32 timeout_ms, struct udp_nat *out)
{
	struct bpf_sock_tuple t = {};
	struct bpf_ct_opts___vp opts = {.netns_id = BPF_F_CURRENT_NETNS, .l4proto = IPPROTO_UDP};

	t.ipv4.saddr = saddr;
	t.ipv4.daddr = daddr;
	t.ipv4.sport = sport;
	t.ipv4.dport = dport;
	struct nf_conn *ct = ctx_ct_lookup_kfunc(ctx, &t, sizeof(t.ipv4), &opts, VPNPT_CT_OPTS_SZ);
	if (!ct)
		return -1;
	struct nf_conn *c = ct;
	/* The packet matched one direction; on the far side it looks like the other
	 * direction's tuple, reversed. */
	__u32 other = opts.dir == CT_DIR_ORIGINAL ? CT_DIR_REPLY : CT_DIR_ORIGINAL;
	if (other == CT_DIR_REPLY) {
		out->saddr = c->tuplehash[CT_DIR_REPLY].tuple.dst.u3.ip;
		out->daddr = c->tuplehash[CT_DIR_REPLY].tuple.src.u3.ip;
		out->sport = c->tuplehash[CT_DIR_REPLY].tuple.dst.u.all;
		out->dport = c->tuplehash[CT_DIR_REPLY].tuple.src.u.all;
	} else {
		out->saddr = c->tuplehash[CT_DIR_ORIGINAL].tuple.dst.u3.ip;
		out->daddr = c->tuplehash[CT_DIR_ORIGINAL].tuple.src.u3.ip;
		out->sport = c->tuplehash[CT_DIR_ORIGINAL].tuple.dst.u.all;
		out->dport = c->tuplehash[CT_DIR_ORIGINAL].tuple.src.u.all;
	}
	unsigned long status = c->status;
	if (timeout_ms && (status & IPS_SEEN_REPLY___vp) && !(status & IPS_FIXED_TIMEOUT___vp))
		bpf_ct_change_timeout(ct, timeout_ms);
	bpf_ct_release(ct);
	return 0;
}

/* Per-CPU scratch for ct_tracked(): its 56-byte query stays off the stack (it runs in a subprogram
 * whose frame adds to the main one's). Defined here because the opts type is. */
struct ct_query {
	struct bpf_sock_tuple t;
	struct bpf_ct_opts___vp opts;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ct_query);
} vpnpt_scratch_ct SEC(".maps");

/*
 * Looks up the TCP or UDP packet (saddr:sport -> daddr:dport) with its query
 * in per-CPU scratch. Returns the entry, which the caller must release
 * (bpf_ct_release), or NULL; *dir says which of its directions matched.
 */
static __always_inline struct nf_conn *ct_lookup_scratch(struct __ctx_buff *ctx, __u8 proto, __be32 saddr, __be32 daddr,
                                                         __be16 sport, __be16 dport, __u8 *dir)
{
	__u32 zero = 0;
	struct ct_query *q = bpf_map_lookup_elem(&vpnpt_scratch_ct, &zero);

	if (!q)
		return NULL;
	__builtin_memset(q, 0, sizeof(*q));
	q->opts.netns_id = BPF_F_CURRENT_NETNS;
	q->opts.l4proto = proto;
	q->t.ipv4.saddr = saddr;
	q->t.ipv4.daddr = daddr;
	q->t.ipv4.sport = sport;
	q->t.ipv4.dport = dport;
	struct nf_conn *ct = ctx_ct_lookup_kfunc(ctx, &q->t, sizeof(q->t.ipv4), &q->opts, VPNPT_CT_OPTS_SZ);
	*dir = q->opts.dir;
	return ct;
}

/* 1 if conntrack tracks the TCP or UDP packet (saddr:sport -> daddr:dport) in either direction. */
static __always_inline int ct_tracked(struct __ctx_buff *ctx, __u8 proto, __be32 saddr, __be32 daddr, __be16 sport,
                                      __be16 dport)
{
	__u8 dir;
	struct nf_conn *ct = ct_lookup_scratch(ctx, proto, saddr, daddr, sport, dport, &dir);

	if (!ct)
		return 0;
	bpf_ct_release(ct);
	return 1;
}

/* A connection's original direction as conntrack recorded it (before NAT). */
struct ct_origin {
	__be32 saddr, daddr;
	__be16 sport, dport;
};

/*
 * If conntrack tracks the TCP packet (saddr:sport -> daddr:dport) as the
 * *reply* direction of a connection, returns 0 and that connection's
 * original direction in *out (for a masqueraded LAN connection: the LAN
 * host's address and port, and the server). -1 otherwise: nobody behind
 * this router opened such a connection.
 */
static __always_inline int ct_tcp_origin(struct __ctx_buff *ctx, __be32 saddr, __be32 daddr, __be16 sport, __be16 dport,
                                         struct ct_origin *out)
{
	__u8 dir;
	struct nf_conn *ct = ct_lookup_scratch(ctx, IPPROTO_TCP, saddr, daddr, sport, dport, &dir);

	if (!ct)
		return -1;
	int ret = -1;
	if (dir == CT_DIR_REPLY) {
		out->saddr = ct->tuplehash[CT_DIR_ORIGINAL].tuple.src.u3.ip;
		out->daddr = ct->tuplehash[CT_DIR_ORIGINAL].tuple.dst.u3.ip;
		out->sport = ct->tuplehash[CT_DIR_ORIGINAL].tuple.src.u.all;
		out->dport = ct->tuplehash[CT_DIR_ORIGINAL].tuple.dst.u.all;
		ret = 0;
	}
	bpf_ct_release(ct);
	return ret;
}

#endif
