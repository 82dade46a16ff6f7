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

// An attachment is degraded (`vpnpt status` exits kExitDegraded) when the
// daemon is not running or not serving, an interface is not attached, or a
// session table is fuller than this: the VpnptTableNearFull alert's
// threshold (deploy/prometheus/vpnpt-alerts.yml: fill ratio > 0.9).
inline constexpr double kNearFullPercent = 90.0;

// {"state": "ok"|"degraded", "problems": [one line each, with what to do]},
// from a status_json() snapshot.
nlohmann::json health_json(const nlohmann::json& st);

// Human-readable rendering of status_json().
std::string status_text(const nlohmann::json& st);

}  // namespace vpnpt
