/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Map definitions shared by every hook. Each hook is its own BPF object;
 * LIBBPF_PIN_BY_NAME plus the loader's per-attachment pin_root_path makes
 * them all use the same map instances, and lets a restarted loader adopt
 * the live maps instead of creating empty ones.
 */
#ifndef VPNPT_BPF_MAPS_H
#define VPNPT_BPF_MAPS_H

#include "bpf/lib/common.h"

/* Packets/bytes per (direction, class). Written by every hook; summed by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VPNPT_COUNTER_SLOTS);
	__type(key, __u32);
	__type(value, struct vpnpt_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_counters_v1 SEC(".maps");

/* Packets/bytes per (direction, reason) for packets not processed normally. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VPNPT_REASON_SLOTS);
	__type(key, __u32);
	__type(value, struct vpnpt_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_reasons_v11 SEC(".maps");

/* Packets/bytes translated and forwarded by vpnpt itself, per (direction, class). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VPNPT_COUNTER_SLOTS);
	__type(key, __u32);
	__type(value, struct vpnpt_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_xlat_v1 SEC(".maps");

/* Runtime configuration (key 0). Written by the loader only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vpnpt_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_config_v1 SEC(".maps");

/* Is passthrough of @bit (VPNPT_SW_*) off: switched off, or deferred to the kernel's helper? */
static __always_inline int switched_off(const struct vpnpt_config *cfg, __u32 bit)
{
	return !(cfg->switches & bit) || (cfg->deferred & bit);
}

#include "bpf/lib/ifaces_map.h"

/* Events the daemon acts on (abi/vpnpt_abi.h: which kinds); the daemon drains it. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, VPNPT_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_events_v2 SEC(".maps");

/* Reports for `vpnpt diagnose` (junk, drops, unknown sessions); the daemon drains it. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, VPNPT_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_diag_events_v1 SEC(".maps");

/* PPTP calls, indexed by translated Call ID (abi/vpnpt_abi.h). LAN hook claims, both hooks update, daemon frees. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VPNPT_PPTP_MAX_CALLS);
	__type(key, __u32);
	__type(value, struct vpnpt_pptp_call);
	__uint(map_flags, BPF_F_MMAPABLE); /* the daemon and inspection read all slots without a syscall each */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_pptp_calls_v2 SEC(".maps");

/* Outbound GRE index: open-addressed (client, server, server Call ID) -> translated id. Written when the server answers. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VPNPT_PPTP_GRE_SLOTS);
	__type(key, __u32);
	__type(value, struct vpnpt_pptp_gre_slot);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_pptp_gre_out_v2 SEC(".maps");

/* ICMP quote indexes: (server, server's Call ID / Tunnel ID) -> the one session carrying it (abi/vpnpt_abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VPNPT_QUOTE_SLOTS);
	__type(key, __u32);
	__type(value, struct vpnpt_quote_slot);
	__uint(map_flags, BPF_F_MMAPABLE); /* the daemon recounts pairs in place */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_pptp_quote_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VPNPT_QUOTE_SLOTS);
	__type(key, __u32);
	__type(value, struct vpnpt_quote_slot);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_l2tp_quote_v1 SEC(".maps");

/* PPTP control byte streams, one per TCP direction. Hooks write, daemon reaps. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VPNPT_PPTP_MAX_STREAMS);
	__type(key, struct vpnpt_pptp_stream_key);
	__type(value, struct vpnpt_pptp_stream);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_pptp_streams_v2 SEC(".maps");

/* Inbound ESP SAs, open-addressed by (server, server's SPI) (abi/vpnpt_abi.h). Daemon binds, WAN hook reads. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VPNPT_ESP_SLOTS);
	__type(key, __u32);
	__type(value, struct vpnpt_esp_sa);
	__uint(map_flags, BPF_F_MMAPABLE); /* the daemon scans and writes slots in place */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_esp_in_v2 SEC(".maps");

