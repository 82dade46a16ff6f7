// `vpnpt diagnose`: what went wrong, from the diagnosis ring the daemon
// fills (loader/daemon/diag_ring.h) and the attachment's standing
// conditions, as findings with structured fields. The text output and
// --json are two renderings of the same Finding, so they cannot disagree.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "abi/vpnpt_abi.h"
#include "loader/core/attachment_id.h"
#include "loader/core/result.h"

namespace vpnpt {

struct Finding {
  std::optional<uint64_t> wall_ns;  // CLOCK_REALTIME; none: a standing condition ("now")
  std::string kind;                 // stable name: "esp_refused", "switched_off", ... (docs/operations.md)
  std::string protocol;             // "pptp", "ipsec", "l2tp"; "" when none applies
  uint32_t host = 0;                // LAN host, network order; 0 = none
  uint32_t server = 0;
  uint32_t other_host = 0;          // e.g. the host a server's next SPI is reserved for
  nlohmann::json ids = nlohmann::json::object();  // {"spi": "0x..."}, {"call_id": N, "server_call_id": M}, ...
  std::string reason;               // the reason's stable name; "" when none
  std::string what;                 // what happened, in plain words
  std::string advice;               // what to do; "" when nothing needs doing
};

// One entry of the ring as a finding. @history (oldest first) lets an entry
// refer to earlier ones, e.g. GRE for a call that ended 40 s ago.
Finding explain(const vpnpt_diag_entry& e, const std::vector<vpnpt_diag_entry>& history, uint64_t now_wall_ns);

// True if @e concerns LAN host @host (network order); @history resolves
// entries that only name a server and an id.
bool concerns(const vpnpt_diag_entry& e, uint32_t host, const std::vector<vpnpt_diag_entry>& history);

// "12 s ago: what; advice" or "now: what; advice".
std::string finding_text(const Finding& f, uint64_t now_wall_ns);

// The stable --json object: time (RFC 3339 UTC, null when standing), age_s,
// standing, kind, protocol, host, server, other_host, ids, reason, message,
// advice (absent values are null) and text (finding_text).
nlohmann::json finding_json(const Finding& f, uint64_t now_wall_ns);

// Standing conditions first, then the ring's entries newest first; with
// @host only those concerning it; at most @max findings.
Result<std::vector<Finding>> diagnose(const AttachmentId& id, std::optional<uint32_t> host, size_t max);

}  // namespace vpnpt
