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
 * The quote names its session by the key the outbound path used:
 *   - raw ESP: (server, SPI), the outbound SA table;
 *   - PPTP GRE: (server, the server's Call ID), the quote index (abi/
 *     vpnpt_abi.h) of the call carrying that pair;
 *   - L2TP: a per-port NAT tunnel by its public port; any other by (server,
 *     the server's Tunnel ID in the quoted L2TP header), the quote index.
 *     The quoted UDP source port goes back to the host's own (per-port NAT
 *     changed it) and the quoted UDP checksum follows the address and port,
 *     with the ICMP checksum updated for both words.
 * An error about a session's protocol that names no session vpnpt knows is
 * passed untouched and counted (icmp_no_session); one whose pair two LAN
 * hosts' sessions carry is not relayed to either (icmp_ambiguous). Quotes of
 * other traffic (masqueraded flows, non-PPTP GRE) are the kernel's, as are
 * those of a protocol switched off: untouched, not counted.
 */
#ifndef VPNPT_BPF_ICMP_ERR_H
#define VPNPT_BPF_ICMP_ERR_H

#include "bpf/lib/classify.h"
#include "bpf/proto/esp.h"
#include "bpf/lib/fwd.h"
#include "bpf/proto/l2tp.h"
#include "bpf/proto/pptp_calls.h"
#include "bpf/lib/quote_index.h"

#define ICMP_DEST_UNREACH 3
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12
#define ICMP_ERR_HDR 8   /* type, code, checksum, 4 bytes (unused, next-hop MTU or pointer) */
#define ICMP_QUOTE_MIN 8 /* bytes after the quoted IPv4 header an error must carry (RFC 792) */

static __always_inline int icmp_is_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETERPROB;
}

#define ICMP_NOT_OURS VPNPT_REASON_MAX /* a quote of traffic vpnpt does not carry: untouched, not counted */

/* The LAN host a quoted packet came from, or why there is none. */
struct quote_owner {
	__be32 host;
	__be16 port;  /* UDP: the source port the host sent from */
	__u16 reason; /* VPNPT_REASON_NONE: host found; else the reason, or ICMP_NOT_OURS */
};

static __always_inline struct quote_owner quote_esp(const struct iphdr *in, const __u8 *quote,
                                                    const struct vpnpt_config *cfg)
{
	struct quote_owner o = {0, 0, ICMP_NOT_OURS};

	if (switched_off(cfg, VPNPT_SW_IPSEC))
		return o; /* the kernel carries the sessions then, and their errors */
	struct vpnpt_esp_sa *sa = esp_find(&vpnpt_esp_out_v2, in->daddr, *(__be32 *)quote);
	o.reason = VPNPT_REASON_ICMP_NO_SESSION;
	if (sa) {
		o.host = sa->host;
		o.reason = VPNPT_REASON_NONE;
	}
	return o;
}

/* Enhanced GRE (PPTP): flags with the key bit and version 1, protocol PPP, then length and the peer's Call ID. */
static __always_inline struct quote_owner quote_gre(const struct iphdr *in, const __u8 *quote,
                                                    const struct vpnpt_config *cfg)
{
	struct quote_owner o = {0, 0, ICMP_NOT_OURS};
	__u16 owner = 0;

	if ((quote[1] & 0x07) != 1 || !(quote[0] & 0x20) || quote[2] != 0x88 || quote[3] != 0x0b ||
	    switched_off(cfg, VPNPT_SW_PPTP))
		return o;
	__be16 server_call_id = *(__be16 *)(quote + 6);
	enum quote_answer a = quote_find(&vpnpt_pptp_quote_v1, in->daddr, server_call_id, &owner);
	o.reason = a == QUOTE_SHARED ? VPNPT_REASON_ICMP_AMBIGUOUS : VPNPT_REASON_ICMP_NO_SESSION;
	if (a != QUOTE_ONE)
		return o;
	struct vpnpt_pptp_call *c = pptp_slot(bpf_htons(owner));
	if (c && vpnpt_pptp_quotable(c, in->daddr, server_call_id)) {
		o.host = c->client;
		o.reason = VPNPT_REASON_NONE;
	}
	return o;
}

