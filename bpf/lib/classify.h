/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Classifies a parsed IPv4 packet into a vpnpt_class. Ports match in either
 * direction (source or destination), so the same rule serves both hooks.
 */
#ifndef VPNPT_BPF_CLASSIFY_H
#define VPNPT_BPF_CLASSIFY_H

#include "abi/wire.h"
#include "bpf/lib/parse.h"

#ifndef IPPROTO_GRE
#define IPPROTO_GRE 47
#endif
#ifndef IPPROTO_ICMP
#define IPPROTO_ICMP 1
#endif

static __always_inline int port_is(__be16 sport, __be16 dport, __u16 port)
{
	return sport == bpf_htons(port) || dport == bpf_htons(port);
}

static __always_inline enum vpnpt_class classify_udp(struct udphdr *uh)
{
	if (port_is(uh->source, uh->dest, PORT_NATT))
		return VPNPT_CLASS_NATT;
	if (port_is(uh->source, uh->dest, PORT_IKE))
		return VPNPT_CLASS_IKE;
	if (port_is(uh->source, uh->dest, PORT_L2TP))
		return VPNPT_CLASS_L2TP;
	return VPNPT_CLASS_OTHER;
}

/*
 * Parses the L4 header the class needs and returns the class, or
 * VPNPT_CLASS_MALFORMED with *reason set. GRE, ESP and AH are classified by
 * protocol number alone (later fragments included); TCP/UDP need ports, so
 * their later fragments are OTHER.
 */
static __always_inline enum vpnpt_class classify(struct cursor *c, struct pkt *p, enum vpnpt_reason *reason)
{
	switch (p->ip_proto) {
	case IPPROTO_GRE:
		/* Base GRE header: flags/version + protocol type. */
		*reason = parse_l4(c, p, 4);
		return *reason ? VPNPT_CLASS_MALFORMED : VPNPT_CLASS_GRE;
	case IPPROTO_ESP:
		/* SPI + sequence number. */
		*reason = parse_l4(c, p, 8);
		return *reason ? VPNPT_CLASS_MALFORMED : VPNPT_CLASS_ESP;
	case IPPROTO_AH:
		return VPNPT_CLASS_AH;
	case IPPROTO_TCP:
		*reason = parse_l4(c, p, sizeof(struct tcphdr));
		if (*reason)
			return VPNPT_CLASS_MALFORMED;
		if (!p->l4)
			return VPNPT_CLASS_OTHER;
		{
			struct tcphdr *th = p->l4;
			return port_is(th->source, th->dest, PORT_PPTP) ? VPNPT_CLASS_PPTP_CTRL : VPNPT_CLASS_OTHER;
		}
	case IPPROTO_UDP:
		*reason = parse_l4(c, p, sizeof(struct udphdr));
		if (*reason)
			return VPNPT_CLASS_MALFORMED;
		if (!p->l4)
			return VPNPT_CLASS_OTHER;
		return classify_udp(p->l4);
	default:
		return VPNPT_CLASS_OTHER;
	}
}

#endif
