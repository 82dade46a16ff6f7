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

#include "bpf/lib/clock.h"
#include "bpf/lib/frag.h"
#include "bpf/lib/fwd.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/quota.h"
#include "bpf/lib/stats.h"

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

/* The kernel's struct bpf_map, as far as needed: CO-RE finds the field in the running kernel. */
struct bpf_map___vpnpt {
	__u32 max_entries;
} __attribute__((preserve_access_index));

/* A table's slot count, read from the map itself: whatever size it was created with. */
static __always_inline __u32 esp_slots(void *table)
{
	return ((struct bpf_map___vpnpt *)table)->max_entries;
}

/* (server, SPI) as the 8-byte key at the head of a slot. */
static __always_inline __u64 esp_key(__be32 server, __be32 spi)
{
	struct vpnpt_esp_key_bytes {
		__be32 server, spi;
	} k = {server, spi};
	__u64 v;

	__builtin_memcpy(&v, &k, sizeof(v));
	return v;
}

/* Slot @i (0 .. VPNPT_ESP_PROBES - 1) of run @r. */
static __always_inline struct vpnpt_esp_sa *esp_at(void *table, const struct vpnpt_run *r, __u32 i)
{
	__u32 idx = vpnpt_run_slot(r, i);

	return bpf_map_lookup_elem(table, &idx);
}

/*
 * The used slot of (server, SPI) in @table, or NULL. Walks the whole probe
 * run: the daemon empties slots in place, so a free slot does not end it.
 * The SA is usually in the home slot.
 */
static __always_inline struct vpnpt_esp_sa *esp_find(void *table, __be32 server, __be32 spi)
{
	struct vpnpt_run r = vpnpt_esp_run(server, spi, esp_slots(table));
	__u64 key = esp_key(server, spi);

	for (__u32 i = 0; i < VPNPT_ESP_PROBES; i++) {
		struct vpnpt_esp_sa *sa = esp_at(table, &r, i);
		if (sa && *(__u64 *)sa == key && sa->host)
			return sa;
	}
	return NULL;
}

/*
 * Claims a free slot of the run for (server, SPI) with one 64-bit
 * compare-and-swap of its key (atomic across CPUs) and fills it in, the
 * host last. NULL if the run has no free slot. If another CPU claimed a
 * slot for the same key at this moment, that slot is returned, maybe with
 * its host not written yet (0).
 */
static __always_inline struct vpnpt_esp_sa *esp_claim(void *table, __be32 server, __be32 spi, __be32 host,
                                                      __u32 ifindex, __u64 now)
{
	struct vpnpt_run r = vpnpt_esp_run(server, spi, esp_slots(table));
	__u64 key = esp_key(server, spi);

	for (__u32 i = 0; i < VPNPT_ESP_PROBES; i++) {
		struct vpnpt_esp_sa *sa = esp_at(table, &r, i);
		if (!sa)
			continue;
		__u64 cur = *(__u64 *)sa;
		if (cur == key)
			return sa; /* being claimed by another CPU (esp_find skipped it: host still 0) */
		if (cur)
			continue;
		__u64 was = __sync_val_compare_and_swap((__u64 *)sa, 0, key);
		if (was == key)
			return sa;
		if (was)
			continue; /* another CPU took it for another SA a moment ago */
		sa->lan_ifindex = ifindex;
		sa->created_ns = now;
		sa->last_seen_ns = now;
		sa->packets = 0;
		sa->bytes = 0;
		barrier(); /* the host last: it makes the slot visible to lookups */
		sa->host = host;
		return sa;
	}
	return NULL;
}

