/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * vpnpt ABI: the one header shared by the BPF data plane and the C++ loader.
 *
 * Everything that crosses the kernel/user boundary lives here: map key and
 * value layouts, the counter and reason enums, and the pinned names. Types
 * are fixed-width with explicit padding so both compilers agree on the
 * layout; loader/dataplane/abi_checks.cpp static_asserts every size and offset.
 *
 * When a map's key or value layout changes, bump its pin name suffix
 * (VPNPT_PIN_*): libbpf refuses to reuse a pinned map whose layout differs,
 * and a versioned name lets a new loader start cleanly next to old state.
 */
#ifndef VPNPT_ABI_H
#define VPNPT_ABI_H

/* Both sides take __u32/__be32 from the kernel UAPI, so the types are identical. */
#include <linux/types.h>

#include "probe.h" /* open addressing: runs, the hashes */

/* Root of all pins on bpffs; one sub-directory per attachment. */
#define VPNPT_PIN_ROOT "/sys/fs/bpf/vpnpt"

/* Pinned map names (LIBBPF_PIN_BY_NAME uses the map's C name). */
#define VPNPT_MAP_COUNTERS "vpnpt_counters_v1"
#define VPNPT_MAP_REASONS "vpnpt_reasons_v11"
#define VPNPT_MAP_XLAT "vpnpt_xlat_v1"
#define VPNPT_MAP_PPTP_CALLS "vpnpt_pptp_calls_v2"
#define VPNPT_MAP_PPTP_GRE_OUT "vpnpt_pptp_gre_out_v2"
#define VPNPT_MAP_PPTP_STREAMS "vpnpt_pptp_streams_v2"
#define VPNPT_MAP_ESP_IN "vpnpt_esp_in_v2"
#define VPNPT_MAP_ESP_OUT "vpnpt_esp_out_v2"
#define VPNPT_MAP_REPORT_LIMIT "vpnpt_report_limit_v1"
#define VPNPT_MAP_DIAG_EVENTS "vpnpt_diag_events_v1"
#define VPNPT_MAP_DIAG "vpnpt_diag_v1"
#define VPNPT_MAP_CONFIG "vpnpt_config_v1"
#define VPNPT_MAP_L2TP_TUNNELS "vpnpt_l2tp_tunnels_v2"
#define VPNPT_MAP_L2TP_OUT "vpnpt_l2tp_out_v2"
#define VPNPT_MAP_L2TP_PORTS "vpnpt_l2tp_ports_v2"
#define VPNPT_MAP_L2TP_PUNT "vpnpt_l2tp_punt_v1"
#define VPNPT_MAP_PT_FLOWS "vpnpt_pt_flows_v1"
#define VPNPT_MAP_DAEMON "vpnpt_daemon_v1"
#define VPNPT_MAP_HOST_QUOTA "vpnpt_host_quota_v1"
#define VPNPT_MAP_LOCAL_PORTS "vpnpt_local_ports_v1"
#define VPNPT_MAP_IFACES "vpnpt_ifaces_v2"
#define VPNPT_MAP_EVENTS "vpnpt_events_v2"
#define VPNPT_MAP_LAN_L2 "vpnpt_lan_l2_v1"
#define VPNPT_MAP_UNDELIVERED "vpnpt_undelivered_v1"
#define VPNPT_MAP_FRAGS "vpnpt_frags_v1"
#define VPNPT_MAP_L2TP_KERNEL "vpnpt_l2tp_kernel_v1"
#define VPNPT_MAP_PPTP_QUOTE "vpnpt_pptp_quote_v1"
#define VPNPT_MAP_L2TP_QUOTE "vpnpt_l2tp_quote_v1"
/* Never versioned: every build reads it to learn which build attached (struct vpnpt_meta). */
#define VPNPT_MAP_META "vpnpt_meta"

/* The pinned maps as a table (pins.def): VPNPT_PIN_<ID> indexes it. */
enum vpnpt_pin_owner { VPNPT_PIN_OWNER_LOADER, VPNPT_PIN_OWNER_HOOKS, VPNPT_PIN_OWNER_TRACE, VPNPT_PIN_OWNER_ATTACH };
enum vpnpt_pin_upgrade { VPNPT_PIN_UPGRADE_CONVERT, VPNPT_PIN_UPGRADE_RESET };
enum vpnpt_pin {
#define VPNPT_PIN(id, owner, upgrade, title) VPNPT_PIN_##id,
#include "pins.def"
#undef VPNPT_PIN
	VPNPT_PIN_COUNT
};

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
 * Why a packet was not processed normally: one counter per (direction,
 * reason). The rows, their verdicts and texts are in reasons.def.
 * VPNPT_REASON_IS_MALFORMED() tells the malformed ones apart.
 */
enum vpnpt_reason {
#define VPNPT_REASON(id, value, verdict, text) VPNPT_REASON_##id = value,
#include "reasons.def"
#undef VPNPT_REASON
	VPNPT_REASON_MAX
};

#define VPNPT_REASON_IS_MALFORMED(r) ((r) >= VPNPT_REASON_ETH_TRUNC && (r) <= VPNPT_REASON_L4_TRUNC)

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

/*
 * vpnpt_xlat_v1: packets/bytes vpnpt translated and forwarded itself, per
 * (direction, class), same indexing as vpnpt_counters. The difference to
 * vpnpt_counters is what went to the stack.
 */

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
	__be32 public_ip; /* network byte order */
	__u32 wan_ifindex;
	__u32 switches;          /* enum vpnpt_switch bits */
	__u32 generation;        /* bumped by the loader on every change */
	__u32 deferred;          /* enum vpnpt_switch bits handed to the kernel (e.g. its PPTP helper is attached) */
	__be32 passthrough_host; /* IP passthrough: the LAN host that gets unsolicited traffic, 0 = off */
};

/* Role of an interface in vpnpt_ifaces (key: ifindex). */
enum vpnpt_role {
	VPNPT_ROLE_LAN = 1,
	VPNPT_ROLE_WAN = 2,
};

/* The data path of an interface's ingress, as recorded by the loader (docs/dataplane.md). */
enum vpnpt_xdp_mode {
	VPNPT_MODE_NATIVE = 1, /* XDP in the driver */
	VPNPT_MODE_SKB = 2,    /* XDP in generic (skb) mode, only when asked for (--mode skb) */
	VPNPT_MODE_TC = 3,     /* TC ingress (clsact): where XDP cannot deliver */
};

