// Per-protocol passthrough switches (`vpnpt set pptp|ipsec|l2tp on|off`).
// The state lives in the pinned config map, so it takes effect at once in
// the data plane, survives daemon restarts and shows in `vpnpt status`.
// Switching a protocol off stops translating it (its packets pass to the
// kernel untouched, new sessions fail) and flushes its existing sessions.
#pragma once

#include <cstdint>
#include <string>

#include "loader/attachment_id.h"
#include "loader/result.h"

namespace vpnpt {

// "pptp" -> VPNPT_SW_PPTP etc.
Result<uint32_t> parse_protocol(const std::string& name);
Result<bool> parse_on_off(const std::string& value);

// Sets one switch; returns the number of sessions flushed when switched off.
Result<uint32_t> set_switch(const AttachmentId& id, uint32_t bit, bool on);

}  // namespace vpnpt
