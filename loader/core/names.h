// Stable, lower-case names for the ABI enums, used in status output, JSON
// and Prometheus labels. One table per enum, indexed by the enum value.
#pragma once

#include <cstdint>
#include <string_view>

namespace vpnpt {

std::string_view class_name(uint32_t cls);
std::string_view dir_name(uint32_t dir);
std::string_view reason_name(uint32_t reason);
// Plain-words description of a reason, for logs and `vpnpt diagnose`.
std::string_view reason_text(uint32_t reason);
// What the data plane does with a packet counted under @reason: "pass" or "drop".
std::string_view reason_verdict(uint32_t reason);
// The protocol a reason is about, as the metrics label it: "pptp", "ipsec", "l2tp" (the keys of
// loader/core/protocols.h), "ip_passthrough", or "any" for a reason every protocol can meet
// (a malformed header, the FIB, fragments, ICMP errors).
std::string_view reason_proto(uint32_t reason);
// Why an L2TP tunnel request was not forwarded (enum vpnpt_l2tp_refusal), in plain words.
std::string_view l2tp_refusal_text(uint32_t refusal);

}  // namespace vpnpt