/* Why an interface has its path (vpnpt_iface.why). */
enum vpnpt_path_why {
	VPNPT_WHY_XDP_OK = 0,    /* native XDP runs, and every device it forwards to takes XDP frames */
	VPNPT_WHY_REQUESTED = 1, /* the mode was asked for (--mode native|skb|tc) */
	VPNPT_WHY_NO_NATIVE = 2, /* the driver has no native XDP */
	VPNPT_WHY_NO_L2 = 3,     /* no Ethernet header (an L3 device such as ppp0) */
	VPNPT_WHY_TARGET = 4,    /* a device it forwards to (why_ifindex) cannot transmit XDP frames */
	VPNPT_WHY_PARTIAL_CSUM =
	        5, /* its frames may carry partial (offloaded) checksums, which XDP cannot tell apart */
	VPNPT_WHY_MAX
};

/* vpnpt_iface.flags */
#define VPNPT_IFACE_F_DISPATCHER (1u << 0) /* attached through libxdp's dispatcher */

struct vpnpt_iface {
	__u32 role;        /* enum vpnpt_role */
	__u32 xdp_mode;    /* enum vpnpt_xdp_mode: the path */
	__u32 prog_id;     /* id of the program attached to this interface (XDP or TC) */
	__u32 flags;       /* VPNPT_IFACE_F_* */
	__u32 why;         /* enum vpnpt_path_why */
	__u32 why_ifindex; /* VPNPT_WHY_TARGET: the device that cannot take XDP frames */
};

#define VPNPT_MAX_IFACES 64

/*
 * vpnpt_undelivered_v1 (per-CPU hash, value: frames; written by the daemon's
 * tracing programs, bpf/trace_undelivered.bpf.c): frames an XDP program on
 * one of vpnpt's interfaces redirected that the kernel could not hand to
 * the target. `vpnpt diagnose` and the metric vpnpt_undelivered_frames_total
 * show them. (At TC, bpf_redirect_neigh() hands the packet to the
 * neighbour layer, which queues or sends it like any routed packet.)
 */
enum vpnpt_undelivered_stage {
	VPNPT_UNDELIVERED_REDIRECT = 0, /* xdp_do_redirect() failed: target down, no XDP transmit, too big */
	VPNPT_UNDELIVERED_XMIT = 1,     /* the target's XDP transmit dropped them */
};
struct vpnpt_undelivered_key {
	__u32 from_ifindex;
	__u32 to_ifindex; /* 0 if unknown */
	__s32 err;        /* negative errno */
	__u32 stage;      /* enum vpnpt_undelivered_stage */
};
#define VPNPT_UNDELIVERED_SLOTS 1024

/*
 * Data-plane events (ring buffers, best effort). Two rings, so that what
 * anyone can send in bulk (junk, drops, traffic of unknown sessions) can
 * never crowd out what the daemon acts on: vpnpt_events_v2 carries the
 * control events (PPTP_CDN, PPTP_STOP, PPTP_CALL, ESP_UNKNOWN, NO_NEIGH),
 * vpnpt_diag_events_v1 the diagnostic ones (vpnpt_event_is_diag()).
 */
enum vpnpt_event_kind {
	VPNPT_EV_MALFORMED = 1,   /* reason = why */
	VPNPT_EV_PPTP_CDN = 2,    /* server (saddr) disconnected its call id on the connection to dport */
	VPNPT_EV_PPTP_STOP = 3,   /* Stop-Control-Connection seen (dir tells who sent it) */
	VPNPT_EV_PPTP_CALL = 4,   /* call set up: id = client call id << 16 | translated id */
	VPNPT_EV_DROP = 5,        /* a packet was dropped or held: reason = why */
	VPNPT_EV_ESP_UNKNOWN = 6, /* inbound ESP from saddr with unbound SPI id (rate-limited per SPI) */
	VPNPT_EV_GRE_UNKNOWN = 7, /* inbound GRE from saddr for no known call: id = Call ID (rate-limited) */
	VPNPT_EV_SWITCHED_OFF =
	        8, /* traffic of a switched-off protocol: reason = pptp_off/ipsec_off/l2tp_off (rate-limited) */
	VPNPT_EV_L2TP_UNKNOWN = 9, /* inbound L2TP from saddr for no known tunnel: id = Tunnel ID (rate-limited) */
	VPNPT_EV_NO_NEIGH =
	        10, /* XDP found no neighbour for next hop saddr on ifindex id (toward daddr): resolve it (rate-limited) */
};

struct vpnpt_event {
	__u64 ktime_ns;
	__u32 kind;   /* enum vpnpt_event_kind */
	__u32 reason; /* enum vpnpt_reason */
	__u32 ifindex;
	__u8 dir; /* enum vpnpt_dir */
	__u8 pad[3];
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u32 id; /* by kind: Call ID, SPI, Tunnel ID; IP protocol for MALFORMED */
};

#define VPNPT_EVENTS_BYTES (256 * 1024)

/* Reports only, for `vpnpt diagnose` and the log: the diagnostic ring. */
static inline int vpnpt_event_is_diag(__u32 kind)
{
	return kind == VPNPT_EV_MALFORMED || kind == VPNPT_EV_DROP || kind == VPNPT_EV_GRE_UNKNOWN ||
	       kind == VPNPT_EV_SWITCHED_OFF || kind == VPNPT_EV_L2TP_UNKNOWN;
}

/* ---------------------------------------------------------------- PPTP */

#define VPNPT_PPTP_MAX_CALLS 65536 /* every 16-bit Call ID: the call table is indexed by it */
#define VPNPT_PPTP_MAX_STREAMS 16384
#define VPNPT_PPTP_GRE_SLOTS 131072 /* outbound GRE index: twice the calls, a power of two */
#define VPNPT_PPTP_GRE_PROBES 8     /* index slots one (client, server, server id) may use */
#define VPNPT_PPTP_ALLOC_PROBES 16  /* call table slots one client call may use */
/* A freed translated id is not given to a new call toward the same server
 * for this long: the server may still send GRE for the old call (it drops a
 * call only when its control connection's echoes fail, minutes later), and
 * that GRE must not reach another client. A freed slot keeps its server and,
 * in closed_ns, when it was freed. */
#define VPNPT_PPTP_QUARANTINE_NS (300ull * 1000000000ull)

/*
 * The state of a PPTP call or an L2TP tunnel slot (ESP SAs have none: a
 * used slot has a key and a host). Written with compare-and-swap by the
 * hooks and the daemon; the values are in the pinned tables.
 */
