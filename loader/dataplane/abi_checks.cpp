// Compile-time guards: the C++ view of the ABI must match the BPF one
// byte for byte. A failing assert here means abi/vpnpt_abi.h changed in a
// way that also needs a new pin name suffix.
#include <cstddef>

#include "abi/vpnpt_abi.h"

static_assert(sizeof(vpnpt_counter) == 16);
static_assert(offsetof(vpnpt_counter, packets) == 0);
static_assert(offsetof(vpnpt_counter, bytes) == 8);

static_assert(sizeof(vpnpt_config) == 24);
static_assert(offsetof(vpnpt_config, public_ip) == 0);
static_assert(offsetof(vpnpt_config, wan_ifindex) == 4);
static_assert(offsetof(vpnpt_config, switches) == 8);
static_assert(offsetof(vpnpt_config, generation) == 12);
static_assert(offsetof(vpnpt_config, deferred) == 16);
static_assert(offsetof(vpnpt_config, passthrough_host) == 20);

static_assert(sizeof(vpnpt_iface) == 24);
static_assert(offsetof(vpnpt_iface, why) == 16 && offsetof(vpnpt_iface, why_ifindex) == 20);
static_assert(offsetof(vpnpt_iface, role) == 0);
static_assert(offsetof(vpnpt_iface, xdp_mode) == 4);
static_assert(offsetof(vpnpt_iface, prog_id) == 8);
static_assert(offsetof(vpnpt_iface, flags) == 12);

static_assert(sizeof(vpnpt_event) == 40);
static_assert(offsetof(vpnpt_event, ktime_ns) == 0);
static_assert(offsetof(vpnpt_event, kind) == 8);
static_assert(offsetof(vpnpt_event, reason) == 12);
static_assert(offsetof(vpnpt_event, ifindex) == 16);
static_assert(offsetof(vpnpt_event, dir) == 20);
static_assert(offsetof(vpnpt_event, saddr) == 24);
static_assert(offsetof(vpnpt_event, daddr) == 28);
static_assert(offsetof(vpnpt_event, sport) == 32);
static_assert(offsetof(vpnpt_event, id) == 36);

static_assert(VPNPT_COUNTER_SLOTS == 2u * 10u);
static_assert(VPNPT_REASON_SLOTS == 2u * 53u);
static_assert(sizeof(vpnpt_esp_sa) == 48);  // a multiple of 8: the array stride mmap sees
static_assert(offsetof(vpnpt_esp_sa, server) == 0 &&
              offsetof(vpnpt_esp_sa, spi) == 4);  // the 8-byte key the hook claims
static_assert(offsetof(vpnpt_esp_sa, host) == 8);
static_assert(offsetof(vpnpt_esp_sa, created_ns) == 16);
static_assert(offsetof(vpnpt_esp_sa, bytes) == 40);
static_assert(VPNPT_ESP_SLOTS >= 2 * VPNPT_ESP_MAX_SAS && (VPNPT_ESP_SLOTS & (VPNPT_ESP_SLOTS - 1)) == 0);

// PPTP tables: keys hash by value, so there must be no uninitialised padding.
// The outbound GRE index slot is claimed with one 64-bit compare-and-swap.
static_assert(sizeof(vpnpt_pptp_gre_slot) == 8);
static_assert(sizeof(vpnpt_quote_slot) == 8);
static_assert(offsetof(vpnpt_quote_slot, owner) == 4);
static_assert(offsetof(vpnpt_quote_slot, shared) == 6);
static_assert(offsetof(vpnpt_pptp_gre_slot, server_call_id) == 4);
static_assert(offsetof(vpnpt_pptp_gre_slot, xlat_call_id) == 6);
static_assert(sizeof(vpnpt_pptp_stream_key) == 12);
static_assert(sizeof(vpnpt_pptp_patch) == 8);
static_assert(offsetof(vpnpt_pptp_call, state) == 0);  // state and server: one 64-bit compare-and-swap
static_assert(offsetof(vpnpt_pptp_call, server) == 4 && sizeof(vpnpt_pptp_call) % 8 == 0);
static_assert(offsetof(vpnpt_pptp_call, server) == 4);
static_assert(offsetof(vpnpt_pptp_call, client) == 8);
static_assert(offsetof(vpnpt_pptp_call, client_call_id) == 12);
static_assert(offsetof(vpnpt_pptp_call, server_call_id) == 14);
static_assert(offsetof(vpnpt_pptp_call, lan_ifindex) == 16);
static_assert(offsetof(vpnpt_pptp_call, ctrl_public_port) == 22);
static_assert(offsetof(vpnpt_pptp_call, gre_slot) == 24);
static_assert(offsetof(vpnpt_pptp_call, created_ns) == 32);
static_assert(offsetof(vpnpt_pptp_call, packets_out) == 56);
static_assert(sizeof(vpnpt_pptp_call) == 88);
static_assert(VPNPT_PPTP_MAX_CALLS == 65536);  // the call table is indexed by a 16-bit Call ID
static_assert((VPNPT_PPTP_GRE_SLOTS & (VPNPT_PPTP_GRE_SLOTS - 1)) == 0);
static_assert(offsetof(vpnpt_pptp_track, hdr) == 12);
static_assert(offsetof(vpnpt_pptp_track, flags) == 32);
static_assert(sizeof(vpnpt_pptp_track) == 48);
static_assert(offsetof(vpnpt_pptp_stream, last_seen_ns) == 48);
static_assert(offsetof(vpnpt_pptp_stream, peer_port) == 62);
static_assert(offsetof(vpnpt_pptp_stream, acked) == 72);
static_assert(offsetof(vpnpt_pptp_stream, patches) == 80);
static_assert(sizeof(vpnpt_pptp_stream) == 80 + 8 * VPNPT_PPTP_PATCHES);

