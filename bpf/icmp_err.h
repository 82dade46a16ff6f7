/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP errors about packets of vpnpt's sessions, relayed to their LAN host.
 *
 * A router between the gateway and a server that cannot forward one of
 * vpnpt's packets (too big with DF set, TTL exceeded, unreachable) sends an
 * ICMP error to the public IP, quoting the packet's IPv4 header and at least
 * the 8 bytes after it (RFC 792; Linux quotes up to 576 bytes). vpnpt's
 * sessions bypass conntrack, so the kernel cannot relate the error to a LAN
 * host and drops it: "fragmentation needed" never reaches the host, and
 * Path MTU discovery black-holes its large packets.
 *
 * The WAN hook finds the session by the quoted header, as the packet left
 * the gateway, with the key the outbound path used, and relays the error to
 * the session's host like netfilter does for the flows it tracks:
 *   - the outer destination and the quoted source become the host's address;
 *   - each IPv4 header checksum is updated in place. The ICMP checksum covers
 *     the quoted header, whose sum (its own checksum included) does not
 *     change, so it stays right; so does a TC skb's whole-packet checksum;
 *   - the FIB forwards it as it forwards the session's traffic.
 * Sessions found: raw ESP, by (server, SPI) in the outbound SA table (the
 * quote's first 4 bytes after the IPv4 header). An error quoting ESP of no
 * known SA is passed untouched and counted (icmp_no_session). GRE and L2TP
 * quotes are passed to the kernel as before (docs/dataplane.md).
 */
#ifndef VPNPT_BPF_ICMP_ERR_H
#define VPNPT_BPF_ICMP_ERR_H

#include "classify.h"
#include "esp.h"
#include "fwd.h"

#define ICMP_DEST_UNREACH 3
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12
#define ICMP_ERR_HDR 8   /* type, code, checksum, 4 bytes (unused, next-hop MTU or pointer) */
#define ICMP_QUOTE_MIN 8 /* bytes after the quoted IPv4 header an error must carry (RFC 792) */

static __always_inline int icmp_is_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETERPROB;
}

/* WAN -> LAN: an ICMP error to the public IP; relayed if it quotes a packet of a session. */
static __always_inline struct xlat_result icmp_error_inbound(struct __ctx_buff *ctx, struct pkt *p,
							     const struct vpnpt_config *cfg)
{
	struct xlat_result r = {CTX_PASS, VPNPT_REASON_NONE};
	void *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = p->ip;

	if (p->fragmented)
		return r; /* errors are small; a fragmented one is the kernel's to reassemble */
	__u32 ihl = ip->ihl * 4;
	__u8 *icmp = (void *)ip + ihl;
	if ((void *)(icmp + ICMP_ERR_HDR) > end || !icmp_is_error(icmp[0]))
		return r;
	struct iphdr *in = (void *)(icmp + ICMP_ERR_HDR);
	if ((void *)(in + 1) > end || in->version != 4 || in->ihl < 5 || in->saddr != cfg->public_ip ||
	    in->protocol != IPPROTO_ESP)
		return r; /* not about a packet vpnpt sent for a session it relays errors of */
	__u32 in_ihl = in->ihl * 4;
	__u8 *quote = (void *)in + in_ihl;
	if ((void *)(quote + ICMP_QUOTE_MIN) > end || ihl + ICMP_ERR_HDR + in_ihl + ICMP_QUOTE_MIN > p->ip_len) {
		r.reason = VPNPT_REASON_L4_TRUNC; /* malformed: untouched, the kernel's checks decide */
		return r;
	}
	if (switched_off(cfg, VPNPT_SW_IPSEC))
		return r; /* the kernel carries the sessions then, and their errors */
	struct vpnpt_esp_sa *sa = esp_find(&vpnpt_esp_out_v2, in->daddr, *(__be32 *)quote);
	if (!sa) {
		r.reason = VPNPT_REASON_ICMP_NO_SESSION;
		return r;
	}
	__be32 host = sa->host;
	csum_replace_be32(&in->check, in->saddr, host);
	in->saddr = host;
	r = dnat_forward(ctx, p, host);
	if (!r.reason)
		r.reason = VPNPT_REASON_ICMP_RELAYED;
	return r;
}

/* As a subprogram: its frame stays out of the main one (see xlat_pack). */
static __noinline __u32 icmp_error_step(struct __ctx_buff *ctx, struct pkt *p, const struct vpnpt_config *cfg)
{
	return xlat_pack(icmp_error_inbound(ctx, p, cfg));
}

#endif