enum vpnpt_session_state {
	VPNPT_SESSION_FREE = 0,
	VPNPT_SESSION_REQUESTED = 1,   /* the client asked, the server has not answered */
	VPNPT_SESSION_ESTABLISHED = 2, /* the server answered */
	VPNPT_SESSION_CLOSING = 3,     /* ended; kept for a grace period so the last messages pass */
	VPNPT_SESSION_CLAIMED = 4,     /* PPTP: being filled by the LAN hook; nothing else reads it */
};

/* May carry new traffic and be found as a client's own: requested or established. */
static inline int vpnpt_session_active(__u32 state)
{
	return state == VPNPT_SESSION_REQUESTED || state == VPNPT_SESSION_ESTABLISHED;
}

/* The slot is taken, listed and counted: active, or closing. */
static inline int vpnpt_session_in_use(__u32 state)
{
	return vpnpt_session_active(state) || state == VPNPT_SESSION_CLOSING;
}

/*
 * A PPTP call as the gateway sees it. The client (PNS) on the LAN chose
 * client_call_id; the server (PAC) sees the translated id, unique on the
 * gateway; server_call_id is the PAC's own id, the key of GRE toward the
 * server.
 *
 * vpnpt_pptp_calls_v2: ARRAY indexed by the translated Call ID (host
 * order), 65,536 slots. Inbound GRE carries that id, so the call is one
 * array read away; an array slot costs its value and nothing else, where
 * a hash entry costs 64 more bytes. Translated ids are unique on the
 * gateway (not only toward one server), which caps PPTP at 65,536 calls per
 * public address. A slot is claimed by the LAN hook with compare-and-swap
 * of state FREE -> CLAIMED, filled, then set REQUESTED; both hooks update
 * it in place. The daemon changes it in place too, with the same
 * compare-and-swap of (state, server): to CLOSING, or CLAIMED (the hooks
 * ignore it), index slot freed, zeroed but for server and closed_ns (the
 * quarantine below), then FREE (loader/proto/pptp/pptp_table.h).
 */
/* A PPTP call's state is a session state; CLAIMED is PPTP's own (the LAN hook fills the slot). */
#define VPNPT_PPTP_CALL_FREE VPNPT_SESSION_FREE
#define VPNPT_PPTP_CALL_REQUESTED VPNPT_SESSION_REQUESTED /* client asked (OCRQ) or answered (ICRP) */
#define VPNPT_PPTP_CALL_ESTABLISHED VPNPT_SESSION_ESTABLISHED
#define VPNPT_PPTP_CALL_CLOSING VPNPT_SESSION_CLOSING /* cleared (CDN, connection closed) */
#define VPNPT_PPTP_CALL_CLAIMED VPNPT_SESSION_CLAIMED

struct vpnpt_pptp_call {
	__u32 state; /* enum vpnpt_session_state (VPNPT_PPTP_CALL_*); with server, the 8 bytes compare-and-swap moves */
	__be32 server;
	__be32 client;
	__be16 client_call_id;
	__be16 server_call_id; /* valid once state is ESTABLISHED */
	__u32 lan_ifindex;     /* where the client was last seen */
	/* Control connection the call belongs to (its client is the call's client). */
	__be16 ctrl_client_port;
	__be16 ctrl_public_port; /* the connection's port on the public IP, once the server answered */
	__u32 gre_slot;          /* its slot in vpnpt_pptp_gre_out_v2 + 1; 0: none yet */
	__u32 quote_noted;       /* its first GRE toward the server told the ICMP quote index (bpf/proto/gre.h) */
	__u64 created_ns;
	__u64 last_seen_ns; /* GRE or control activity, either direction */
	__u64 closed_ns;
	__u64 packets_out, bytes_out, packets_in, bytes_in; /* GRE translated */
};

/*
 * vpnpt_pptp_gre_out_v2: outbound GRE carries the *server's* Call ID, so
 * (client, server, server id) -> translated id is an open-addressed ARRAY
 * of 8-byte slots: linear probing over VPNPT_PPTP_GRE_PROBES slots from
 * vpnpt_pptp_gre_run() (abi/probe.h). A slot is claimed with a 64-bit compare-and-swap
 * from 0, and found by tag and server id, then confirmed against the call
 * itself. Look-ups never stop at an empty slot (the daemon frees slots in
 * the middle of a run), so freeing needs no tombstones.
 */
struct vpnpt_pptp_gre_slot {
	__u32 tag; /* vpnpt_pptp_gre_tag(client, server); never 0; 0 = empty slot */
	__be16 server_call_id;
	__be16 xlat_call_id;
};

static inline __u32 vpnpt_pptp_gre_tag(__be32 client, __be32 server)
{
	return vpnpt_mix3(client, server, 0x47524531u) | 1u;
}

/* (client, server, server id)'s probe run in vpnpt_pptp_gre_out_v2 (VPNPT_PPTP_GRE_PROBES slots). */
static inline struct vpnpt_run vpnpt_pptp_gre_run(__be32 client, __be32 server, __be16 server_call_id)
{
	return vpnpt_run_of(vpnpt_mix3(client, server, server_call_id), VPNPT_PPTP_GRE_SLOTS,
	                    vpnpt_pptp_gre_tag(client, server));
}

/*
 * Candidate translated ids of a client's call, in the order allocation tries
 * them: first the client's own id (most calls stay untranslated), then ids
 * hashed from (client, server, control port, client id, i), so the call is
 * found again by walking the same sequence; no separate index needed. Each
 * later candidate is a hash of its own (not own + i * step): a stride run
 * would walk into the dense block of small ids every client starts with.
 */
static inline __u16 vpnpt_pptp_candidate(__be32 client, __be32 server, __be16 ctrl_port, __be16 client_call_id, __u32 i)
{
	if (i == 0) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		return __builtin_bswap16(client_call_id); /* host order */
#else
		return client_call_id;
#endif
	}
	return (__u16)vpnpt_mix3(client, server + i * 0x9E3779B9u, (__u32)ctrl_port << 16 | client_call_id);
}

/*
 * Per-direction tracker of a PPTP control connection's byte stream, so
 * Call IDs are rewritten correctly when messages share a segment, straddle
 * segments, or are retransmitted. Key: the TCP 4-tuple as it arrives at the
 * hook (LAN side: client -> server; WAN side: server -> public IP).
 */
struct vpnpt_pptp_stream_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
};

#define VPNPT_PPTP_HDR_BYTES 20 /* enough of a message to see its type, Call IDs and result code */
/*
 * Rewrites remembered per direction, so retransmissions come out identical.
 * A patch is kept until the receiver acknowledged its bytes (TCP never resends
 * those); 64 covers the most rewriting messages a 1500-byte segment holds
 * (1460 / 24 = 60), so a segment never needs more room than the ring has.
 */
