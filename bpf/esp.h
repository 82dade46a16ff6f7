/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Raw ESP (IP protocol 50) translated at XDP. ESP has no ports, only a
 * 32-bit SPI chosen by the receiver, so the gateway tells hosts apart by
 * SPI: outbound, the host's packets are source-NATed and their SPI is
 * recorded as the host's; inbound, the server's SPI must be bound to a host
 * before anything is delivered. Binding is the daemon's job (the SPIs are
 * agreed inside encrypted IKE, so it learns them from traffic and
 * serialises exchanges so that it never has to guess, docs/ipsec.md); until
 * an SPI is bound its packets are dropped and reported, never delivered to
 * a guessed host. Only the IPv4 header changes: ESP carries no checksum
 * over the addresses.
 */
#ifndef VPNPT_BPF_ESP_H
#define VPNPT_BPF_ESP_H

#include "clock.h"
#include "fwd.h"
#include "maps.h"
#include "quota.h"
#include "stats.h"

struct esp_hdr {
	__be32 spi;
	__be32 seq;
};

static __always_inline void esp_account(struct vpnpt_esp_sa *sa, __u64 bytes, __u64 now)
{
	sa->last_seen_ns = now;
	__sync_fetch_and_add(&sa->packets, 1);
	__sync_fetch_and_add(&sa->bytes, bytes);
}

/* LAN -> WAN: record the host's SPI, source-NAT, forward. */
static __always_inline struct xlat_result esp_outbound(struct xdp_md *ctx, struct pkt *p,
						       const struct vpnpt_config *cfg, __u64 bytes)
{
	struct xlat_result r = {XDP_PASS, VPNPT_REASON_NONE};
	struct esp_hdr *eh = p->l4;
	struct iphdr *ip = p->ip;

	if (p->fragmented || !eh) {
		r.reason = VPNPT_REASON_ESP_FRAGMENT;
		return r;
	}
	const struct bpf_fib_lookup *plan;
	r.reason = plan_outbound(ctx, p, cfg, &plan);
	if (r.reason)
		return r; /* untouched: the kernel handles it as it would without vpnpt */

	__u64 now = vpnpt_now_ns();
	struct vpnpt_esp_key k = {.server = ip->daddr, .spi = eh->spi};
	struct vpnpt_esp_sa *sa = bpf_map_lookup_elem(&vpnpt_esp_out_v1, &k);
	if (!sa) {
		if (!quota_take(ip->saddr, QUOTA_SAS)) {
			r.action = XDP_DROP;
			r.reason = VPNPT_REASON_ESP_HOST_QUOTA;
			return r;
		}
		struct vpnpt_esp_sa fresh = {.host = ip->saddr, .lan_ifindex = ctx->ingress_ifindex,
					     .created_ns = now, .last_seen_ns = now};
		if (bpf_map_update_elem(&vpnpt_esp_out_v1, &k, &fresh, BPF_NOEXIST)) {
			quota_give(ip->saddr, QUOTA_SAS); /* full, or another CPU created it first */
			if (!bpf_map_lookup_elem(&vpnpt_esp_out_v1, &k)) {
				r.action = XDP_DROP;
				r.reason = VPNPT_REASON_ESP_TABLE_FULL;
				return r;
			}
		}
		sa = bpf_map_lookup_elem(&vpnpt_esp_out_v1, &k);
		if (!sa)
			return r;
	}
	if (sa->host != ip->saddr) {
		/* The server picks its SPIs unique; another host using one is spoofing or confused. */
		r.action = XDP_DROP;
		r.reason = VPNPT_REASON_ESP_SPI_CONFLICT;
		return r;
	}
	esp_account(sa, bytes, now);
	sa->lan_ifindex = ctx->ingress_ifindex;
	r.action = snat_redirect(p, cfg->public_ip, plan);
	return r;
}

/* Reports an unbound SPI to the daemon, at most once per SPI per 100 ms. */
static __always_inline void esp_report_unknown(struct xdp_md *ctx, const struct vpnpt_esp_key *k, __be32 daddr)
{
	report_limited(ctx, REPORT_WHAT(VPNPT_EV_ESP_UNKNOWN, VPNPT_REASON_ESP_UNBOUND, VPNPT_DIR_INBOUND), k->server,
		       daddr, REPORT_KEY(k->server, bpf_ntohl(k->spi)));
}

/* WAN -> LAN: ESP from a server to the public IP, delivered only if its SPI is bound. */
static __always_inline struct xlat_result esp_inbound(struct xdp_md *ctx, struct pkt *p, __u64 bytes)
{
	struct xlat_result r = {XDP_PASS, VPNPT_REASON_NONE};
	struct esp_hdr *eh = p->l4;
	struct iphdr *ip = p->ip;

	if (p->fragmented || !eh) {
		r.reason = VPNPT_REASON_ESP_FRAGMENT;
		return r;
	}
	struct vpnpt_esp_key k = {.server = ip->saddr, .spi = eh->spi};
	struct vpnpt_esp_sa *sa = bpf_map_lookup_elem(&vpnpt_esp_in_v1, &k);
	if (!sa) {
		esp_report_unknown(ctx, &k, ip->daddr);
		r.action = XDP_DROP;
		r.reason = VPNPT_REASON_ESP_UNBOUND;
		return r;
	}
	esp_account(sa, bytes, vpnpt_now_ns());
	return dnat_forward(ctx, p, sa->host);
}

/* Either direction as a subprogram: its frame stays out of the main one (see xlat_pack). */
static __noinline __u32 esp_step(struct xdp_md *ctx, struct pkt *p, const struct vpnpt_config *cfg, __u32 dir,
				 __u64 bytes)
{
	return xlat_pack(dir == VPNPT_DIR_OUTBOUND ? esp_outbound(ctx, p, cfg, bytes) : esp_inbound(ctx, p, bytes));
}

#endif
