// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark-only XDP programs (tools/bench/bench_lab.cpp), one object, three roles;
 * each role is loaded as its own instance, so each has its own config and counters:
 *
 *   bench_gen   the traffic generator, run by BPF_PROG_TEST_RUN in live-frames mode on
 *               the sending veth: writes the frame's header template (recycled live
 *               frames keep whatever the path downstream wrote into them), puts a flow
 *               id taken from a per-CPU counter into one field, and XDP_TX's the frame
 *               to the veth's peer (the router).
 *   bench_sink  attached to the receiving host's veth: counts every frame and the ones
 *               that arrived translated as expected (addresses, flow field in range,
 *               valid IPv4 checksum), and drops them.
 *   bench_bare  the ceiling: a bare XDP rewrite (one address, TTL, MACs) and redirect
 *               with fixed parameters, no parsing beyond IPv4, no lookups.
 *   bench_reset vpnpt_bench_progs' wrapper around the program under test: writes the
 *               frame's header template back (live frames keep what the previous run
 *               wrote: a translated packet is not the path being measured), then
 *               tail-calls the program in reset_next[0].
 */
#include "bpf/lib/common.h"
#include "bpf/lib/csum.h"

#define BENCH_HDR 64 /* bytes of template written per frame (the smallest frame) */

struct gen_cfg {
	__u32 flow_off;  /* offset of the flow field in the frame */
	__u32 flow_size; /* 2 or 4 (network order) */
	__u32 flows;     /* flow ids base .. base + flows - 1 */
	__u32 flow_base;
	__u32 stride;    /* generator CPUs: CPU k sends flows k, k + stride, ... */
	__u32 block;     /* 1: CPU k sends a contiguous block of flows instead */
	__u32 flow2_off; /* a second 2-byte field written with flow2_base + the same slot, 0 = none */
	__u32 flow2_base;
	__u8 hdr[BENCH_HDR];
};

struct sink_cfg {
	__be32 saddr; /* expected; 0 = any */
	__be32 daddr; /* expected; 0 = any */
	__u32 id_off; /* offset of the flow field in the frame, 0 = not checked */
	__u32 id_size;
	__u32 id_lo, id_hi; /* expected range [lo, hi) */
	__u32 proto;
	__u32 id2_off; /* a second 2-byte field that must be id2_lo + (id - id_lo), 0 = not checked */
	__u32 id2_lo;
};

struct bare_cfg {
	__u32 ifindex; /* redirect target */
	__u8 smac[6];
	__u8 dmac[6];
	__be32 saddr; /* new source, 0 = keep */
	__be32 daddr; /* new destination, 0 = keep */
};

/* Config of this instance (key 0); written by bench_lab before the run. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_cfg);
} gen_cfg_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sink_cfg);
} sink_cfg_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bare_cfg);
} bare_cfg_map SEC(".maps");

/* Per-CPU counters: 0 generated / seen, 1 translated as expected. */
enum { CNT_SEEN = 0, CNT_OK = 1, CNT_MAX = 2 };
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} bench_cnt SEC(".maps");

static __always_inline void bump(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&bench_cnt, &idx);

	if (c)
		(*c)++;
}

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	struct gen_cfg *cfg = bpf_map_lookup_elem(&gen_cfg_map, &zero);
	__u64 *seq = bpf_map_lookup_elem(&bench_cnt, &zero);

	if (!cfg || !seq || data + BENCH_HDR > end)
		return XDP_DROP;
	__builtin_memcpy(data, cfg->hdr, BENCH_HDR);
	/* Each generator CPU cycles through its own share of the flows (as RSS spreads
	 * flows over cores), so two cores never hit the same flow unless there is one. */
	__u32 stride = cfg->stride ? cfg->stride : 1, k = bpf_get_smp_processor_id() % stride;
	__u32 flows = cfg->flows ? cfg->flows : 1, per = flows / stride ? flows / stride : 1;
	__u64 slot = cfg->block ? (__u64)k * per + *seq % per : *seq * stride + k;
	__u32 id = cfg->flow_base + (__u32)(slot % flows);
	(*seq)++;
	__u32 off2 = cfg->flow2_off & (BENCH_HDR - 1); /* bounded for the verifier */
	if (off2) {
		__u8 *f2 = data + off2;
		if ((void *)(f2 + 4) <= end) {
			__u32 id2 = cfg->flow2_base + (__u32)(slot % flows);
			f2[0] = id2 >> 8;
			f2[1] = id2;
		}
	}
	__u32 off = cfg->flow_off;
	if (off > BENCH_HDR - 4)
		return XDP_TX;
	barrier_var(off);
	__u8 *f = data + off;
	if ((void *)(f + 4) > end)
		return XDP_TX;
	if (cfg->flow_size == 4) {
		f[0] = id >> 24;
		f[1] = id >> 16;
		f[2] = id >> 8;
		f[3] = id;
	} else {
		f[0] = id >> 8;
		f[1] = id;
	}
	return XDP_TX;
}

