/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The data plane's clock for session stamps (created, last seen, closed) and
 * the next-hop cache's age.
 *
 * Why not bpf_ktime_get_ns() per packet: measured on this VM it costs 31 ns
 * a call, bpf_ktime_get_coarse_ns() 15 ns, bpf_jiffies64() 1.2 ns (the
 * verifier inlines it). A translated packet read the clock twice (session
 * stamp, cache age): about 46 ns of a ~700 ns pipeline, the largest single
 * cost of vpnpt over a bare redirect. Session times only feed idle timeouts
 * counted in seconds, so each CPU keeps the coarse clock it read at the
 * first packet of the current jiffy and reuses it until jiffies change: one
 * coarse read per CPU per tick, an inlined jiffies read per packet.
 *
 * The value is CLOCK_MONOTONIC in ns (userspace compares it with
 * clock_gettime), at most two ticks behind (8 ms at HZ=250). Another CPU's
 * stamp may be up to a tick ahead of this CPU's value: comparisons between
 * stamps must saturate (the daemon's do), and times that must be exact
 * (event timestamps, the daemon-heartbeat check) still use bpf_ktime_get_ns().
 * Bench builds with -DVPNPT_CLOCK_CACHE=0 read bpf_ktime_get_ns() every time
 * (tools/bench, "vpnpt-fineclock").
 */
#ifndef VPNPT_BPF_CLOCK_H
#define VPNPT_BPF_CLOCK_H

#include "bpf/lib/maps.h"

#ifndef VPNPT_CLOCK_CACHE
#define VPNPT_CLOCK_CACHE 1
#endif

static __always_inline __u64 vpnpt_now_ns(void)
{
#if VPNPT_CLOCK_CACHE
	__u32 zero = 0;
	struct vpnpt_clock *c = bpf_map_lookup_elem(&vpnpt_clock, &zero);
	__u64 j = bpf_jiffies64();

	if (!c)
		return bpf_ktime_get_coarse_ns();
	if (c->jiffies != j) {
		c->ns = bpf_ktime_get_coarse_ns();
		c->jiffies = j;
	}
	return c->ns;
#else
	return bpf_ktime_get_ns();
#endif
}

#endif
