#include "loader/names.h"

#include <array>

#include "../maps/vpnpt_abi.h"

namespace vpnpt {
namespace {

constexpr std::array<std::string_view, VPNPT_CLASS_MAX> kClass = {
    "other", "pptp_ctrl", "gre", "ike", "natt", "esp", "ah", "l2tp", "non_ipv4", "malformed"};

constexpr std::array<std::string_view, VPNPT_DIR_MAX> kDir = {"outbound", "inbound"};

constexpr std::array<std::string_view, VPNPT_REASON_MAX> kReason = {
    "none",     "eth_trunc", "vlan_trunc", "vlan_too_deep", "ip_trunc",
    "ip_version", "ip_ihl",  "ip_totlen",  "l4_trunc"};

constexpr std::array<std::string_view, VPNPT_REASON_MAX> kReasonText = {
    "no problem",
    "frame shorter than an Ethernet header",
    "VLAN tag cut off",
    "more VLAN tags than vpnpt looks through",
    "frame shorter than an IPv4 header",
    "EtherType says IPv4 but the version field is not 4",
    "IPv4 header length below 20 bytes or options cut off",
    "IPv4 total length below the header length or beyond the frame",
    "TCP, UDP, GRE or ESP header cut off"};

template <class Table>
std::string_view lookup(const Table& t, uint32_t i) {
  return i < t.size() ? t[i] : std::string_view("unknown");
}

}  // namespace

std::string_view class_name(uint32_t cls) { return lookup(kClass, cls); }
std::string_view dir_name(uint32_t dir) { return lookup(kDir, dir); }
std::string_view reason_name(uint32_t reason) { return lookup(kReason, reason); }
std::string_view reason_text(uint32_t reason) { return lookup(kReasonText, reason); }

}  // namespace vpnpt