#define VPNPT_PPTP_PATCHES 64

/* One rewrite of a 2-byte field at stream position seq: old -> new (network order). */
struct vpnpt_pptp_patch {
	__u32 seq;
	__be16 old_id;
	__be16 new_id;
};

enum vpnpt_pptp_stream_flags {
	VPNPT_PPTP_STREAM_SYNCED = 1u << 0,  /* message boundaries known */
	VPNPT_PPTP_STREAM_DECIDED = 1u << 3, /* current message's Call ID rewrite is decided */
	VPNPT_PPTP_STREAM_FIN = 1u << 1,     /* FIN or RST seen */
	VPNPT_PPTP_STREAM_STOPPED = 1u << 2, /* Stop-Control-Connection seen */
	VPNPT_PPTP_STREAM_OPENING =
	        1u << 4, /* LAN side: SYN sent, no payload yet; the server's SYN-ACK may sync the WAN side */
};

/* Where a tracker's walk stands: the part the hook copies to its stack and back. */
struct vpnpt_pptp_track {
	__u32 next_seq; /* stream position up to which bytes were delivered */
	__u32 msg_seq;  /* position where the current message starts */
	__u16 msg_len;  /* its length, 0 until known */
	__u16 hdr_have; /* bytes of its header known (contiguous from msg_seq) */
	__u8 hdr[VPNPT_PPTP_HDR_BYTES];
	__u32 flags;         /* enum vpnpt_pptp_stream_flags */
	__u32 patch_next;    /* ring position of the next patch */
	__u32 forgotten_end; /* end of the newest unacknowledged patch pushed out of the ring */
	__u32 pad;
};

struct vpnpt_pptp_stream {
	struct vpnpt_pptp_track t;
	__u64 last_seen_ns;
	/* The LAN-side stream of the control connection (client, server,
	 * ports), so the daemon can end the calls of a closed connection.
	 * Set on LAN-side trackers only. */
	__be32 client;
	__be16 client_port;
	/* The other direction's tracker, whose segments acknowledge this
	 * one's bytes. LAN side: the connection's port on the public IP (its
	 * WAN key is server:1723 -> public IP:peer_port). WAN side: the client
	 * and its port (LAN key peer_client:peer_client_port -> server:1723).
	 * 0: not known yet. */
	__be16 peer_port;
	__be32 peer_client;
	__be16 peer_client_port;
	__u16 ack_known; /* 1 once the receiver's acknowledgement was seen: acked holds */
	__u32 acked;     /* the receiver acknowledged the stream up to here; written by the other direction */
	__u32 pad;
	struct vpnpt_pptp_patch patches[VPNPT_PPTP_PATCHES];
};

/* Load-time configuration limits (set in .rodata before load). */
#define VPNPT_VLAN_DEPTH_MAX 2
/* How long a FIB answer may be reused from the per-CPU next-hop cache (bpf/lib/fwd.h),
 * the default of cfg_fib_cache_ns; 0 turns the cache off. A route or neighbour
 * change takes effect on the fast path within this bound (plus one jiffy). */
#ifndef VPNPT_FIB_CACHE_NS_DEFAULT
#define VPNPT_FIB_CACHE_NS_DEFAULT 100000000ull
#endif
#define VPNPT_FIB_CACHE_NS_MAX 1000000000ull
#define VPNPT_FIB_CACHE_SLOTS 256 /* per CPU; a power of two */
/* The NAT-T mapping cache (bpf/proto/natt.h) reuses a conntrack answer within the same bound. */
#define VPNPT_NATT_CACHE_SLOTS 4096 /* per CPU (32 B each); a power of two */
/* What a forwarded NAT-T packet renews its answered conntrack entry to (bpf/lib/conntrack.h),
 * the default of cfg_natt_ct_timeout_ms: the kernel's nf_conntrack_udp_timeout_stream
 * default. The loader sets the running netns's value at attach. */
#define VPNPT_NATT_CT_TIMEOUT_MS_DEFAULT 120000u

/* ---------------------------------------------------------------- IPsec (raw ESP) */

/*
 * One direction of an ESP security association through the gateway.
 * vpnpt_esp_out_v2: (server, SPI the host sends with) -> host; learned by
 * the LAN hook from the host's first packet. vpnpt_esp_in_v2: (server, SPI
 * the server sends with) -> host; written by the daemon's binder (SPIs are
 * agreed inside encrypted IKE, so they are learned from traffic), read by
 * the WAN hook. Both expired by the daemon when idle.
 *
 * Each table is an ARRAY of slots, open-addressed: (server, SPI) hashes to
 * a home slot and the SA sits in one of the VPNPT_ESP_PROBES slots from
 * there. SPIs are chosen by the peers, so no id vpnpt picks can index the
 * table (as PPTP's and L2TP's do); this is the compact alternative to a
 * hash table, whose elements cost about 65 B more each and whose lookups
 * walked bucket chains past idle SAs. A slot is used when its key (the
 * first 8 bytes) is set and its host is not 0: the LAN hook claims a slot
 * with one 64-bit compare-and-swap of the key and writes the host last;
 * the daemon writes the host last and clears it first. Lookups scan the
 * whole run (slots are emptied in place, no tombstones). The slot count is
 * the array's max_entries, a power of two that the hooks read from the map
 * itself, so a table of any size (the scale benchmark's) is used right.
 */
#define VPNPT_ESP_MAX_SAS 65536 /* per direction */
#define VPNPT_ESP_SLOTS 131072  /* twice the SAs, a power of two */
#define VPNPT_ESP_PROBES 16     /* slots one (server, SPI) may use: a full table refuses ~0.05 % */

struct vpnpt_esp_sa {
	__be32 server; /* with spi: the key; 0: empty slot */
	__be32 spi;
	__be32 host;       /* 0 while the slot is being written: lookups skip it */
	__u32 lan_ifindex; /* where the host was last seen (out), 0 (in) */
	__u64 created_ns;
	__u64 last_seen_ns;
	__u64 packets;
	__u64 bytes;
};

/*
 * (server, SPI)'s probe run in a table of @slots (VPNPT_ESP_PROBES slots).
 * ESP slots carry no tag: they are matched on their whole key.
 * The SPI is finalised first: in network order both words vary in their
 * high bits (servers in the last octet, sequential SPIs in the last bytes),
 * which vpnpt_mix3's multiply-first step would fold into 16 bits: 200
 * servers with sequential SPIs then left 11 % of a 15 % full table without
 * a slot. Now they fare as random keys do.
 */
