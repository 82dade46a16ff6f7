#include "loader/core/names.h"

#include <array>
#include <string>

#include "abi/vpnpt_abi.h"

namespace vpnpt {
namespace {

constexpr std::array<std::string_view, VPNPT_CLASS_MAX> kClass = {
    "other", "pptp_ctrl", "gre", "ike", "natt", "esp", "ah", "l2tp", "non_ipv4", "malformed"};

constexpr std::array<std::string_view, VPNPT_DIR_MAX> kDir = {"outbound", "inbound"};

// One row per reason in abi/reasons.def, in value order (checked below).
struct ReasonRow {
  uint32_t value;
  std::string_view id;  // upper case, as in the enum; the name is its lower case
  std::string_view verdict;
  std::string_view text;
};
constexpr std::string_view PASS = "pass", DROP = "drop", REDIRECT = "redirect";
constexpr std::array<ReasonRow, VPNPT_REASON_MAX> kReasons = {{
#define VPNPT_REASON(id, value, verdict, text) {value, #id, verdict, text},
#include "abi/reasons.def"
#undef VPNPT_REASON
}};

constexpr bool in_value_order() {
  for (uint32_t i = 0; i < kReasons.size(); ++i)
    if (kReasons[i].value != i || kReasons[i].id.empty() || kReasons[i].text.empty()) return false;
  return true;
}
static_assert(in_value_order(), "abi/reasons.def: one row per value 0..VPNPT_REASON_MAX-1, in order, each with a text");

// Status JSON keys and metric labels: lower(id), built once.
const std::array<std::string, VPNPT_REASON_MAX>& reason_names() {
  static const auto names = [] {
    std::array<std::string, VPNPT_REASON_MAX> n;
    for (size_t i = 0; i < n.size(); ++i)
      for (char ch : kReasons[i].id) n[i] += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    return n;
  }();
  return names;
}

template <class Table>
std::string_view lookup(const Table& t, uint32_t i) {
  return i < t.size() ? t[i] : std::string_view("unknown");
}

}  // namespace

std::string_view class_name(uint32_t cls) { return lookup(kClass, cls); }
std::string_view dir_name(uint32_t dir) { return lookup(kDir, dir); }
std::string_view reason_name(uint32_t reason) {
  return reason < VPNPT_REASON_MAX ? std::string_view(reason_names()[reason]) : "unknown";
}
std::string_view reason_text(uint32_t reason) { return reason < VPNPT_REASON_MAX ? kReasons[reason].text : "unknown"; }
std::string_view reason_verdict(uint32_t reason) {
  return reason < VPNPT_REASON_MAX ? kReasons[reason].verdict : "unknown";
}

std::string_view reason_proto(uint32_t reason) {
  // A switch without default over the enum: a new row of abi/reasons.def that is not sorted in
  // here is a -Wswitch error (warnings are errors in CI), so no reason falls into "any" unseen.
  switch (static_cast<vpnpt_reason>(reason)) {
    case VPNPT_REASON_PPTP_OFF:
    case VPNPT_REASON_GRE_NOT_PPTP:
    case VPNPT_REASON_GRE_NO_CALL:
    case VPNPT_REASON_GRE_FRAGMENT:
    case VPNPT_REASON_PPTP_BAD_MSG:
    case VPNPT_REASON_PPTP_NO_CALL:
    case VPNPT_REASON_PPTP_ID_EXHAUSTED:
    case VPNPT_REASON_PPTP_HELD:
    case VPNPT_REASON_PPTP_STREAM_FULL:
    case VPNPT_REASON_PPTP_TABLE_FULL:
    case VPNPT_REASON_PPTP_FOREIGN_ID:
    case VPNPT_REASON_PPTP_HOST_QUOTA:
    case VPNPT_REASON_PPTP_UNKNOWN_CONN:
    case VPNPT_REASON_PPTP_OUT_OF_WINDOW:
    case VPNPT_REASON_PPTP_UNACKED: return "pptp";
    case VPNPT_REASON_IPSEC_OFF:
    case VPNPT_REASON_ESP_UNBOUND:
    case VPNPT_REASON_ESP_SPI_CONFLICT:
    case VPNPT_REASON_ESP_TABLE_FULL:
    case VPNPT_REASON_ESP_FRAGMENT:
    case VPNPT_REASON_AH_NO_NAT:
    case VPNPT_REASON_NATT_NOT_ESP:
    case VPNPT_REASON_NATT_NO_CT:
    case VPNPT_REASON_ESP_HOST_QUOTA: return "ipsec";
    case VPNPT_REASON_L2TP_OFF:
    case VPNPT_REASON_L2TP_NOT_V2:
    case VPNPT_REASON_L2TP_NO_TUNNEL:
    case VPNPT_REASON_L2TP_TO_DAEMON:
    case VPNPT_REASON_L2TP_NO_DAEMON:
    case VPNPT_REASON_L2TP_FRAGMENT:
    case VPNPT_REASON_L2TP_ID_IN_USE: return "l2tp";
    case VPNPT_REASON_PT_LOCAL_PORT:
    case VPNPT_REASON_PT_KERNEL_CONN: return "ip_passthrough";
    case VPNPT_REASON_NONE:
    case VPNPT_REASON_ETH_TRUNC:
    case VPNPT_REASON_VLAN_TRUNC:
    case VPNPT_REASON_VLAN_TOO_DEEP:
    case VPNPT_REASON_IP_TRUNC:
    case VPNPT_REASON_IP_VERSION:
    case VPNPT_REASON_IP_IHL:
    case VPNPT_REASON_IP_TOTLEN:
    case VPNPT_REASON_L4_TRUNC:
    case VPNPT_REASON_FIB_NO_NEIGH:
    case VPNPT_REASON_FIB_OTHER:
    case VPNPT_REASON_TTL_EXPIRED:
    case VPNPT_REASON_VLAN_TAGGED:
    case VPNPT_REASON_L2_PUSH_FAILED:
    case VPNPT_REASON_NEIGH_LEARNED:
    case VPNPT_REASON_FRAG_UNPLACED:
    case VPNPT_REASON_FRAG_UNTRACKED:
    case VPNPT_REASON_ICMP_RELAYED:
    case VPNPT_REASON_ICMP_NO_SESSION:
    case VPNPT_REASON_ICMP_AMBIGUOUS: return "any";
    case VPNPT_REASON_MAX: break;
  }
  return "unknown";
}

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

}  // namespace vpnpt
