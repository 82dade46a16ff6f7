/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counters and malformed-packet events. No locks, no shared cache lines. */
#ifndef VPNPT_BPF_STATS_H
#define VPNPT_BPF_STATS_H

#include "maps.h"
#include "load_config.h"

static __always_inline void count_slot(void *map, __u32 idx, __u64 bytes)
{
	struct vpnpt_counter *c = bpf_map_lookup_elem(map, &idx);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline void count_class(__u32 dir, __u32 cls, __u64 bytes)
{
	count_slot(&vpnpt_counters_v1, vpnpt_counter_index(dir, cls), bytes);
}

/* Counts a malformed packet under its reason and reports it to the diagnose ring. */
static __always_inline void count_malformed(__u32 dir, enum vpnpt_reason reason, __u64 bytes,
					    __u32 ifindex, const struct pkt *p)
{
	count_class(dir, VPNPT_CLASS_MALFORMED, bytes);
	count_slot(&vpnpt_reasons_v1, vpnpt_reason_index(dir, reason), bytes);

	if (!cfg_events)
		return;
	/* Best effort: a full ring loses the event, never the packet. */
	struct vpnpt_event *ev = bpf_ringbuf_reserve(&vpnpt_events_v1, sizeof(*ev), 0);
	if (!ev)
		return;
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ktime_ns = bpf_ktime_get_ns();
	ev->kind = VPNPT_EV_MALFORMED;
	ev->reason = reason;
	ev->ifindex = ifindex;
	ev->dir = dir;
	ev->cls = VPNPT_CLASS_MALFORMED;
	if (p->ip) {
		ev->ip_proto = p->ip_proto;
		ev->saddr = p->ip->saddr;
		ev->daddr = p->ip->daddr;
	}
	bpf_ringbuf_submit(ev, 0);
}

#endif
