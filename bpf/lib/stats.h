/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counters and malformed-packet events. No locks, no shared cache lines. */
#ifndef VPNPT_BPF_STATS_H
#define VPNPT_BPF_STATS_H

#include "bpf/lib/maps.h"
#include "bpf/lib/load_config.h"
#include "bpf/lib/parse.h"

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
		count_slot(&vpnpt_reasons_v11, vpnpt_reason_index(dir, reason), bytes);
}

/*
 * Reports an event: diagnostic kinds to their own ring, so that a flood of
 * them cannot take the room of the events the daemon acts on. Best effort:
 * a full ring loses the event, never the packet.
 */
static __always_inline void emit_event(__u32 kind, __u32 reason, __u32 dir, __u32 ifindex, __be32 saddr, __be32 daddr,
                                       __be16 sport, __be16 dport, __u32 id)
{
	if (!cfg_events)
		return;
	void *ring = vpnpt_event_is_diag(kind) ? (void *)&vpnpt_diag_events_v1 : (void *)&vpnpt_events_v2;
	struct vpnpt_event *ev = bpf_ringbuf_reserve(ring, sizeof(*ev), 0);
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

/* Packs the first report_limited() argument: BPF calls take at most five. */
#define REPORT_WHAT(kind, reason, dir) ((__u32)(kind) | (__u32)(reason) << 8 | (__u32)(dir) << 16)
#define REPORT_KEY(addr, id) ((__u64)(addr) << 32 | (__u32)(id))

/*
 * Reports (kind, addr, id) unless it was reported in the last 100 ms: floods
 * cannot flood the ring. A real BPF subprogram (not inlined): its locals stay
 * out of the main frame, which the PPTP walk's nested frames share the
 * 512-byte stack budget with.
 */
static __noinline void report_limited(struct __ctx_buff *ctx, __u32 what, __be32 saddr, __be32 daddr, __u64 key)
{
	if (!cfg_events)
		return;
	struct vpnpt_report_key k = {.kind = what & 0xff, .addr = (__be32)(key >> 32), .id = (__u32)key};
	__u64 now = bpf_ktime_get_ns();
	__u64 *last = bpf_map_lookup_elem(&vpnpt_report_limit_v1, &k);

	if (last && now - *last < VPNPT_REPORT_GAP_NS)
		return;
	bpf_map_update_elem(&vpnpt_report_limit_v1, &k, &now, BPF_ANY);
	emit_event(what & 0xff, (what >> 8) & 0xff, (what >> 16) & 0xff, ctx->ingress_ifindex, saddr, daddr, 0, 0,
	           (__u32)key);
}

/*
 * Counts a malformed packet under its reason, and reports it, at most once
 * per 100 ms per (source, IP protocol): every one is counted, a flood of
 * them is not reported one by one.
 */
static __always_inline void count_malformed(struct __ctx_buff *ctx, __u32 dir, enum vpnpt_reason reason, __u64 bytes,
                                            const struct pkt *p)
{
	count_class(dir, VPNPT_CLASS_MALFORMED, bytes);
	count_reason(dir, reason, bytes);
	__be32 saddr = p->ip ? p->ip->saddr : 0;
	report_limited(ctx, REPORT_WHAT(VPNPT_EV_MALFORMED, reason, dir), saddr, p->ip ? p->ip->daddr : 0,
	               REPORT_KEY(saddr, p->ip ? p->ip_proto : 0));
}

#endif