/* LAN -> WAN: record the host's SPI, source-NAT, forward. */
static __always_inline struct xlat_result esp_outbound(struct __ctx_buff *ctx, struct pkt *p,
                                                       const struct vpnpt_config *cfg, __u64 bytes)
{
	struct xlat_result r = {CTX_PASS, VPNPT_REASON_NONE};
	struct esp_hdr *eh = p->l4;
	struct iphdr *ip = p->ip;

	if (!eh) {
		r.reason = VPNPT_REASON_ESP_FRAGMENT; /* a later fragment whose first one vpnpt did not translate */
		return r;
	}
	const struct bpf_fib_lookup *plan;
	r.reason = plan_outbound(ctx, p, cfg, &plan);
	if (r.reason)
		return r; /* untouched: the kernel handles it as it would without vpnpt */

	__u64 now = vpnpt_now_ns();
	struct vpnpt_esp_sa *sa = esp_find(&vpnpt_esp_out_v2, ip->daddr, eh->spi);
	if (!sa) {
		if (!quota_take(ip->saddr, QUOTA_SAS)) {
			r.action = CTX_DROP;
			r.reason = VPNPT_REASON_ESP_HOST_QUOTA;
			return r;
		}
		sa = esp_claim(&vpnpt_esp_out_v2, ip->daddr, eh->spi, ip->saddr, ctx->ingress_ifindex, now);
		if (!sa) {
			quota_give(ip->saddr, QUOTA_SAS);
			r.action = CTX_DROP;
			r.reason = VPNPT_REASON_ESP_TABLE_FULL;
			return r;
		}
	}
	if (sa->host != ip->saddr) {
		/*
		 * The server picks its SPIs unique; another host using one is spoofing or
		 * confused. (Also the rare packet that finds the slot another CPU is
		 * claiming for the same SPI at this moment, host not written yet.)
		 */
		r.action = CTX_DROP;
		r.reason = VPNPT_REASON_ESP_SPI_CONFLICT;
		return r;
	}
	if (frag_refused(&r, p, VPNPT_DIR_OUTBOUND, VPNPT_CLASS_ESP, cfg->public_ip))
		return r;
	esp_account(sa, bytes, now);
	sa->lan_ifindex = ctx->ingress_ifindex;
	r.action = snat_redirect(p, cfg->public_ip, plan);
	return r;
}

/* Reports an unbound SPI to the daemon, at most once per SPI per 100 ms. */
static __always_inline void esp_report_unknown(struct __ctx_buff *ctx, __be32 server, __be32 spi, __be32 daddr)
{
	report_limited(ctx, REPORT_WHAT(VPNPT_EV_ESP_UNKNOWN, VPNPT_REASON_ESP_UNBOUND, VPNPT_DIR_INBOUND), server,
	               daddr, REPORT_KEY(server, bpf_ntohl(spi)));
}

/* WAN -> LAN: ESP from a server to the public IP, delivered only if its SPI is bound. */
static __always_inline struct xlat_result esp_inbound(struct __ctx_buff *ctx, struct pkt *p, __u64 bytes)
{
	struct xlat_result r = {CTX_PASS, VPNPT_REASON_NONE};
	struct esp_hdr *eh = p->l4;
	struct iphdr *ip = p->ip;

	if (!eh) {
		r.reason = VPNPT_REASON_ESP_FRAGMENT;
		return r;
	}
	struct vpnpt_esp_sa *sa = esp_find(&vpnpt_esp_in_v2, ip->saddr, eh->spi);
	if (!sa) {
		esp_report_unknown(ctx, ip->saddr, eh->spi, ip->daddr);
		r.action = CTX_DROP;
		r.reason = VPNPT_REASON_ESP_UNBOUND;
		return r;
	}
	if (frag_refused(&r, p, VPNPT_DIR_INBOUND, VPNPT_CLASS_ESP, sa->host))
		return r;
	esp_account(sa, bytes, vpnpt_now_ns());
	return dnat_forward(ctx, p, sa->host);
}

/* Either direction as a subprogram: its frame stays out of the main one (see xlat_pack). */
static __noinline __u32 esp_step(struct __ctx_buff *ctx, struct pkt *p, const struct vpnpt_config *cfg, __u32 dir,
                                 __u64 bytes)
{
	return xlat_pack(dir == VPNPT_DIR_OUTBOUND ? esp_outbound(ctx, p, cfg, bytes) : esp_inbound(ctx, p, bytes));
}

#endif
