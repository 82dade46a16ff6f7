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