static __always_inline int ip_csum_ok(struct iphdr *ip)
{
	__u16 *w = (__u16 *)ip;
	__u32 s = 0;

#pragma unroll
	for (int i = 0; i < 10; i++)
		s += w[i];
	return csum_fold(s) == 0xffff;
}

SEC("xdp")
int bench_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u32 zero = 0;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS; /* ARP and the like: let the host answer */
	bump(CNT_SEEN);
	struct sink_cfg *cfg = bpf_map_lookup_elem(&sink_cfg_map, &zero);
	if (!cfg || ip->ihl != 5 || ip->protocol != cfg->proto || !ip_csum_ok(ip))
		return XDP_DROP;
	if ((cfg->saddr && ip->saddr != cfg->saddr) || (cfg->daddr && ip->daddr != cfg->daddr))
		return XDP_DROP;
	__u32 off = cfg->id_off;
	if (off) {
		if (off > BENCH_HDR - 4)
			return XDP_DROP;
		barrier_var(off);
		__u8 *f = data + off;
		if ((void *)(f + 4) > end)
			return XDP_DROP;
		__u32 id = cfg->id_size == 4 ? ((__u32)f[0] << 24 | (__u32)f[1] << 16 | (__u32)f[2] << 8 | f[3])
		                             : ((__u32)f[0] << 8 | f[1]);
		if (id < cfg->id_lo || id >= cfg->id_hi)
			return XDP_DROP;
		__u32 off2 = cfg->id2_off & (BENCH_HDR - 1); /* bounded for the verifier */
		if (off2) {
			__u8 *f2 = data + off2;
			if ((void *)(f2 + 4) > end)
				return XDP_DROP;
			if (((__u32)f2[0] << 8 | f2[1]) != ((cfg->id2_lo + id - cfg->id_lo) & 0xffff))
				return XDP_DROP;
		}
	}
	bump(CNT_OK);
	return XDP_DROP;
}

SEC("xdp")
int bench_bare(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u32 zero = 0;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct bare_cfg *cfg = bpf_map_lookup_elem(&bare_cfg_map, &zero);
	if (!cfg || ip->ttl <= 1)
		return XDP_PASS;
	if (cfg->saddr) {
		csum_replace_be32(&ip->check, ip->saddr, cfg->saddr);
		ip->saddr = cfg->saddr;
	}
	if (cfg->daddr) {
		csum_replace_be32(&ip->check, ip->daddr, cfg->daddr);
		ip->daddr = cfg->daddr;
	}
	__u16 old = bpf_ntohs(*(__be16 *)&ip->ttl);
	ip->ttl--;
	csum_replace_word(&ip->check, old, bpf_ntohs(*(__be16 *)&ip->ttl));
	__builtin_memcpy(eth->h_dest, cfg->dmac, 6);
	__builtin_memcpy(eth->h_source, cfg->smac, 6);
	return bpf_redirect(cfg->ifindex, 0);
}

/* The program bench_reset hands the frame to (vpnpt_bench_progs writes it). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} reset_next SEC(".maps");

SEC("xdp")
int bench_reset(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	struct gen_cfg *cfg = bpf_map_lookup_elem(&gen_cfg_map, &zero);

	if (!cfg || data + BENCH_HDR > end)
		return XDP_ABORTED;
	__builtin_memcpy(data, cfg->hdr, BENCH_HDR);
	bpf_tail_call(ctx, &reset_next, 0);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
