/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Open addressing, shared by the BPF hooks and the daemon.
 *
 * Every session index is an ARRAY of slots (the ESP SA tables, the PPTP
 * and L2TP outbound indexes, the ICMP quote indexes). A key may sit in any
 * slot of its *run*: a fixed number of consecutive slots from its home
 * slot, wrapping at the table's end. Slots are claimed with a 64-bit
 * compare-and-swap from 0 and emptied in place, so a look-up never stops
 * at an empty slot: it reads the whole run. The number of probes is a
 * per-table constant the caller passes as a literal bound, which keeps the
 * verifier's loop bound constant.
 *
 * A run is computed by one constructor per table (vpnpt_abi.h, next to its
 * slot layout); both sides call the same constructor, so the hooks and the
 * daemon always walk the same slots. The hash constants are part of the
 * ABI: a change moves every key of a live table.
 *
 * Plain C, static inline: valid in BPF programs and in C++.
 */
#ifndef VPNPT_PROBE_H
#define VPNPT_PROBE_H

#include <linux/types.h>

struct vpnpt_run {
	__u32 home; /* the first slot */
	__u32 mask; /* slots - 1: the table size is a power of two */
	__u32 tag;  /* the key's tag in tables whose slots carry one (never 0: 0 is an empty slot); 0 otherwise */
};

/* Slot @i (0 .. probes - 1) of run @r. */
static inline __u32 vpnpt_run_slot(const struct vpnpt_run *r, __u32 i)
{
	return (r->home + i) & r->mask;
}

/* A 32-bit mix of three words (the murmur3 finaliser's constants). */
static inline __u32 vpnpt_mix3(__u32 a, __u32 b, __u32 c)
{
	__u32 h = a * 0x9E3779B1u ^ b;
	h = (h ^ (h >> 15)) * 0x85EBCA77u;
	h ^= c;
	h = (h ^ (h >> 13)) * 0xC2B2AE3Du;
	return h ^ (h >> 16);
}

/* The murmur3 finaliser: every input bit moves every output bit. */
static inline __u32 vpnpt_fmix32(__u32 h)
{
	h = (h ^ (h >> 16)) * 0x85EBCA6Bu;
	h = (h ^ (h >> 13)) * 0xC2B2AE35u;
	return h ^ (h >> 16);
}

/* A run of @slots (a power of two) from hash @h, with @tag. */
static inline struct vpnpt_run vpnpt_run_of(__u32 h, __u32 slots, __u32 tag)
{
	struct vpnpt_run r = {h & (slots - 1), slots - 1, tag};

	return r;
}

#endif
