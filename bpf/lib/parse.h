/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Header parsing with a bounds-checked cursor. Each step checks its header
 * against data_end before touching it and reports a vpnpt_reason on failure;
 * callers never read a field the verifier (or a hostile packet) could make
 * out of bounds.
 */
#ifndef VPNPT_BPF_PARSE_H
#define VPNPT_BPF_PARSE_H

#include "bpf/lib/common.h"

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

struct cursor {
	void *pos;
	void *end;
};

/* Everything the classifier and later translators need about one packet. */
struct pkt {
	struct ethhdr *eth; /* NULL on a device without a link-layer header (L3 WAN) */
	struct iphdr *ip;   /* NULL unless IPv4 */
	void *l4;           /* NULL for non-first fragments and non-IPv4 */
	__u32 l3_off;       /* offset of the IPv4 header from the frame start */
	__u16 ip_len;       /* IPv4 total length */
	__u16 l4_len;       /* bytes of the datagram after the IPv4 header (Ethernet padding excluded) */
	__u8 ip_proto;
	__u8 frag;       /* 1 if this is a non-first fragment (no L4 header) */
	__u8 fragmented; /* 1 if this is any fragment (MF set or offset != 0) */
	__u8 vlans;      /* VLAN tags in front of the IPv4 header */
	__u32 l4_off;    /* offset of the L4 header from the frame start (valid with l4) */
};

static __always_inline int cursor_take(struct cursor *c, __u32 len, void **out)
{
	if (c->pos + len > c->end)
		return -1;
	*out = c->pos;
	c->pos += len;
	return 0;
}

/*
 * Parses Ethernet, up to @vlan_depth VLAN tags (802.1Q/802.1ad) and IPv4;
 * with @no_l2 (a device without link-layer header, such as PPPoE's ppp0)
 * the frame starts with the IP header. Returns VPNPT_REASON_NONE and fills
 * @p (p->ip == NULL for non-IPv4), or the reason the packet is malformed.
 */
static __always_inline enum vpnpt_reason parse_l2_l3(struct cursor *c, struct pkt *p, __u32 vlan_depth, __u32 no_l2)
{
	void *start = c->pos;
	struct ethhdr *eth;
	__be16 proto;

	if (no_l2) {
		__u8 *v = c->pos;

		if ((void *)(v + 1) > c->end || (*v >> 4) != 4)
			return VPNPT_REASON_NONE; /* not IPv4: p->ip stays NULL */
		proto = bpf_htons(ETH_P_IP);
		goto l3;
	}
	if (cursor_take(c, sizeof(*eth), (void **)&eth))
		return VPNPT_REASON_ETH_TRUNC;
	p->eth = eth;
	proto = eth->h_proto;

#pragma unroll
	for (__u32 i = 0; i < VPNPT_VLAN_DEPTH_MAX + 1; i++) {
		struct vlan_hdr *vh;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (i >= vlan_depth)
			return VPNPT_REASON_VLAN_TOO_DEEP;
		if (cursor_take(c, sizeof(*vh), (void **)&vh))
			return VPNPT_REASON_VLAN_TRUNC;
		proto = vh->encap_proto;
		p->vlans++;
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return VPNPT_REASON_VLAN_TOO_DEEP;

	if (proto != bpf_htons(ETH_P_IP))
		return VPNPT_REASON_NONE; /* not ours: p->ip stays NULL */
l3:;
	struct iphdr *ip;
	if (cursor_take(c, sizeof(*ip), (void **)&ip))
		return VPNPT_REASON_IP_TRUNC;
	/* Set before the checks so a malformed-packet event can name the
	 * addresses; callers only use p->ip on VPNPT_REASON_NONE. */
	p->ip = ip;
	if (ip->version != 4)
		return VPNPT_REASON_IP_VERSION;

	__u32 hlen = ip->ihl * 4;
	if (hlen < sizeof(*ip))
		return VPNPT_REASON_IP_IHL;
	/* Skip options: bounds-check the whole header, then step past it. */
	if ((void *)ip + hlen > c->end)
		return VPNPT_REASON_IP_IHL;
	c->pos = (void *)ip + hlen;

	__u32 tot = bpf_ntohs(ip->tot_len);

	bound16(tot);
	/* Frames may carry Ethernet padding after the datagram, never less than it. */
	if (tot < hlen || (void *)ip + tot > c->end)
		return VPNPT_REASON_IP_TOTLEN;

	p->l3_off = (__u32)((void *)ip - start);
	p->ip_len = tot;
	p->l4_len = tot - hlen;
	p->ip_proto = ip->protocol;
	p->frag = (ip->frag_off & bpf_htons(0x1fff)) != 0;
	p->fragmented = (ip->frag_off & bpf_htons(0x3fff)) != 0; /* MF or offset */
	return VPNPT_REASON_NONE;
}

/* Bounds-checks an L4 header of @len bytes at the cursor (first fragments only). */
static __always_inline enum vpnpt_reason parse_l4(struct cursor *c, struct pkt *p, __u32 len)
{
	void *l4;

	if (p->frag)
		return VPNPT_REASON_NONE; /* no L4 header in later fragments */
	/* Inside the datagram, not just the frame: Ethernet padding is not a header. */
	if (len > p->l4_len || cursor_take(c, len, &l4))
		return VPNPT_REASON_L4_TRUNC;
	p->l4 = l4;
	p->l4_off = p->l3_off + (p->ip_len - p->l4_len);
	return VPNPT_REASON_NONE;
}

#endif