static inline struct vpnpt_run vpnpt_esp_run(__be32 server, __be32 spi, __u32 slots)
{
	return vpnpt_run_of(vpnpt_mix3(server, vpnpt_fmix32(spi), 0x45535032u), slots, 0);
}

/*
 * vpnpt_report_limit_v1 (LRU): (kind, address, id) -> ktime of the last
 * report, so a flood of unknown SPIs or Call IDs cannot flood the event
 * ring: one report per key per 100 ms.
 */
struct vpnpt_report_key {
	__u32 kind;  /* enum vpnpt_event_kind */
	__be32 addr; /* the server (unknown ids) or the LAN host (switched off) */
	__u32 id;    /* SPI, Call ID, class */
};
#define VPNPT_REPORT_SLOTS 4096
#define VPNPT_REPORT_GAP_NS 100000000ull

/*
 * vpnpt_frags_v1 (LRU): fragmented datagrams of vpnpt's sessions. Only a
 * datagram's first fragment carries the SPI, Call ID or Tunnel ID; the
 * later ones carry the IPv4 header alone. Were they left to the kernel, it
 * would reassemble and NAT them by its own conntrack entries, which may name
 * another host on the same public tuple. So a first fragment vpnpt
 * translates leaves (source, destination, IP ID, protocol, direction) ->
 * the address it got here, and the later fragments follow it; a first
 * fragment vpnpt does not translate deletes the record of its key, so its
 * later fragments go to the kernel with it (docs/reliability.md).
 */
struct vpnpt_frag_key {
	__be32 saddr, daddr; /* as the fragments arrive */
	__be16 id;           /* IPv4 identification */
	__u8 proto;
	__u8 dir; /* enum vpnpt_dir */
};

struct vpnpt_frag {
	__u64 at_ns; /* vpnpt_now_ns() of the first fragment */
	__be32 addr; /* the new source (outbound) or destination (inbound) */
	__u32 cls;   /* enum vpnpt_class of the datagram (its later fragments have no ports) */
};
#define VPNPT_FRAG_SLOTS 8192
/* A later fragment follows a record this young: fragments of one datagram come together, and an
 * older record may name an earlier datagram with the same IP ID. */
#define VPNPT_FRAG_FRESH_NS (5ull * 1000000000ull)

/* ---------------------------------------------------------------- L2TP (v2 over UDP) */

/*
 * Every LAN client keeps its own UDP source port on the public side (1701
 * for most), so several clients of one server (LNS) share the tuple
 * (public IP, 1701, server, 1701); inbound packets are told apart by the
 * Tunnel ID in the L2TP header, which names the receiver's tunnel. The
 * client picks that id (Assigned Tunnel ID AVP in its SCCRQ); the daemon
 * keeps it when no other tunnel on the gateway has it and otherwise
 * rewrites the AVP to a free id (xlat), which the WAN hook rewrites back
 * in every header. docs/l2tp.md has the rules.
 *
 * vpnpt_l2tp_tunnels_v2: ARRAY indexed by that translated id (host order),
 * so inbound L2TP is one array read. An array slot costs its value and
 * nothing else; a hash element cost about 65 B more, and with many idle
 * tunnels every lookup walked a chain past them (docs/benchmarks.md). The
 * price: translated ids are unique per gateway, not per server, so at most
 * 65,535 tunnels per public address (id 0 means "no tunnel" in L2TP).
 * Per-port NAT tunnels (hidden Assigned Tunnel ID) hold a slot too, at an
 * id that never appears on the wire; vpnpt_l2tp_ports_v2 finds them.
 *
 * vpnpt_l2tp_out_v2: open-addressed outbound index, (client, server,
 * client port) -> tunnel slot, VPNPT_L2TP_OUT_PROBES slots from the home
 * slot; the LAN hook checks the tunnel slot it names. One index slot per
 * source: a source with several tunnels to one server sends them all from
 * one public port, so the hook needs any one of them. The daemon chains the
 * others through vpnpt_l2tp_tunnel.next and moves the index slot along the
 * chain when the tunnel it names ends.
 *
 * All three are written by the daemon only; the hooks update the counters,
 * the time stamps and server_port in the tunnel slot. Memory-mappable, so
 * the daemon scans and updates single fields without a syscall per slot.
 */
#define VPNPT_L2TP_MAX_TUNNELS 65536    /* tunnel slots; id 0 is never used */
#define VPNPT_L2TP_OUT_SLOTS 131072     /* outbound index: twice the tunnels, a power of two */
#define VPNPT_L2TP_OUT_PROBES 8         /* index slots one (client, server, client port) may use */
#define VPNPT_L2TP_PORT_NAT_FIRST 61000 /* public ports handed out for per-port NAT */
#define VPNPT_L2TP_PORT_NAT_PORTS 1000  /* 61000..61999 */

/* An L2TP tunnel's state is a session state. */
#define VPNPT_L2TP_FREE VPNPT_SESSION_FREE
#define VPNPT_L2TP_REQUESTED VPNPT_SESSION_REQUESTED     /* SCCRQ sent */
#define VPNPT_L2TP_ESTABLISHED VPNPT_SESSION_ESTABLISHED /* the server answered (SCCRP) */
#define VPNPT_L2TP_CLOSING VPNPT_SESSION_CLOSING         /* StopCCN seen */

enum vpnpt_l2tp_tunnel_flags {
	VPNPT_L2TP_F_PORT_NAT = 1u << 0, /* Assigned Tunnel ID hidden: demultiplexed by public port only */
	VPNPT_L2TP_F_CONFIRMED =
	        1u << 1, /* the client's SCCCN passed: a later SCCRQ of its id is a new tunnel (daemon only) */
};

/* Written by the daemon (setup, state), updated by the hooks (counters, stamps, server_port). */
struct vpnpt_l2tp_tunnel {
	__u32 state; /* enum vpnpt_session_state (VPNPT_L2TP_*); written last on setup, first on removal */
	__be32 server;
	__be32 client;
	__be16 client_port;
	__be16 public_port;      /* the client's port on the public IP (= client_port unless per-port NAT) */
	__be16 client_tunnel_id; /* the id the client chose (what it expects in headers) */
	__be16 server_tunnel_id; /* the server's Assigned Tunnel ID, once seen (0 before) */
	__be16 server_port;      /* the port the server last answered from */
	__u16 next;              /* the same source's next tunnel to the server (slot); 0: none. Daemon only */
	__u32 flags;             /* enum vpnpt_l2tp_tunnel_flags */
	__u32 lan_ifindex;
	__u32 sessions; /* calls inside the tunnel, as the daemon counted them */
	__u32 out_slot; /* its source's slot in vpnpt_l2tp_out_v2 + 1 */
	__u64 created_ns;
	__u64 last_seen_ns; /* inbound traffic */
	__u64 last_out_ns;  /* outbound traffic */
	__u64 closed_ns;
	__u64 packets_in, bytes_in;
	__u64 packets_out, bytes_out;
};

