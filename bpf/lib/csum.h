/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Incremental Internet checksum updates (RFC 1624: HC' = ~(~HC + ~m + m')).
 * All arithmetic is on host-order 16-bit words of the network-order data,
 * so a byte at an even offset from the checksummed area's start is the
 * high half of its word and a byte at an odd offset the low half. That
 * lets a rewrite of any byte, aligned or not, keep the checksum exact.
 */
#ifndef VPNPT_BPF_CSUM_H
#define VPNPT_BPF_CSUM_H

#include "bpf/lib/common.h"

static __always_inline __u16 csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* Replaces host-order word @from by @to in the sum protected by *@check (network order). */
static __always_inline void csum_replace_word(__sum16 *check, __u16 from, __u16 to)
{
	__u32 s = (__u16)~bpf_ntohs(*check);

	s += (__u16)~from;
	s += to;
	*check = bpf_htons((__u16)~csum_fold(s));
}

/* A 4-byte field (an address), network order values. */
static __always_inline void csum_replace_be32(__sum16 *check, __be32 from, __be32 to)
{
	__u32 f = bpf_ntohl(from), t = bpf_ntohl(to);

	csum_replace_word(check, (__u16)(f >> 16), (__u16)(t >> 16));
	csum_replace_word(check, (__u16)f, (__u16)t);
}

/* A 2-byte field at an even offset, network order values. */
static __always_inline void csum_replace_be16(__sum16 *check, __be16 from, __be16 to)
{
	csum_replace_word(check, bpf_ntohs(from), bpf_ntohs(to));
}

/* One byte at offset @off (from the checksummed area's start). */
static __always_inline void csum_replace_byte(__sum16 *check, __u32 off, __u8 from, __u8 to)
{
	if (off & 1)
		csum_replace_word(check, from, to);
	else
		csum_replace_word(check, (__u16)from << 8, (__u16)to << 8);
}

#endif
