// The tables a state file holds: the primary session state of every
// protocol, and the indexes whose slots those tables point at (a PPTP
// call's gre_slot, an L2TP tunnel's out_slot), saved slot by slot so the
// pointers stay right. Everything else starts empty or is the router's
// configuration (docs/state.md has the reasons, table by table).
#pragma once

#include <string_view>

#include "abi/vpnpt_abi.h"

namespace vpnpt {

enum class TableKind {
  Slots,  // an array: entries by slot index, slot counts must match
  Hash,   // a hash: entries by key
};

struct StateTable {
  const char* name;  // in the file: the pin's row in abi/pins.def, lower case, without the version
  vpnpt_pin pin;
  TableKind kind;
};

// In restore's write order: what a slot points at before the slot that points.
inline constexpr StateTable kStateTables[] = {
    {"pptp_calls", VPNPT_PIN_PPTP_CALLS, TableKind::Slots},
    {"pptp_streams", VPNPT_PIN_PPTP_STREAMS, TableKind::Hash},
    {"pptp_gre_out", VPNPT_PIN_PPTP_GRE_OUT, TableKind::Slots},
    {"pptp_quote", VPNPT_PIN_PPTP_QUOTE, TableKind::Slots},
    {"esp_out", VPNPT_PIN_ESP_OUT, TableKind::Slots},
    {"esp_in", VPNPT_PIN_ESP_IN, TableKind::Slots},
    {"l2tp_tunnels", VPNPT_PIN_L2TP_TUNNELS, TableKind::Slots},
    {"l2tp_out", VPNPT_PIN_L2TP_OUT, TableKind::Slots},
    {"l2tp_ports", VPNPT_PIN_L2TP_PORTS, TableKind::Slots},
    {"l2tp_quote", VPNPT_PIN_L2TP_QUOTE, TableKind::Slots},
    {"pt_flows", VPNPT_PIN_PT_FLOWS, TableKind::Hash},
    {"host_quota", VPNPT_PIN_HOST_QUOTA, TableKind::Hash},
};

// The row of @name, or nullptr.
inline const StateTable* find_state_table(std::string_view name) {
  for (const auto& t : kStateTables)
    if (name == t.name) return &t;
  return nullptr;
}

}  // namespace vpnpt
