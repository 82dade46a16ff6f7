// `vpnpt status`: a snapshot of one attachment read from its pinned maps,
// rendered as a table or as JSON. Works with or without a running daemon.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "loader/core/attachment_id.h"
#include "loader/core/result.h"

namespace vpnpt {

// Snapshot of an attachment as JSON (the stable --json schema).
Result<nlohmann::json> status_json(const AttachmentId& id);

// Human-readable rendering of status_json().
std::string status_text(const nlohmann::json& st);

}  // namespace vpnpt
