#include "loader/names.h"

#include <array>

#include "abi/vpnpt_abi.h"

namespace vpnpt {
namespace {

constexpr std::array<std::string_view, VPNPT_CLASS_MAX> kClass = {
    "other", "pptp_ctrl", "gre", "ike", "natt", "esp", "ah", "l2tp", "non_ipv4", "malformed"};

constexpr std::array<std::string_view, VPNPT_DIR_MAX> kDir = {"outbound", "inbound"};

// Sized by the enum and checked below, so a new reason cannot go unnamed.
constexpr std::array<std::string_view, VPNPT_REASON_MAX> kReason = {
    "none",           "eth_trunc",     "vlan_trunc",        "vlan_too_deep",      "ip_trunc",        "ip_version",
    "ip_ihl",         "ip_totlen",     "l4_trunc",          "pptp_off",           "gre_not_pptp",    "gre_no_call",
    "gre_fragment",   "pptp_bad_msg",  "pptp_no_call",      "pptp_id_exhausted",  "pptp_held",       "pptp_stream_full",
    "fib_no_neigh",   "fib_other",     "ttl_expired",       "vlan_tagged",        "pptp_table_full", "pptp_foreign_id",
    "ipsec_off",      "esp_unbound",   "esp_spi_conflict",  "esp_table_full",     "esp_fragment",    "ah_no_nat",
    "natt_not_esp",   "natt_no_ct",    "l2tp_off",          "l2tp_not_v2",        "l2tp_no_tunnel",  "l2tp_to_daemon",
    "l2tp_no_daemon", "l2tp_fragment", "pt_local_port",     "pt_kernel_conn",     "pptp_host_quota", "esp_host_quota",
    "l2_push_failed", "neigh_learned", "pptp_unknown_conn", "pptp_out_of_window", "frag_unplaced",   "frag_untracked",
    "l2tp_id_in_use", "pptp_unacked",  "icmp_relayed",      "icmp_no_session",    "icmp_ambiguous"};

constexpr std::array<std::string_view, VPNPT_REASON_MAX> kReasonText = {
    "no problem",
    "frame shorter than an Ethernet header",
    "VLAN tag cut off",
    "more VLAN tags than vpnpt looks through",
    "frame shorter than an IPv4 header",
    "EtherType says IPv4 but the version field is not 4",
    "IPv4 header length below 20 bytes or options cut off",
    "IPv4 total length below the header length or beyond the frame",
    "TCP, UDP, GRE or ESP header cut off",
    "PPTP passthrough is switched off or handed to the kernel's helper",
    "GRE that is not PPTP's enhanced GRE (version 1, protocol 0x880B)",
    "enhanced GRE for no known PPTP call (never set up, or cleared)",
    "a later GRE fragment whose first fragment vpnpt did not translate (the kernel's, or not here yet): the kernel "
    "decides",
    "TCP 1723 stream that is not PPTP (bad length or magic cookie)",
    "PPTP control message naming a call vpnpt does not know",
    "no free Call ID left toward that server: the call fails",
    "PPTP control segment held back until its Call ID can be rewritten; TCP resends it",
    "no room to track another PPTP control connection: connection refused",
    "next hop not resolved yet: the kernel forwards this one",
    "no route, MTU exceeded or forwarding off: the kernel decides",
    "TTL expired: the kernel answers with ICMP time exceeded",
    "VLAN-tagged frame: vpnpt forwards untagged frames only",
    "PPTP call table full: the call fails",
    "PPTP message naming another client's Call ID: dropped",
    "IPsec passthrough is switched off: the kernel NATs ESP by address only",
    "inbound ESP whose SPI is bound to no host (yet): dropped, never guessed",
    "outbound ESP with an SPI another host already uses toward that server: dropped",
    "no room to record another outbound ESP SPI: dropped",
    "a later ESP fragment whose first fragment vpnpt did not translate, or fragmented NAT-T: the kernel decides",
    "AH protects the IP addresses, so it cannot cross NAT: passed untouched",
    "IKE or keepalive on UDP 4500: the kernel's NAT handles it (and the daemon sees IKE)",
    "NAT-T ESP of a flow the kernel has not NATed yet: the kernel handles it",
    "L2TP passthrough is switched off: the kernel NATs L2TP by port",
    "UDP 1701 that is not an L2TPv2 header (L2TPv3, bad version or cut off): passed untouched",
    "L2TP for no tunnel vpnpt set up: the kernel's NAT handles it",
    "L2TP tunnel request handed to the daemon, which assigns the tunnel and sends it on",
    "no vpnpt daemon to set up the L2TP tunnel (not running, or its queue is full): the kernel's NAT handles it",
    "L2TP first fragment too short for its header, or a fragmented tunnel request: the kernel reassembles and NATs it",
    "IP passthrough is on, but this port is the router's own",
    "IP passthrough is on, but the kernel tracks this connection (the router's or a NATed LAN host's)",
    "the LAN host already holds its share of PPTP calls or control connections: this one fails",
    "the LAN host already holds its share of outbound ESP SPIs: this one is dropped",
    "no room for an Ethernet header on a packet from the L3 WAN (translated already, so dropped)",
    "the kernel had no neighbour entry for the LAN host: sent to the MAC its own frames came from, and the kernel "
    "asked "
    "to resolve it again",
    "TCP from port 1723 of no connection a LAN host opened (conntrack has none): not tracked, the kernel decides",
    "SYN, FIN or RST that fits no tracked PPTP connection (out of window, or a SYN-ACK answering no SYN): ignored by "
    "the tracker, the kernel decides",
    "a later fragment of a datagram vpnpt translated, which it cannot forward now: dropped (the kernel could not "
    "reassemble it)",
    "no room to remember a fragmented datagram vpnpt translates: its first fragment is dropped, not split from the "
    "rest",
    "L2TP tunnel request for the kernel's NAT (no daemon, no route, fragmented) whose Tunnel ID a vpnpt tunnel toward "
    "that server has: dropped, the client tries again",
    "PPTP control segment needing one more Call ID rewrite while 64 unacknowledged ones are in flight: held until "
    "the receiver's ACK frees a slot, TCP resends it",
    "ICMP error (unreachable, fragmentation needed, time exceeded) about a packet of a vpnpt session: relayed to its "
    "LAN host, so Path MTU discovery works",
    "ICMP error quoting ESP, PPTP GRE or L2TP the public IP sent for no session vpnpt knows: passed untouched, the "
    "kernel decides",
    "ICMP error quoting GRE or L2TP whose server's id two LAN hosts' sessions to that server carry: passed untouched, "
    "relayed to neither"};

constexpr bool all_named(const std::array<std::string_view, VPNPT_REASON_MAX>& t) {
  for (auto v : t)
    if (v.empty()) return false;
  return true;
}
static_assert(all_named(kReason) && all_named(kReasonText), "every vpnpt_reason needs a name and a text");

template <class Table>
std::string_view lookup(const Table& t, uint32_t i) {
  return i < t.size() ? t[i] : std::string_view("unknown");
}

}  // namespace

std::string_view class_name(uint32_t cls) { return lookup(kClass, cls); }
std::string_view dir_name(uint32_t dir) { return lookup(kDir, dir); }
std::string_view reason_name(uint32_t reason) { return lookup(kReason, reason); }
std::string_view reason_text(uint32_t reason) { return lookup(kReasonText, reason); }

std::string_view l2tp_refusal_text(uint32_t refusal) {
  switch (refusal) {
    case VPNPT_L2TP_REFUSE_NO_ID: return "no free Tunnel ID toward that server";
    case VPNPT_L2TP_REFUSE_TABLE_FULL: return "the L2TP tunnel table is full";
    case VPNPT_L2TP_REFUSE_MALFORMED: return "not a valid SCCRQ (no Assigned Tunnel ID or a bad AVP)";
    case VPNPT_L2TP_REFUSE_NO_PORT:
      return "its Assigned Tunnel ID is hidden and no public port is free for per-port NAT (or its source already "
             "shares its port by Tunnel ID)";
    case VPNPT_L2TP_REFUSE_STALE:
      return "it waited too long in the queue (the daemon was busy or down); the client resends";
    case VPNPT_L2TP_REFUSE_HOST_QUOTA: return "that LAN host already holds its share of L2TP tunnels (256)";
    case VPNPT_L2TP_REFUSE_SWITCHED_OFF: return "L2TP passthrough was switched off while the request waited";
    default: return "unknown";
  }
}

std::string_view reason_verdict(uint32_t reason) {
  switch (reason) {
    case VPNPT_REASON_PPTP_ID_EXHAUSTED:
    case VPNPT_REASON_PPTP_HELD:
    case VPNPT_REASON_PPTP_STREAM_FULL:
    case VPNPT_REASON_PPTP_TABLE_FULL:
    case VPNPT_REASON_PPTP_FOREIGN_ID:
    case VPNPT_REASON_ESP_UNBOUND:
    case VPNPT_REASON_ESP_SPI_CONFLICT:
    case VPNPT_REASON_ESP_TABLE_FULL:
    case VPNPT_REASON_L2TP_TO_DAEMON:
    case VPNPT_REASON_PPTP_HOST_QUOTA:
    case VPNPT_REASON_ESP_HOST_QUOTA:
    case VPNPT_REASON_L2_PUSH_FAILED:
    case VPNPT_REASON_FRAG_UNPLACED:
    case VPNPT_REASON_FRAG_UNTRACKED:
    case VPNPT_REASON_L2TP_ID_IN_USE:
    case VPNPT_REASON_PPTP_UNACKED: return "drop";
    case VPNPT_REASON_NEIGH_LEARNED:
    case VPNPT_REASON_ICMP_RELAYED: return "redirect";
    default: return "pass";
  }
}

}  // namespace vpnpt