static_assert(sizeof(vpnpt_report_key) == 12);
static_assert(sizeof(vpnpt_frag_key) == 12);  // hashed by value: no implicit padding
static_assert(offsetof(vpnpt_frag_key, proto) == 10);
static_assert(sizeof(vpnpt_frag) == 16);
static_assert(sizeof(vpnpt_l2tp_kernel_key) == 8);
static_assert(sizeof(vpnpt_diag_entry) == 48);
static_assert(offsetof(vpnpt_diag_entry, kind) == 16);
static_assert(offsetof(vpnpt_diag_entry, dir) == 44);

// L2TP tables (keys hash by value: no implicit padding anywhere).
static_assert(sizeof(vpnpt_l2tp_tunnel) == 104);
static_assert(offsetof(vpnpt_l2tp_tunnel, state) == 0);  // written last, cleared first (l2tp_table.cpp)
static_assert(offsetof(vpnpt_l2tp_tunnel, public_port) == 14);
static_assert(offsetof(vpnpt_l2tp_tunnel, server_port) == 20);
static_assert(offsetof(vpnpt_l2tp_tunnel, next) == 22);
static_assert(offsetof(vpnpt_l2tp_tunnel, flags) == 24);
static_assert(offsetof(vpnpt_l2tp_tunnel, out_slot) == 36);
static_assert(offsetof(vpnpt_l2tp_tunnel, created_ns) == 40);
static_assert(offsetof(vpnpt_l2tp_tunnel, packets_in) == 72);
static_assert(offsetof(vpnpt_l2tp_tunnel, bytes_out) == 96);
static_assert(sizeof(vpnpt_l2tp_out_slot) == 8);
static_assert(sizeof(vpnpt_l2tp_port) == 8);  // the array stride: mmap sees 8-byte aligned elements
static_assert(offsetof(vpnpt_l2tp_out_slot, xid) == 4);
static_assert(VPNPT_L2TP_MAX_TUNNELS == 65536);  // the slot index is a 16-bit Tunnel ID
static_assert(VPNPT_L2TP_OUT_SLOTS >= 2 * VPNPT_L2TP_MAX_TUNNELS &&
              (VPNPT_L2TP_OUT_SLOTS & (VPNPT_L2TP_OUT_SLOTS - 1)) == 0);
static_assert(sizeof(vpnpt_l2tp_punt) == 1064);
static_assert(offsetof(vpnpt_l2tp_punt, smac) == 22);
static_assert(offsetof(vpnpt_l2tp_punt, dmac) == 28);
static_assert(offsetof(vpnpt_l2tp_punt, l3_off) == 34);
static_assert(offsetof(vpnpt_l2tp_punt, frame) == 40);
static_assert(sizeof(vpnpt_daemon) == 16);
static_assert(sizeof(vpnpt_meta) == 96 && offsetof(vpnpt_meta, abi_hash) == 8 && offsetof(vpnpt_meta, version) == 32);

static_assert(sizeof(vpnpt_host_quota) == 16);
// bpf/lib/quota.h compares-and-swaps the 8-byte words holding the counts.
static_assert(offsetof(vpnpt_host_quota, pptp_calls) == 0 && offsetof(vpnpt_host_quota, pptp_streams) == 4);
static_assert(offsetof(vpnpt_host_quota, esp_sas) == 8);
static_assert(sizeof(vpnpt_quota_adjust) == 16);
static_assert(sizeof(vpnpt_lan_l2) == 24 && offsetof(vpnpt_lan_l2, ifindex) == 12);
static_assert(sizeof(vpnpt_undelivered_key) == 16);

// IP passthrough.
static_assert(sizeof(vpnpt_pt_flow_key) == 12);
static_assert(offsetof(vpnpt_pt_flow_key, proto) == 8);
static_assert(sizeof(vpnpt_pt_flow) == 32);
static_assert(sizeof(vpnpt_local_port_key) == 4);