/* L2TP over UDP; @quote_len is how much of the quote the packet holds past the quoted IPv4 header. */
static __always_inline struct quote_owner quote_l2tp(const struct iphdr *in, const __u8 *quote, void *end,
                                                     __u32 quote_len, const struct vpnpt_config *cfg)
{
	struct quote_owner o = {0, 0, ICMP_NOT_OURS};
	const struct udphdr *uh = (const void *)quote;
	__be16 public_port = uh->source;
	int by_id;
	__u16 owner = 0;

	if (switched_off(cfg, VPNPT_SW_L2TP))
		return o;
	/* Per-port NAT: the public port alone names the tunnel. */
	struct vpnpt_l2tp_tunnel *t = l2tp_in_tunnel(in->daddr, public_port, 0, &by_id);
	if (t) {
		o.host = t->client;
		o.port = t->client_port;
		o.reason = VPNPT_REASON_NONE;
		return o;
	}
	int l2tp_port = uh->source == bpf_htons(PORT_L2TP) || uh->dest == bpf_htons(PORT_L2TP);
	/* Only the tunnel ID is needed, not l2tp_parse()'s whole header walk, whose
	 * branches a second time in the WAN program exceed the verifier's budget. */
	const __u8 *l2 = quote + sizeof(*uh);
	if ((void *)(l2 + 6) > end || quote_len < sizeof(*uh) + 6 || (l2[1] & 0x0f) != 2) {
		/* Too little quoted to name the tunnel, or not L2TPv2. */
		if (l2tp_port)
			o.reason = VPNPT_REASON_ICMP_NO_SESSION;
		return o;
	}
	__be16 server_tid = *(__be16 *)(l2 + (l2[0] & 0x40 ? 4 : 2)); /* after the length field, if present */
	enum quote_answer a = quote_find(&vpnpt_l2tp_quote_v1, in->daddr, server_tid, &owner);
	if (a == QUOTE_ONE) {
		t = l2tp_slot(owner);
		if (t && vpnpt_l2tp_quotable(t, in->daddr, server_tid) && t->public_port == public_port) {
			o.host = t->client;
			o.port = t->client_port;
			o.reason = VPNPT_REASON_NONE;
			return o;
		}
	}
	if (a == QUOTE_SHARED)
		o.reason = VPNPT_REASON_ICMP_AMBIGUOUS;
	else if (l2tp_port || a == QUOTE_ONE)
		o.reason = VPNPT_REASON_ICMP_NO_SESSION;
	return o;
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
	if ((void *)(in + 1) > end || in->version != 4 || in->ihl < 5 || in->saddr != cfg->public_ip)
		return r; /* not about a packet vpnpt sent */
	__u8 proto = in->protocol;
	if (proto != IPPROTO_ESP && proto != IPPROTO_GRE && proto != IPPROTO_UDP)
		return r;
	__u32 in_ihl = in->ihl * 4;
	__u8 *quote = (void *)in + in_ihl;
	__u32 before = ihl + ICMP_ERR_HDR + in_ihl;
	if ((void *)(quote + ICMP_QUOTE_MIN) > end || before + ICMP_QUOTE_MIN > p->ip_len) {
		r.reason = VPNPT_REASON_L4_TRUNC; /* malformed: untouched, the kernel's checks decide */
		return r;
	}

	struct quote_owner o;
	if (proto == IPPROTO_ESP)
		o = quote_esp(in, quote, cfg);
	else if (proto == IPPROTO_GRE)
		o = quote_gre(in, quote, cfg);
	else
		o = quote_l2tp(in, quote, end, p->ip_len - before, cfg);
	if (o.reason != VPNPT_REASON_NONE) {
		if (o.reason != ICMP_NOT_OURS)
			r.reason = o.reason;
		return r;
	}

	if (proto == IPPROTO_UDP) {
		/* The quoted UDP header as the host sent it: its port, and its checksum (if it has one)
		 * over the new address and port. The ICMP checksum covers both words. */
		struct udphdr *uh = (void *)quote;
		__sum16 *icmp_check = (__sum16 *)(icmp + 2);
		__be16 sport = uh->source;
		__sum16 check = uh->check;
		if (check) {
			csum_replace_be32(&uh->check, in->saddr, o.host);
			csum_replace_be16(&uh->check, sport, o.port);
			if (!uh->check)
				uh->check = 0xffff; /* 0 means "no checksum" in UDP */
		}
		uh->source = o.port;
		csum_replace_be16(icmp_check, sport, o.port);
		csum_replace_be16(icmp_check, check, uh->check);
	}
	csum_replace_be32(&in->check, in->saddr, o.host);
	in->saddr = o.host;
	r = dnat_forward(ctx, p, o.host);
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
