/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The TC (clsact ingress, direct action) side of the context shim; see
 * ctx/xdp.h. Two things differ in substance from XDP:
 *  - Packet pointers: the helpers that may move skb data (pull, store,
 *    L4 checksum replace) invalidate every packet pointer the protocol code
 *    holds. So the TC hook pulls what it parses before parsing, stores go
 *    through freshly loaded data pointers, and the L4 checksum changes are
 *    collected in struct pkt and applied once, after the translation
 *    (l4csum.h).
 *  - Checksum state: an skb may carry a partial (offloaded) or a complete
 *    (receive-side) checksum, which only the kernel's own
 *    bpf_l4_csum_replace() keeps right; XDP frames have neither.
 */
#ifndef VPNPT_BPF_CTX_H
#define VPNPT_BPF_CTX_H

#include "bpf/lib/common.h"
#include "abi/wire.h"
#include <linux/pkt_cls.h>

#define VPNPT_HOOK_TC 1
#define __ctx_buff __sk_buff

/* Not TC_ACT_OK: other filters on the device still see what vpnpt leaves alone. */
#define CTX_PASS TC_ACT_UNSPEC
#define CTX_DROP TC_ACT_SHOT
#define CTX_REDIRECT TC_ACT_REDIRECT

#define ctx_ct_lookup_kfunc bpf_skb_ct_lookup

static __always_inline __u32 ctx_len(struct __sk_buff *ctx)
{
	return ctx->len;
}

static __always_inline int ctx_load_bytes(struct __sk_buff *ctx, __u32 off, void *to, __u32 len)
{
	return bpf_skb_load_bytes(ctx, off, to, len);
}

/*
 * Writes through the linear data (ctx_pull_headers made the segment linear),
 * so no packet pointer is invalidated, as bpf_skb_store_bytes() would.
 */
static __always_inline int ctx_store_byte(struct __sk_buff *ctx, __u32 off, __u8 v)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;

	if (off >= 0xffff)
		return -1; /* the verifier tracks packet ranges below 64 KiB only */
	__u8 *q = data + off;
	if (q + 1 > end)
		return -1;
	*q = v;
	return 0;
}

/* Enough linear data for every header vpnpt parses: Ethernet, 2 tags, IPv4 with options, and TCP,
 * or an ICMP error's header, the quoted IPv4 header with options and its 8 bytes (158). */
#define VPNPT_TC_HEADER_PULL 158

/*
 * A PPTP control segment (IPv4, TCP port 1723 either side) whose IP header
 * starts at @l3_off, read without packet pointers: its Call IDs are patched
 * in place, anywhere in the payload.
 */
static __always_inline int ctx_is_pptp_ctrl(struct __sk_buff *ctx, __u32 l3_off)
{
	struct iphdr ip;
	__be16 ports[2];

	if (bpf_skb_load_bytes(ctx, l3_off, &ip, sizeof(ip)) || ip.version != 4 || ip.protocol != IPPROTO_TCP ||
	    (ip.frag_off & bpf_htons(0x1fff)))
		return 0;
	if (bpf_skb_load_bytes(ctx, l3_off + ip.ihl * 4, ports, sizeof(ports)))
		return 0;
	return ports[0] == bpf_htons(PORT_PPTP) || ports[1] == bpf_htons(PORT_PPTP);
}

/*
 * Makes what the pipeline reads and writes directly accessible, before it
 * takes any packet pointer (the pull invalidates them): the headers, and
 * the whole segment for PPTP control. Most skbs are linear already and
 * cost one comparison; GRO aggregates and paged data are pulled.
 */
static __always_inline void ctx_pull_headers(struct __sk_buff *ctx, __u32 l3_off)
{
	__u32 linear = ctx->data_end - ctx->data;

	if (linear >= ctx->len)
		return;
	__u32 want = ctx->len < VPNPT_TC_HEADER_PULL ? ctx->len : VPNPT_TC_HEADER_PULL;
	if (ctx_is_pptp_ctrl(ctx, l3_off))
		want = ctx->len;
	if (linear < want)
		bpf_skb_pull_data(ctx, want);
}

/*
 * Sends the skb to the FIB's egress device through the kernel's neighbour
 * layer (bpf_redirect_neigh, 5.10): it builds the link-layer header for
 * any device (Ethernet, a bridge, a VLAN device, an L3 device without
 * one), resolves a next hop not yet in the neighbour table instead of
 * failing, and bypasses the netfilter forward path as XDP does.
 */
#define CTX_WRITES_L2 0
#define CTX_RESOLVES_NEIGH 1
static __always_inline int ctx_redirect(const struct bpf_fib_lookup *plan)
{
	struct bpf_redir_neigh nh = {.nh_family = AF_INET, .ipv4_nh = plan->ipv4_dst};

	return bpf_redirect_neigh(plan->ifindex, &nh, sizeof(nh), 0);
}

/*
 * An skb from a device without link-layer header (an L3 WAN) gets an
 * Ethernet header before it is redirected to an Ethernet device: the
 * neighbour layer replaces it, but drops a packet that has none. Last
 * thing before the verdict: it invalidates packet pointers. Returns 0 or
 * the helper's error.
 */
static __always_inline int ctx_push_l2(struct __sk_buff *ctx)
{
	if (bpf_skb_change_head(ctx, sizeof(struct ethhdr), 0))
		return -1;
	struct ethhdr *eth = (void *)(long)ctx->data;
	if ((void *)(eth + 1) > (void *)(long)ctx->data_end)
		return -1;
	__builtin_memset(eth, 0, sizeof(*eth));
	eth->h_proto = bpf_htons(ETH_P_IP);
	return 0;
}

/* The NIC or the stack took the VLAN tag out of the frame: the packet belongs to the VLAN device. */
static __always_inline int ctx_vlan_outside(struct __sk_buff *ctx)
{
	return ctx->vlan_present;
}

#endif
