/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-LAN-host shares of the session tables (vpnpt_host_quota_v1): a host
 * that opens sessions without end (a flood, a looping client) is refused at
 * its own cap and never fills the tables the other hosts need. Counted up
 * here where an entry is created, corrected by the daemon every second
 * (quota_adjust.bpf.c).
 */
#ifndef VPNPT_BPF_QUOTA_H
#define VPNPT_BPF_QUOTA_H

#include "bpf/lib/load_config.h"
#include "bpf/lib/maps.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "quota_take: a count's shift in its word");

enum quota_kind {
	QUOTA_CALLS,
	QUOTA_STREAMS,
	QUOTA_SAS,
};

/* The initial count, from .rodata: no stack bytes in the PPTP walk's frames, which are at the limit. */
static const struct vpnpt_host_quota quota_zero = {};

static __always_inline struct vpnpt_host_quota *quota_of(__be32 host)
{
	struct vpnpt_host_quota *q = bpf_map_lookup_elem(&vpnpt_host_quota_v1, &host);

	if (!q) {
		bpf_map_update_elem(&vpnpt_host_quota_v1, &host, &quota_zero, BPF_NOEXIST);
		q = bpf_map_lookup_elem(&vpnpt_host_quota_v1, &host);
	}
	return q;
}

/* Compare-and-swap attempts before a contended take is refused. */
#define QUOTA_TAKE_TRIES 4

/*
 * Takes one entry of @kind for @host: 1 if within its cap, 0 if refused.
 * A compare-and-swap on the 64-bit word holding the count (v1 has no 32-bit
 * one): two CPUs taking the host's last entry at once cannot both succeed.
 * Only a host flooding new sessions from several CPUs at once loses all
 * tries; its refusal is counted like any other over its share.
 */
static __always_inline int quota_take(__be32 host, enum quota_kind kind)
{
	struct vpnpt_host_quota *q = quota_of(host);

	if (!q)
		return 1; /* cannot count (LRU churn): the table caps still hold */
	__u64 *w = kind == QUOTA_SAS ? (__u64 *)&q->esp_sas : (__u64 *)&q->pptp_calls;
	__u32 shift = kind == QUOTA_STREAMS ? 32 : 0;
	__s32 cap = kind == QUOTA_CALLS     ? cfg_host_max_calls
	            : kind == QUOTA_STREAMS ? cfg_host_max_streams
	                                    : cfg_host_max_sas;
#pragma unroll
	for (int i = 0; i < QUOTA_TAKE_TRIES; i++) {
		__u64 old = *w;

		if ((__s32)(old >> shift) >= cap)
			return 0;
		if (__sync_val_compare_and_swap(w, old, old + (1ULL << shift)) == old)
			return 1;
	}
	return 0;
}

/* Gives back an entry taken for a creation that then failed. */
static __always_inline void quota_give(__be32 host, enum quota_kind kind)
{
	struct vpnpt_host_quota *q = bpf_map_lookup_elem(&vpnpt_host_quota_v1, &host);

	if (!q)
		return;
	__u32 *n = kind == QUOTA_CALLS ? &q->pptp_calls : kind == QUOTA_STREAMS ? &q->pptp_streams : &q->esp_sas;
	__sync_fetch_and_add(n, -1); /* below zero only until the daemon's next correction */
}

#endif