struct vpnpt_l2tp_out_slot {
	__u32 tag; /* vpnpt_l2tp_out_tag(client, server, client port); never 0; 0 = empty slot */
	__u16 xid; /* the tunnel's slot (host order) */
	__u16 pad;
};

/*
 * vpnpt_l2tp_ports_v2[port - VPNPT_L2TP_PORT_NAT_FIRST]: the per-port NAT
 * tunnel on that public port. 8 bytes because array elements are 8-byte
 * aligned: that is the stride the daemon sees through mmap.
 */
struct vpnpt_l2tp_port {
	__u32 xid1; /* the tunnel's slot + 1; 0: none */
	__u32 pad;
};

static inline __u32 vpnpt_l2tp_out_tag(__be32 client, __be32 server, __be16 client_port)
{
	return vpnpt_mix3(client, server, 0x4c325450u ^ client_port) | 1u;
}

/* (client, server, client port)'s probe run in vpnpt_l2tp_out_v2 (VPNPT_L2TP_OUT_PROBES slots). */
static inline struct vpnpt_run vpnpt_l2tp_out_run(__be32 client, __be32 server, __be16 client_port)
{
	return vpnpt_run_of(vpnpt_mix3(server, client, client_port), VPNPT_L2TP_OUT_SLOTS,
	                    vpnpt_l2tp_out_tag(client, server, client_port));
}

/*
 * vpnpt_l2tp_kernel_v1 (LRU): Tunnel IDs of L2TP tunnels the kernel's NAT
 * carries, per server: what the server addresses them with (the LAN
 * client's own id). vpnpt's tunnels share the public tuple toward a server
 * and are told apart by that id alone, so a vpnpt tunnel with the id of a
 * kernel one would take its packets, and the other way round. The hooks
 * record each id they see go to the kernel: inbound L2TP of no vpnpt
 * tunnel, and the Assigned Tunnel ID of a tunnel request the kernel gets
 * (daemon down, no route, fragmented). The daemon gives no vpnpt tunnel an
 * id recorded toward its server within VPNPT_L2TP_KERNEL_FRESH_NS; a request
 * for the kernel whose id a live vpnpt tunnel toward that server has is
 * dropped (l2tp_id_in_use), and the client tries again.
 */
struct vpnpt_l2tp_kernel_key {
	__be32 server;
	__be16 tunnel_id;
	__u16 pad;
};
#define VPNPT_L2TP_KERNEL_SLOTS 4096
/* A kernel tunnel sends at least a HELLO a minute (RFC 2661 6.5): ten without a word, it is gone. */
#define VPNPT_L2TP_KERNEL_FRESH_NS (600ull * 1000000000ull)
/* The hooks rewrite a record at most once a second. */
#define VPNPT_L2TP_KERNEL_REFRESH_NS 1000000000ull

/*
 * vpnpt_l2tp_punt_v1: L2TP control messages for the daemon. SETUP: a
 * tunnel request (Tunnel ID 0) the LAN hook dropped; the daemon assigns
 * the tunnel and transmits the frame itself on out_ifindex (MACs and TTL
 * as the data plane would). COPY: a control message the data plane
 * forwarded, for the daemon's tunnel and session bookkeeping.
 */
enum vpnpt_punt_kind {
	VPNPT_PUNT_SETUP = 1,
	VPNPT_PUNT_COPY = 2,
};

#define VPNPT_PUNT_FRAME_MAX 1024

struct vpnpt_l2tp_punt {
	__u64 ktime_ns;
	__u32 kind; /* enum vpnpt_punt_kind */
	__u32 in_ifindex;
	__u32 out_ifindex; /* SETUP: where the FIB sends it */
	__u8 dir;          /* enum vpnpt_dir */
	__u8 pad;
	__u8 smac[6]; /* SETUP: the egress MAC addresses from the FIB */
	__u8 dmac[6];
	__u16 l3_off;    /* offset of the IPv4 header in frame */
	__u16 frame_len; /* bytes in frame (whole frame for SETUP) */
	__u16 pad2;
	__u8 frame[VPNPT_PUNT_FRAME_MAX];
};

#define VPNPT_PUNT_RING_BYTES (256 * 1024)

/*
 * vpnpt_daemon_v1 (key 0): the daemon's heartbeat, written every 100 ms.
 * Work that needs the daemon (L2TP tunnel setup) goes to the kernel's NAT
 * instead while the heartbeat is older than VPNPT_DAEMON_STALE_NS.
 */
struct vpnpt_daemon {
	__u64 heartbeat_ns; /* CLOCK_MONOTONIC, as bpf_ktime_get_ns() */
	__u32 pid;
	__u32 pad;
};
#define VPNPT_DAEMON_STALE_NS 1000000000ull

/*
 * vpnpt_meta (array, 1 slot; written by attach, never read by the hooks):
 * which build attached the data plane. Its name and this prefix never
 * change, so any later build can read an older one's record; a build that
 * needs more appends members and raises @size.
 */
#define VPNPT_META_MAGIC 0x7670746du /* "vptm" */
#define VPNPT_VERSION_LEN 32
struct vpnpt_meta {
	__u32 magic;       /* VPNPT_META_MAGIC */
	__u32 size;        /* sizeof(struct vpnpt_meta) of the build that wrote it */
	__u64 abi_hash;    /* every pinned map's layout (loader/dataplane/map_layout.h), hashed together */
	__u64 build_hash;  /* the four hook objects' bytes: equal means the same programs */
	__u64 attached_at; /* CLOCK_REALTIME ns of the attach or upgrade that wrote it */
	char version[VPNPT_VERSION_LEN];       /* the build's version */
	char upgraded_from[VPNPT_VERSION_LEN]; /* the version replaced by the last in-place upgrade, or "" */
};

/* The daemon serves (the hooks hand it L2TP setup) while its heartbeat is fresh at @now_ns. */
static inline int vpnpt_daemon_serving(__u64 heartbeat_ns, __u64 now_ns)
{
	return heartbeat_ns && now_ns - heartbeat_ns < VPNPT_DAEMON_STALE_NS;
}

/* ---------------------------------------------------------------- ICMP quote index */

