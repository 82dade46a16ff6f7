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

static __always_inline void count_xlat(__u32 dir, __u32 cls, __u64 bytes)
{
	count_slot(&vpnpt_xlat_v1, vpnpt_counter_index(dir, cls), bytes);
}

static __always_inline void count_reason(__u32 dir, enum vpnpt_reason reason, __u64 bytes)
{
	if (reason && reason < VPNPT_REASON_MAX)
		count_slot(&vpnpt_reasons_v2, vpnpt_reason_index(dir, reason), bytes);
}

/* Reports to the diagnose ring. Best effort: a full ring loses the event, never the packet. */
static __always_inline void emit_event(__u32 kind, __u32 reason, __u32 dir, __u32 ifindex, __be32 saddr,
				       __be32 daddr, __be16 sport, __be16 dport, __u32 id)
{
	if (!cfg_events)
		return;
	struct vpnpt_event *ev = bpf_ringbuf_reserve(&vpnpt_events_v2, sizeof(*ev), 0);
	if (!ev)
		return;
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ktime_ns = bpf_ktime_get_ns();
	ev->kind = kind;
	ev->reason = reason;
	ev->ifindex = ifindex;
	ev->dir = dir;
	ev->saddr = saddr;
	ev->daddr = daddr;
	ev->sport = sport;
	ev->dport = dport;
	ev->id = id;
	bpf_ringbuf_submit(ev, 0);
}

/* Counts a malformed packet under its reason and reports it to the diagnose ring. */
static __always_inline void count_malformed(__u32 dir, enum vpnpt_reason reason, __u64 bytes,
					    __u32 ifindex, const struct pkt *p)
{
	count_class(dir, VPNPT_CLASS_MALFORMED, bytes);
	count_reason(dir, reason, bytes);
	emit_event(VPNPT_EV_MALFORMED, reason, dir, ifindex, p->ip ? p->ip->saddr : 0, p->ip ? p->ip->daddr : 0, 0, 0,
		   p->ip ? p->ip_proto : 0);
}

#endif
