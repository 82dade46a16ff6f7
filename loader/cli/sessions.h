// `vpnpt sessions`: what is going through the gateway, read from the
// pinned maps (daemon or not).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "loader/core/attachment_id.h"
#include "loader/core/result.h"

namespace vpnpt {

struct SessionFilter {
  std::string proto;             // "", "pptp", "ipsec", "l2tp"
  std::optional<uint32_t> host;  // network order
};

// One object per session: the stable --json schema (docs in README).
Result<nlohmann::json> sessions_json(const AttachmentId& id, const SessionFilter& f);
std::string sessions_text(const nlohmann::json& rows);

}  // namespace vpnpt
