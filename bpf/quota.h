/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-LAN-host shares of the session tables (vpnpt_host_quota_v1): a host
 * that opens sessions without end (a flood, a looping client) is refused at
 * its own cap and never fills the tables the other hosts need. Counted up
 * here where an entry is created, recounted by the daemon every second.
 */
#ifndef VPNPT_BPF_QUOTA_H
#define VPNPT_BPF_QUOTA_H

#include "load_config.h"
#include "maps.h"

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

/* Takes one entry of @kind for @host: 1 if within its cap, 0 if refused. */
static __always_inline int quota_take(__be32 host, enum quota_kind kind)
{
	struct vpnpt_host_quota *q = quota_of(host);

	if (!q)
		return 1; /* cannot count (LRU churn): the table caps still hold */
	__u32 *n = kind == QUOTA_CALLS ? &q->pptp_calls : kind == QUOTA_STREAMS ? &q->pptp_streams : &q->esp_sas;
	__u32 cap = kind == QUOTA_CALLS ? cfg_host_max_calls : kind == QUOTA_STREAMS ? cfg_host_max_streams
										       : cfg_host_max_sas;
	if (*n >= cap)
		return 0;
	__sync_fetch_and_add(n, 1);
	return 1;
}

/* Gives back an entry taken for a creation that then failed. */
static __always_inline void quota_give(__be32 host, enum quota_kind kind)
{
	struct vpnpt_host_quota *q = bpf_map_lookup_elem(&vpnpt_host_quota_v1, &host);

	if (!q)
		return;
	__u32 *n = kind == QUOTA_CALLS ? &q->pptp_calls : kind == QUOTA_STREAMS ? &q->pptp_streams : &q->esp_sas;
	if (*n)
		__sync_fetch_and_add(n, -1);
}

#endif