/*
 * An ICMP error about a packet vpnpt sent for a session quotes that packet
 * as it left the gateway: PPTP's GRE carries the server's Call ID, L2TP the
 * server's Tunnel ID. The server picks those ids among its own sessions
 * only, so two LAN hosts' sessions to one server can carry the same one
 * (pptpd seeds each control connection's ids from the clock). The quote
 * index maps (server, the server's id) to the one session carrying it, or
 * says the pair is shared: an error about a shared pair is not relayed
 * (icmp_ambiguous), as a guess could tell one host about another's packets.
 *
 * vpnpt_pptp_quote_v1, vpnpt_l2tp_quote_v1: open-addressed ARRAYs of 8-byte
 * slots, one slot per pair, VPNPT_QUOTE_PROBES from vpnpt_quote_run().
 * Written with 64-bit compare-and-swap by whoever learns the server's id
 * (the WAN hook for PPTP, the daemon for L2TP): a pair a live session of
 * another LAN host carries too becomes shared (two sessions of one host
 * share nothing: either names the host), and each later session of a
 * shared pair bumps its generation. The daemon's sweep counts each pair's live
 * sessions and writes the result with a compare-and-swap from the word it
 * read *before* counting: a session established meanwhile changed the word,
 * so the stale count is never written. A slot may name a session that has
 * ended since; the relay confirms the session (live, same server, same id).
 */
#define VPNPT_QUOTE_SLOTS 131072 /* twice the sessions of the larger table, a power of two */
#define VPNPT_QUOTE_PROBES 8

struct vpnpt_quote_slot {
	__u32 tag;    /* vpnpt_quote_tag(server, id); never 0; 0 = empty slot */
	__u16 owner;  /* the session's slot (translated Call ID, tunnel slot), host order; valid when not shared */
	__u16 shared; /* 0: owner is the pair's only session; else a generation, bumped by each new session */
};

static inline __u32 vpnpt_quote_tag(__be32 server, __be16 id)
{
	return vpnpt_mix3(server, id, 0x51554f54u) | 1u;
}

/* (server, id)'s probe run in a quote index (VPNPT_QUOTE_PROBES slots). */
static inline struct vpnpt_run vpnpt_quote_run(__be32 server, __be16 id)
{
	return vpnpt_run_of(vpnpt_mix3(id, server, 0x49434d50u), VPNPT_QUOTE_SLOTS, vpnpt_quote_tag(server, id));
}

/* A slot as one word, the unit of compare-and-swap (little- and big-endian alike). */
static inline __u64 vpnpt_quote_word(__u32 tag, __u16 owner, __u16 shared)
{
	struct vpnpt_quote_slot s = {tag, owner, shared};
	__u64 w;

	__builtin_memcpy(&w, &s, sizeof(w));
	return w;
}

static inline struct vpnpt_quote_slot vpnpt_quote_slot_of(__u64 w)
{
	struct vpnpt_quote_slot s;

	__builtin_memcpy(&s, &w, sizeof(s));
	return s;
}

/* The next generation of a shared pair: never 0, which means "not shared". */
static inline __u16 vpnpt_quote_next_gen(__u16 shared)
{
	return (__u16)(shared + 1) ? (__u16)(shared + 1) : 1;
}

/*
 * What a session's note writes over the slot word @seen of its pair (0: no
 * slot yet): the session as owner, the same word if it owns it already, or
 * the pair shared (next generation) when it was shared or @other_host (the
 * owner in @seen carries the pair for another LAN host). The one rule for
 * the hook (bpf/proto/pptp_calls.h) and the daemon (loader/session/quote_index.cpp).
 */
static inline __u64 vpnpt_quote_noted(__u64 seen, __u32 tag, __u16 owner, int other_host)
{
	struct vpnpt_quote_slot s = vpnpt_quote_slot_of(seen);

	if (seen && !s.shared && s.owner == owner)
		return seen;
	if (seen && (s.shared || other_host))
		return vpnpt_quote_word(tag, 0, vpnpt_quote_next_gen(s.shared));
	return vpnpt_quote_word(tag, owner, 0);
}

/* Whether call @c carries (@server, @server_call_id) for the index: answered (GRE-indexed), not yet freed. */
static inline int vpnpt_pptp_quotable(const struct vpnpt_pptp_call *c, __be32 server, __be16 server_call_id)
{
	return (c->state == VPNPT_PPTP_CALL_ESTABLISHED || c->state == VPNPT_PPTP_CALL_CLOSING) && c->gre_slot &&
	       c->server == server && c->server_call_id == server_call_id;
}

/* Whether tunnel @t carries (@server, @server_tid) for the index (per-port NAT tunnels go by public port). */
static inline int vpnpt_l2tp_quotable(const struct vpnpt_l2tp_tunnel *t, __be32 server, __be16 server_tid)
{
	return vpnpt_session_in_use(t->state) && !(t->flags & VPNPT_L2TP_F_PORT_NAT) && server_tid &&
	       t->server == server && t->server_tunnel_id == server_tid;
}

/* ---------------------------------------------------------------- per-host quotas */

/*
 * vpnpt_host_quota_v1 (LRU hash, key: LAN host): how many entries of the
 * shared tables one LAN host holds, so that one host (buggy or hostile)
 * can only fail its own new sessions, never take the tables from the
 * others. The data plane counts up where it creates an entry and refuses
 * at the cap (load-time, VPNPT_HOST_MAX_* by default); the daemon counts
 * the tables themselves every second, which also accounts for everything
 * reaped, and adds the difference to what the counters held before it
 * counted (struct vpnpt_quota_adjust), atomically: an entry the data plane
 * creates while the daemon counts is never lost. Counts are compared as
 * signed: a count briefly below zero is below every cap.
 */
struct vpnpt_host_quota {
	__u32 pptp_calls;   /* with pptp_streams: one 64-bit word the data plane compares-and-swaps */
	__u32 pptp_streams; /* control connections the host opened */
	__u32 esp_sas;      /* outbound SPIs; with pad: the second word */
	__u32 pad;
};

/*
 * The argument of the quota_adjust program (BPF_PROG_TYPE_SYSCALL, run by
 * the daemon through BPF_PROG_TEST_RUN): signed differences to add to one
 * host's counts, atomically.
 */
struct vpnpt_quota_adjust {
	__be32 host;
	__s32 pptp_calls;
	__s32 pptp_streams;
	__s32 esp_sas;
};
#define VPNPT_HOST_QUOTA_SLOTS 65536
#define VPNPT_HOST_MAX_CALLS 1024
#define VPNPT_HOST_MAX_STREAMS 256
#define VPNPT_HOST_MAX_SAS 1024

/* ---------------------------------------------------------------- LAN link layer */

