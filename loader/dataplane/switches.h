// Per-protocol passthrough switches (`vpnpt set pptp|ipsec|l2tp on|off`).
// The state lives in the pinned config map, so it takes effect at once in
// the data plane, survives daemon restarts and shows in `vpnpt status`.
// Switching a protocol off stops translating it at once (its packets pass
// to the kernel untouched, new sessions fail). Its existing sessions are
// flushed by the daemon, which owns session state (daemon.cpp,
// apply_switches): within 100 ms while it runs, or when it starts.
#pragma once

#include <cstdint>
#include <string>

#include "loader/core/attachment_id.h"
#include "loader/core/result.h"

namespace vpnpt {

// "pptp" -> VPNPT_SW_PPTP etc.
Result<uint32_t> parse_protocol(const std::string& name);
Result<bool> parse_on_off(const std::string& value);

// Sets one switch in the attachment's config map; nothing else.
Status set_switch(const AttachmentId& id, uint32_t bit, bool on);

}  // namespace vpnpt
