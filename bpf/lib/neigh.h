/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A next hop for a LAN host the kernel has no neighbour entry for (XDP).
 *
 * bpf_fib_lookup() answers NO_NEIGH when the router lost its neighbour
 * entry for a LAN host: garbage collection on a LAN with more than
 * gc_thresh1 neighbours (vpnpt's own forwarding never refreshes an entry),
 * a flush, a link change. XDP cannot hold a packet while the kernel
 * resolves the address, and a translated packet handed to the stack meets
 * the forward chain as a new flow from the WAN, which a stateful firewall
 * drops: the call dies although the host is right there.
 *
 * So the LAN hook remembers the port and MACs each host's own outbound VPN
 * frames last came with (vpnpt_lan_l2_v1), and for a minute after the
 * host last sent, the WAN hook sends the host's translated packets there
 * (reason neigh_learned) while the daemon has the kernel resolve the
 * neighbour again (VPNPT_EV_NO_NEIGH). The TC hook needs none of it:
 * bpf_redirect_neigh() queues the packet and resolves the neighbour itself.
 *
 * A LAN host that forges another's address can steer that host's inbound
 * VPN packets to itself while the kernel has no entry, as ARP spoofing can.
 */
#ifndef VPNPT_BPF_NEIGH_H
#define VPNPT_BPF_NEIGH_H

#include "bpf/lib/clock.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/stats.h"

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	int d = 0;

#pragma unroll
	for (int i = 0; i < 6; i++)
		d |= a[i] ^ b[i];
	return !d;
}

/* Remembers where @host's frame came from (outbound VPN packets at XDP; @eth checked by the parser). */
static __noinline void lan_l2_learn(struct __ctx_buff *ctx, const struct ethhdr *eth, __be32 host)
{
	struct vpnpt_lan_l2 *l = bpf_map_lookup_elem(&vpnpt_lan_l2_v1, &host);
	__u64 now = vpnpt_now_ns();

	if (l && l->ifindex == ctx->ingress_ifindex && now - l->seen_ns < VPNPT_LAN_L2_REFRESH_NS &&
	    mac_eq(l->host_mac, eth->h_source) && mac_eq(l->router_mac, eth->h_dest))
		return; /* written in the last second and unchanged: no write per packet */
	struct vpnpt_lan_l2 n = {.ifindex = ctx->ingress_ifindex, .seen_ns = now};
	__builtin_memcpy(n.host_mac, eth->h_source, 6);
	__builtin_memcpy(n.router_mac, eth->h_dest, 6);
	bpf_map_update_elem(&vpnpt_lan_l2_v1, &host, &n, BPF_ANY);
}

/*
 * The FIB found @fib's egress but no neighbour for its next hop: asks the
 * daemon to have it resolved, and fills @fib's MACs from what @host's own
 * frames showed if they came in on that egress recently. 1 if it did.
 */
static __noinline int lan_l2_next_hop(struct __ctx_buff *ctx, struct bpf_fib_lookup *fib, __be32 host)
{
	report_limited(ctx, REPORT_WHAT(VPNPT_EV_NO_NEIGH, VPNPT_REASON_FIB_NO_NEIGH, 0), fib->ipv4_dst, host,
	               REPORT_KEY(fib->ipv4_dst, fib->ifindex));

	struct vpnpt_lan_l2 *l = bpf_map_lookup_elem(&vpnpt_lan_l2_v1, &host);

	if (!l || l->ifindex != fib->ifindex || vpnpt_now_ns() - l->seen_ns > VPNPT_LAN_L2_FRESH_NS)
		return 0;
	__builtin_memcpy(fib->dmac, l->host_mac, 6);
	__builtin_memcpy(fib->smac, l->router_mac, 6);
	return 1;
}

#endif
