// The protocols vpnpt passes through, named once: their CLI/config/JSON key,
// the name people read, the switch bit in vpnpt_config and the map whose
// entries are their sessions. Per-protocol actions (flushing, session rows)
// stay code where they are done; the list of protocols is this one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "abi/vpnpt_abi.h"

namespace vpnpt {

struct Protocol {
  std::string_view key;    // "pptp": CLI, config file, JSON and metric label
  std::string_view title;  // "PPTP": in sentences
  uint32_t switch_bit;     // VPNPT_SW_*
  std::string_view sessions_map;
};

inline constexpr Protocol kProtocols[] = {
    {"pptp", "PPTP", VPNPT_SW_PPTP, VPNPT_MAP_PPTP_CALLS},
    {"ipsec", "IPsec", VPNPT_SW_IPSEC, VPNPT_MAP_ESP_IN},
    {"l2tp", "L2TP", VPNPT_SW_L2TP, VPNPT_MAP_L2TP_TUNNELS},
};

inline const Protocol* find_protocol(std::string_view key) {
  for (const auto& p : kProtocols)
    if (p.key == key) return &p;
  return nullptr;
}

// "pptp, ipsec or l2tp": what an error message says is expected.
inline std::string protocol_choices() {
  std::string s;
  constexpr size_t n = sizeof(kProtocols) / sizeof(kProtocols[0]);
  for (size_t i = 0; i < n; ++i)
    s += std::string(i == 0 ? "" : i + 1 == n ? " or " : ", ") + std::string(kProtocols[i].key);
  return s;
}

}  // namespace vpnpt