/*
 * vpnpt_lan_l2_v1 (LRU hash, key: LAN host; XDP only): the LAN port and the
 * MACs a host's own outbound VPN frames last came with. When the kernel has
 * lost its neighbour entry for the host, XDP sends the host's inbound
 * packets there (VPNPT_REASON_NEIGH_LEARNED) instead of handing translated
 * packets to the stack, and the daemon has the kernel resolve the neighbour
 * again (VPNPT_EV_NO_NEIGH). Used only while fresh.
 */
struct vpnpt_lan_l2 {
	__u8 host_mac[6];   /* the frames' source: the host, or the LAN router in front of it */
	__u8 router_mac[6]; /* the frames' destination: this router's port */
	__u32 ifindex;      /* the port they came in on */
	__u64 seen_ns;      /* vpnpt_now_ns() when last written */
};
#define VPNPT_LAN_L2_SLOTS 65536
#define VPNPT_LAN_L2_REFRESH_NS (1000ull * 1000 * 1000)    /* rewritten at most once a second per host */
#define VPNPT_LAN_L2_FRESH_NS (60ull * 1000 * 1000 * 1000) /* used for a minute after the host last sent */

/* ---------------------------------------------------------------- IP passthrough */

/*
 * With vpnpt_config.passthrough_host set, unsolicited inbound traffic to
 * the public IP that belongs to no vpnpt session, no kernel connection and
 * no local port goes to that host, ports unchanged; the host's answers
 * leave with the public IP. vpnpt_pt_flows_v1 (LRU) remembers those
 * inbound-opened flows so the answers are recognised. Key: the far end and
 * the ports as seen on the WAN; ports 0 for protocols without ports.
 */
struct vpnpt_pt_flow_key {
	__be32 peer;
	__be16 peer_port;
	__be16 local_port;
	__u8 proto;
	__u8 pad[3];
};

struct vpnpt_pt_flow {
	__u64 created_ns;
	__u64 last_seen_ns;
	__u64 packets_in, packets_out;
};
#define VPNPT_PT_MAX_FLOWS 65536

/* vpnpt_local_ports_v1: the router's own ports, never passed through. Key: (proto, port). */
struct vpnpt_local_port_key {
	__be16 port;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};
#define VPNPT_MAX_LOCAL_PORTS 256

/* ---------------------------------------------------------------- diagnose */

/*
 * vpnpt_diag_v1: the last VPNPT_DIAG_SLOTS noteworthy things, for `vpnpt
 * diagnose`, written by the daemon (from data-plane events and slow-path
 * decisions) as a ring indexed by seq % VPNPT_DIAG_SLOTS. Pinned, so it
 * outlives the daemon and the CLI reads it directly.
 */
#define VPNPT_DIAG_SLOTS 512

enum vpnpt_diag_kind {
	VPNPT_DIAG_PACKET = 1,       /* the data plane did not translate a packet: reason */
	VPNPT_DIAG_ESP_BOUND = 2,    /* SPI id from server bound to host */
	VPNPT_DIAG_ESP_REFUSED = 3,  /* SPI id from server not bound: reason = enum vpnpt_diag_refusal */
	VPNPT_DIAG_IKE_HELD = 4,     /* host's CHILD_SA request to server held: other_host owns the server's next SPI */
	VPNPT_DIAG_PPTP_CALL = 5,    /* call set up: id = client id << 16 | translated id */
	VPNPT_DIAG_PPTP_CLOSED = 6,  /* call ended: id = translated id, reason = enum vpnpt_diag_close */
	VPNPT_DIAG_L2TP_TUNNEL = 7,  /* tunnel set up: id = client tunnel id << 16 | translated id, aux = flags */
	VPNPT_DIAG_L2TP_CLOSED = 8,  /* tunnel ended: id = translated id, reason = enum vpnpt_diag_close */
	VPNPT_DIAG_L2TP_REFUSED = 9, /* tunnel request not forwarded: reason = enum vpnpt_l2tp_refusal */
};

enum vpnpt_l2tp_refusal {
	VPNPT_L2TP_REFUSE_NO_ID = 1,        /* no free Tunnel ID toward that server */
	VPNPT_L2TP_REFUSE_TABLE_FULL = 2,   /* tunnel or client table full */
	VPNPT_L2TP_REFUSE_MALFORMED = 3,    /* not a valid SCCRQ (no Assigned Tunnel ID, bad AVP) */
	VPNPT_L2TP_REFUSE_NO_PORT = 4,      /* hidden Tunnel ID and no free public port for per-port NAT */
	VPNPT_L2TP_REFUSE_STALE = 5,        /* queued too long (the daemon was not running) */
	VPNPT_L2TP_REFUSE_HOST_QUOTA = 6,   /* the LAN host already holds its share of tunnels */
	VPNPT_L2TP_REFUSE_SWITCHED_OFF = 7, /* queued before L2TP was switched off (or deferred) */
	VPNPT_L2TP_REFUSE_MAX
};
#define VPNPT_HOST_MAX_TUNNELS 256

enum vpnpt_diag_refusal {
	VPNPT_REFUSE_NO_OWNER = 1,  /* no host finished a CHILD_SA exchange with that server recently */
	VPNPT_REFUSE_IN_FLIGHT = 2, /* the owner's exchange is still under way */
	VPNPT_REFUSE_AMBIGUOUS = 3, /* more than one host could own it */
};

enum vpnpt_diag_close {
	VPNPT_CLOSE_CDN = 1,        /* the server disconnected it */
	VPNPT_CLOSE_CONNECTION = 2, /* its control connection ended */
	VPNPT_CLOSE_UNANSWERED = 3, /* the server never answered */
	VPNPT_CLOSE_IDLE = 4,       /* idle too long */
	VPNPT_CLOSE_FLUSHED = 5,    /* the protocol was switched off or handed to the kernel */
	VPNPT_CLOSE_STOPCCN = 6,    /* L2TP: StopCCN from the client or the server */
};

struct vpnpt_diag_entry {
	__u64 seq;     /* 0: empty slot */
	__u64 wall_ns; /* CLOCK_REALTIME */
	__u32 kind;    /* enum vpnpt_diag_kind */
	__u32 reason;  /* by kind */
	__be32 host;   /* LAN host, 0 if unknown */
	__be32 server;
	__be32 other_host; /* e.g. the host the server is reserved for */
	__u32 id;          /* SPI, Call ID */
	__u32 aux;         /* by kind: ms left, class, ... */
	__u8 dir;
	__u8 pad[3];
};

#endif /* VPNPT_ABI_H */