/* Outbound ESP SAs, open-addressed by (server, host's SPI). LAN hook learns, daemon expires. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VPNPT_ESP_SLOTS);
	__type(key, __u32);
	__type(value, struct vpnpt_esp_sa);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_esp_out_v2 SEC(".maps");

/* Rate limit for reports of unknown ids and switched-off traffic: key -> last report time. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VPNPT_REPORT_SLOTS);
	__type(key, struct vpnpt_report_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_report_limit_v1 SEC(".maps");

/* Fragmented datagrams of sessions: the first fragment's translation, for the later ones (abi/vpnpt_abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VPNPT_FRAG_SLOTS);
	__type(key, struct vpnpt_frag_key);
	__type(value, struct vpnpt_frag);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_frags_v1 SEC(".maps");

/* L2TP Tunnel IDs the kernel's NAT carries, per server (abi/vpnpt_abi.h): the daemon does not hand them out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VPNPT_L2TP_KERNEL_SLOTS);
	__type(key, struct vpnpt_l2tp_kernel_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_l2tp_kernel_v1 SEC(".maps");

/* Diagnosis ring for `vpnpt diagnose`. Written by the daemon only; here so it has BTF and a pin. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VPNPT_DIAG_SLOTS);
	__type(key, __u32);
	__type(value, struct vpnpt_diag_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_diag_v1 SEC(".maps");

/* L2TP tunnels, indexed by the Tunnel ID the server uses (abi/vpnpt_abi.h). Daemon writes, hooks count. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VPNPT_L2TP_MAX_TUNNELS);
	__type(key, __u32);
	__type(value, struct vpnpt_l2tp_tunnel);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_l2tp_tunnels_v2 SEC(".maps");

/* Outbound L2TP index: open-addressed (client, server, client port) -> tunnel slot. Daemon writes, LAN hook reads. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VPNPT_L2TP_OUT_SLOTS);
	__type(key, __u32);
	__type(value, struct vpnpt_l2tp_out_slot);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_l2tp_out_v2 SEC(".maps");

/* Per-port NAT public ports 61000..61999 -> their tunnel. Daemon writes, WAN hook reads. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VPNPT_L2TP_PORT_NAT_PORTS);
	__type(key, __u32);
	__type(value, struct vpnpt_l2tp_port);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_l2tp_ports_v2 SEC(".maps");

/* L2TP control messages for the daemon (tunnel setup and bookkeeping copies). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, VPNPT_PUNT_RING_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_l2tp_punt_v1 SEC(".maps");

/* The daemon's heartbeat (key 0). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vpnpt_daemon);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_daemon_v1 SEC(".maps");

#include "bpf/lib/quota_map.h"

/* LAN hosts' port and MACs as their own frames showed them (neigh.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VPNPT_LAN_L2_SLOTS);
	__type(key, __be32);
	__type(value, struct vpnpt_lan_l2);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_lan_l2_v1 SEC(".maps");

/* IP passthrough: flows the WAN opened toward the passthrough host (LRU: a
 * forgotten flow's answers go to the kernel's NAT, which keeps ports). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VPNPT_PT_MAX_FLOWS);
	__type(key, struct vpnpt_pt_flow_key);
	__type(value, struct vpnpt_pt_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_pt_flows_v1 SEC(".maps");

/* The router's own ports, excluded from IP passthrough. Loader writes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VPNPT_MAX_LOCAL_PORTS);
	__type(key, struct vpnpt_local_port_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_local_ports_v1 SEC(".maps");

/* One slot of the next-hop cache: a successful FIB answer, the query it
 * answered and when. Written and read by fwd_lookup() only. */
struct vpnpt_fib_cache_slot {
	__u64 at_ns;      /* vpnpt_now_ns() of the lookup (clock.h); 0 = empty */
	__u32 in_ifindex; /* the query: ingress interface, */
	__be32 saddr;     /* source and destination after translation, */
	__be32 daddr;
	__u8 tos; /* TOS and protocol (FIB rules may match them) */
	__u8 l4_protocol;
	__u16 len_ok;              /* the largest tot_len the FIB accepted (MTU check) */
	struct bpf_fib_lookup fib; /* the answer: egress ifindex, smac, dmac */
};

/* Per-CPU next-hop cache, slot = hash(ingress ifindex, source, destination);
 * recent successful FIB answers, reused for at most cfg_fib_cache_ns. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VPNPT_FIB_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct vpnpt_fib_cache_slot);
} vpnpt_fib_cache SEC(".maps");

/* Per-CPU clock cache (clock.h): the coarse clock read at the first packet of a jiffy. */
struct vpnpt_clock {
	__u64 jiffies;
	__u64 ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vpnpt_clock);
} vpnpt_clock SEC(".maps");

/* Per-CPU scratch for the FIB query (64 bytes) of every translator. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpf_fib_lookup);
} vpnpt_scratch_fib SEC(".maps");

#endif
