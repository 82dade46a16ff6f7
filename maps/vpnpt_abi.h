/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * vpnpt ABI: the one header shared by the BPF data plane and the C++ loader.
 *
 * Everything that crosses the kernel/user boundary lives here: map key and
 * value layouts, the counter and reason enums, and the pinned names. Types
 * are fixed-width with explicit padding so both compilers agree on the
 * layout; loader/abi_checks.cpp static_asserts every size and offset.
 *
 * When a map's key or value layout changes, bump its pin name suffix
 * (VPNPT_PIN_*): libbpf refuses to reuse a pinned map whose layout differs,
 * and a versioned name lets a new loader start cleanly next to old state.
 */
#ifndef VPNPT_ABI_H
#define VPNPT_ABI_H

/* Both sides take __u32/__be32 from the kernel UAPI, so the types are identical. */
#include <linux/types.h>

/* Root of all pins on bpffs; one sub-directory per attachment. */
#define VPNPT_PIN_ROOT "/sys/fs/bpf/vpnpt"

/* Pinned map names (LIBBPF_PIN_BY_NAME uses the map's C name). */
#define VPNPT_MAP_COUNTERS "vpnpt_counters_v1"
#define VPNPT_MAP_REASONS "vpnpt_reasons_v1"
#define VPNPT_MAP_CONFIG "vpnpt_config_v1"
#define VPNPT_MAP_IFACES "vpnpt_ifaces_v1"
#define VPNPT_MAP_EVENTS "vpnpt_events_v1"

/* Pinned program names inside the attachment directory. */
#define VPNPT_PIN_PROG_LAN "prog_xdp_lan"
#define VPNPT_PIN_PROG_WAN "prog_xdp_wan"

/* Traffic classes. The data plane classifies every IPv4 packet into one. */
enum vpnpt_class {
	VPNPT_CLASS_OTHER = 0,     /* IPv4, none of the below */
	VPNPT_CLASS_PPTP_CTRL = 1, /* TCP, either port 1723 */
	VPNPT_CLASS_GRE = 2,       /* IP protocol 47 (any version) */
	VPNPT_CLASS_IKE = 3,       /* UDP, either port 500 */
	VPNPT_CLASS_NATT = 4,      /* UDP, either port 4500 */
	VPNPT_CLASS_ESP = 5,       /* IP protocol 50 */
	VPNPT_CLASS_AH = 6,        /* IP protocol 51: cannot cross NAT, counted */
	VPNPT_CLASS_L2TP = 7,      /* UDP, either port 1701 */
	VPNPT_CLASS_NON_IPV4 = 8,  /* IPv6, ARP, anything not IPv4: untouched */
	VPNPT_CLASS_MALFORMED = 9, /* failed a header check: see vpnpt_reason */
	VPNPT_CLASS_MAX
};

/* Direction = the role of the interface the packet arrived on. */
enum vpnpt_dir {
	VPNPT_DIR_OUTBOUND = 0, /* arrived on a LAN interface */
	VPNPT_DIR_INBOUND = 1,  /* arrived on the WAN interface */
	VPNPT_DIR_MAX
};

/*
 * Why a packet was not processed normally. Malformed packets are counted
 * under one of these and passed to the stack untouched (never rewritten):
 * the kernel's own checks then decide, exactly as without vpnpt.
 */
enum vpnpt_reason {
	VPNPT_REASON_NONE = 0,
	VPNPT_REASON_ETH_TRUNC = 1,     /* shorter than an Ethernet header */
	VPNPT_REASON_VLAN_TRUNC = 2,    /* VLAN tag cut off */
	VPNPT_REASON_VLAN_TOO_DEEP = 3, /* more VLAN tags than configured */
	VPNPT_REASON_IP_TRUNC = 4,      /* shorter than the IPv4 header */
	VPNPT_REASON_IP_VERSION = 5,    /* EtherType IPv4 but version != 4 */
	VPNPT_REASON_IP_IHL = 6,        /* IHL < 5 or options cut off */
	VPNPT_REASON_IP_TOTLEN = 7,     /* total length < IHL or > frame */
	VPNPT_REASON_L4_TRUNC = 8,      /* TCP/UDP/GRE/ESP header cut off */
	VPNPT_REASON_MAX
};

/* Value of the per-CPU counters and reasons arrays. */
struct vpnpt_counter {
	__u64 packets;
	__u64 bytes;
};

/* Index into vpnpt_counters: one slot per (direction, class). */
#define VPNPT_COUNTER_SLOTS ((__u32)VPNPT_DIR_MAX * (__u32)VPNPT_CLASS_MAX)
static inline __u32 vpnpt_counter_index(__u32 dir, __u32 cls)
{
	return dir * (__u32)VPNPT_CLASS_MAX + cls;
}

/* Index into vpnpt_reasons: one slot per (direction, reason). */
#define VPNPT_REASON_SLOTS ((__u32)VPNPT_DIR_MAX * (__u32)VPNPT_REASON_MAX)
static inline __u32 vpnpt_reason_index(__u32 dir, __u32 reason)
{
	return dir * (__u32)VPNPT_REASON_MAX + reason;
}

/* Per-protocol passthrough switches (vpnpt_config.switches bit set). */
enum vpnpt_switch {
	VPNPT_SW_PPTP = 1u << 0,
	VPNPT_SW_IPSEC = 1u << 1,
	VPNPT_SW_L2TP = 1u << 2,
};
#define VPNPT_SW_ALL (VPNPT_SW_PPTP | VPNPT_SW_IPSEC | VPNPT_SW_L2TP)

/*
 * Runtime configuration: the single entry (key 0) of the pinned config
 * array. Written by the loader, read by the data plane on every packet.
 */
struct vpnpt_config {
	__be32 public_ip;   /* network byte order */
	__u32 wan_ifindex;
	__u32 switches;     /* enum vpnpt_switch bits */
	__u32 generation;   /* bumped by the loader on every change */
};

/* Role of an interface in vpnpt_ifaces (key: ifindex). */
enum vpnpt_role {
	VPNPT_ROLE_LAN = 1,
	VPNPT_ROLE_WAN = 2,
};

/* XDP attach mode as recorded by the loader. */
enum vpnpt_xdp_mode {
	VPNPT_MODE_NATIVE = 1,
	VPNPT_MODE_SKB = 2,
};

/* vpnpt_iface.flags */
#define VPNPT_IFACE_F_DISPATCHER (1u << 0) /* attached through libxdp's dispatcher */

struct vpnpt_iface {
	__u32 role;      /* enum vpnpt_role */
	__u32 xdp_mode;  /* enum vpnpt_xdp_mode */
	__u32 prog_id;   /* id of the program attached to this interface */
	__u32 flags;     /* VPNPT_IFACE_F_* */
};

#define VPNPT_MAX_IFACES 64

/* Data-plane event for the diagnose ring (ring buffer, best effort). */
enum vpnpt_event_kind {
	VPNPT_EV_MALFORMED = 1,
};

struct vpnpt_event {
	__u64 ktime_ns;
	__u32 kind;      /* enum vpnpt_event_kind */
	__u32 reason;    /* enum vpnpt_reason */
	__u32 ifindex;
	__u8 dir;        /* enum vpnpt_dir */
	__u8 cls;        /* enum vpnpt_class */
	__u8 ip_proto;
	__u8 pad;
	__be32 saddr;
	__be32 daddr;
};

#define VPNPT_EVENTS_BYTES (256 * 1024)

/* Load-time configuration limits (set in .rodata before load). */
#define VPNPT_VLAN_DEPTH_MAX 2

#endif /* VPNPT_ABI_H */
