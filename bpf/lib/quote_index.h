/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ICMP quote indexes (abi/vpnpt_abi.h): which one session carries a
 * (server, server's id) pair, for relaying ICMP errors that quote a packet
 * by that pair. Shared by PPTP (the WAN hook writes) and L2TP (the daemon
 * writes); the relay reads both the same way.
 */
#ifndef VPNPT_BPF_QUOTE_INDEX_H
#define VPNPT_BPF_QUOTE_INDEX_H

#include "bpf/lib/maps.h"

enum quote_answer {
	QUOTE_NONE = 0,   /* no session carries the pair (or none the index knows of) */
	QUOTE_ONE = 1,    /* one session: *owner */
	QUOTE_SHARED = 2, /* more than one: relaying would be a guess */
};

/*
 * The session carrying (@server, @id). Every slot of the run is read: two
 * writers claiming empty slots at once can index one pair twice, and a pair
 * found twice under different owners is shared.
 */
static __always_inline enum quote_answer quote_find(void *index, __be32 server, __be16 id, __u16 *owner)
{
	struct vpnpt_run r = vpnpt_quote_run(server, id);
	enum quote_answer a = QUOTE_NONE;

	for (__u32 i = 0; i < VPNPT_QUOTE_PROBES; i++) {
		__u32 idx = vpnpt_run_slot(&r, i);
		__u64 *w = bpf_map_lookup_elem(index, &idx);
		if (!w)
			continue;
		struct vpnpt_quote_slot s = vpnpt_quote_slot_of(*(volatile __u64 *)w); /* one read: no torn slot */
		if (s.tag != r.tag)
			continue;
		if (s.shared || (a == QUOTE_ONE && *owner != s.owner))
			return QUOTE_SHARED;
		*owner = s.owner;
		a = QUOTE_ONE;
	}
	return a;
}

#endif
