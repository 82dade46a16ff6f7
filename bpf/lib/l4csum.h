/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * L4 checksums that follow a translation, for both hooks.
 *
 * XDP frames carry complete checksums, so a change is applied to the TCP or
 * UDP checksum field at once (RFC 1624, csum.h). A TC skb may instead carry
 * a partial checksum (a sender's offload: the field holds only the
 * pseudo-header sum, completed on transmit) or a receive-side checksum of
 * the whole packet (CHECKSUM_COMPLETE); only the kernel's own
 * bpf_l4_csum_replace() and bpf_csum_update() update those right. Those
 * helpers may move the packet, which invalidates every packet pointer the
 * translators hold, so at TC the changes are collected in struct pkt and
 * applied once, after the translation (l4_csum_finish).
 *
 * The IPv4 header checksum needs none of this: it is always updated in
 * place, which leaves the sum over the header, and so a whole-packet
 * checksum, unchanged.
 */
#ifndef VPNPT_BPF_L4CSUM_H
#define VPNPT_BPF_L4CSUM_H

#include "bpf/lib/csum.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/parse.h"

/*
 * The changes collected at TC (per CPU, one packet at a time): ones'
 * complement sums of (~old + new) over host-order 16-bit words, kept
 * folded. In a map, not in struct pkt: values the verifier tracks in its
 * state would multiply the states it explores (it more than doubled).
 *   data:   words the L4 checksum covers (ports, tunnel ids, payload);
 *   pseudo: words of its IPv4 pseudo-header (addresses);
 *   raw:    words no checksum covers (the GRE key), which only a
 *           receive-side checksum of the whole packet sees.
 */
struct pkt_csum {
	__u32 data;
	__u32 pseudo;
	__u32 raw;
};

enum l4_csum_kind {
	L4_CSUM_DATA,   /* covered by the L4 checksum */
	L4_CSUM_PSEUDO, /* an address of the L4 pseudo-header */
	L4_CSUM_RAW,    /* covered by no checksum (the GRE key) */
};

#ifdef VPNPT_HOOK_TC
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pkt_csum);
} vpnpt_scratch_csum SEC(".maps");

/*
 * Adds a folded change of @kind to the packet's collection. A global
 * function, verified once on its own: inlined, the branch on its map
 * lookup splits every state the verifier explores in two.
 */
__noinline int vpnpt_tc_csum_add(__u32 diff, __u32 kind)
{
	__u32 zero = 0;
	struct pkt_csum *c = bpf_map_lookup_elem(&vpnpt_scratch_csum, &zero);

	if (!c)
		return 0;
	if (kind == L4_CSUM_DATA)
		c->data = csum_fold(c->data + diff);
	else if (kind == L4_CSUM_PSEUDO)
		c->pseudo = csum_fold(c->pseudo + diff);
	else
		c->raw = csum_fold(c->raw + diff);
	return 0;
}
#endif

/* The protocol whose checksum field a change goes to (UDP: 0 means none, and stays so). */
enum l4_csum_proto {
	L4_TCP,
	L4_UDP,
};

/*
 * Adds the sum of changes @diff (sum of ~old + new, host-order words) of
 * @kind to the checksum at @check (a field the caller has bounds-checked;
 * unused for L4_CSUM_RAW, and at TC, where the change is collected).
 */
static __always_inline void l4_csum_add(struct __ctx_buff *ctx, struct pkt *p, __sum16 *check, enum l4_csum_proto proto,
                                        __u32 diff, enum l4_csum_kind kind)
{
	(void)ctx;
#ifdef VPNPT_HOOK_TC
	(void)p;
	(void)check;
	(void)proto;
	vpnpt_tc_csum_add(csum_fold(diff), kind);
#else
	(void)p;
	if (kind == L4_CSUM_RAW)
		return;
	if (proto == L4_UDP && !*check)
		return; /* UDP without checksum stays without */
	__u32 s = (__u16)~bpf_ntohs(*check);
	*check = bpf_htons((__u16)~csum_fold(s + csum_fold(diff)));
	if (proto == L4_UDP && !*check)
		*check = 0xffff; /* a computed 0 is sent as all ones (RFC 768) */
#endif
}

static __always_inline __u32 csum_diff_word(__u16 from, __u16 to)
{
	return (__u16)~from + (__u32)to;
}

static __always_inline __u32 csum_diff_be32(__be32 from, __be32 to)
{
	__u32 f = bpf_ntohl(from), t = bpf_ntohl(to);

	return csum_diff_word((__u16)(f >> 16), (__u16)(t >> 16)) + csum_diff_word((__u16)f, (__u16)t);
}

/* A 4-byte value (an address) changed. */
static __always_inline void l4_csum_be32(struct __ctx_buff *ctx, struct pkt *p, __sum16 *check,
                                         enum l4_csum_proto proto, __be32 from, __be32 to, enum l4_csum_kind kind)
{
	l4_csum_add(ctx, p, check, proto, csum_diff_be32(from, to), kind);
}

/* A 2-byte value at an even offset of the segment changed. */
static __always_inline void l4_csum_be16(struct __ctx_buff *ctx, struct pkt *p, __sum16 *check,
                                         enum l4_csum_proto proto, __be16 from, __be16 to, enum l4_csum_kind kind)
{
	l4_csum_add(ctx, p, check, proto, csum_diff_word(bpf_ntohs(from), bpf_ntohs(to)), kind);
}

#ifdef VPNPT_HOOK_TC
/* A folded sum of host-order words as the kernel's __wsum (sums of words in memory order). */
static __always_inline __u64 csum_to_wsum(__u32 sum)
{
	return (__u64)bpf_htons((__u16)csum_fold(sum));
}

/*
 * Applies what the translation collected and clears the collection for the
 * next packet (every path through a translator ends here), then, with @push_l2, gives a
 * packet from an L3 WAN its link-layer header (ctx_push_l2). The last
 * thing before the verdict: both invalidate every packet pointer. A UDP
 * checksum of 0 (none) stays 0 (BPF_F_MARK_MANGLED_0). Returns 0, or -1 if
 * the header could not be pushed.
 *
 * A global function: the verifier checks it once on its own, instead of
 * once for each of the many states the translations arrive in (which more
 * than doubled the TC programs' verification).
 */
__noinline int vpnpt_tc_finish(struct __sk_buff *ctx, __u32 l4_off, __u32 proto, __u32 push_l2)
{
	__u32 zero = 0;
	struct pkt_csum *c = bpf_map_lookup_elem(&vpnpt_scratch_csum, &zero);
	__u32 off = 0;
	__u64 flags = 0;

	if (!c)
		return 0;
	if (proto == IPPROTO_TCP) {
		off = l4_off + 16;
	} else if (proto == IPPROTO_UDP) {
		off = l4_off + 6;
		flags = BPF_F_MARK_MANGLED_0;
	}
	__u32 data = c->data, pseudo = c->pseudo, raw = c->raw;

	__builtin_memset(c, 0, sizeof(*c)); /* the next packet on this CPU starts from nothing */
	if (off && data)
		bpf_l4_csum_replace(ctx, off, 0, csum_to_wsum(data), flags);
	if (off && pseudo)
		bpf_l4_csum_replace(ctx, off, 0, csum_to_wsum(pseudo), flags | BPF_F_PSEUDO_HDR);
	if (raw)
		bpf_csum_update(ctx, (__u32)csum_to_wsum(raw));
	if (push_l2 && ctx_push_l2(ctx))
		return -1;
	return 0;
}
#endif

#endif
