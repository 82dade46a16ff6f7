/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The XDP side of the context shim: what the protocol code asks of "the
 * packet" (verdicts, bytes beyond the parsed headers, conntrack, checksums,
 * forwarding), answered for struct xdp_md. ctx/skb.h answers the same for
 * TC. A hook file includes exactly one of the two before any other vpnpt
 * header, so each protocol's logic exists once and is compiled for both
 * hooks (the pattern of Cilium's bpf/include/bpf/ctx/{xdp,skb}.h).
 */
#ifndef VPNPT_BPF_CTX_H
#define VPNPT_BPF_CTX_H

#include "bpf/lib/common.h"

#define VPNPT_HOOK_XDP 1
#define __ctx_buff xdp_md

#define CTX_PASS XDP_PASS
#define CTX_DROP XDP_DROP
#define CTX_REDIRECT XDP_REDIRECT

#define ctx_ct_lookup_kfunc bpf_xdp_ct_lookup

/* The frame's length (the linear part; vpnpt does not load XDP multi-buffer programs). */
static __always_inline __u32 ctx_len(struct xdp_md *ctx)
{
	return ctx->data_end - ctx->data;
}

static __always_inline int ctx_load_bytes(struct xdp_md *ctx, __u32 off, void *to, __u32 len)
{
	return bpf_xdp_load_bytes(ctx, off, to, len);
}

static __always_inline int ctx_store_byte(struct xdp_md *ctx, __u32 off, __u8 v)
{
	return bpf_xdp_store_bytes(ctx, off, &v, 1);
}

/* XDP frames are linear: nothing to pull. */
static __always_inline void ctx_pull_headers(struct xdp_md *ctx, __u32 l3_off)
{
	(void)ctx;
	(void)l3_off;
}

/*
 * Sends the frame to the FIB's egress device. XDP sends it as it is, so the
 * caller writes the FIB's MAC addresses first (CTX_WRITES_L2); the device
 * must be able to transmit XDP frames (the loader only attaches XDP where
 * every egress can, docs/dataplane.md).
 */
#define CTX_WRITES_L2 1
#define CTX_RESOLVES_NEIGH 0
static __always_inline int ctx_redirect(const struct bpf_fib_lookup *plan)
{
	return bpf_redirect(plan->ifindex, 0);
}

/* The hook sees every frame on its own: no packet arrives with the tag taken out of the frame. */
static __always_inline int ctx_vlan_outside(struct xdp_md *ctx)
{
	(void)ctx;
	return 0;
}

#endif
