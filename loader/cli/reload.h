// SIGHUP: the daemon re-reads its configuration file and applies what can
// change while it runs (switches, IP passthrough, timeouts, log level); what
// cannot (interfaces, mode, VLAN depth, public IP, metrics address) is named
// in the log as needing a restart, and left as it runs.
//
// A reload applies what changed *in the file* since the daemon read it last:
// a protocol switched with `vpnpt set` stays as set unless the file's own
// line for it changed. An invalid file changes nothing.
#pragma once

#include <string>
#include <vector>

#include "loader/core/attachment_id.h"
#include "loader/cli/config_file.h"
#include "loader/core/result.h"

namespace vpnpt {

struct ConfigChange {
  std::string key;  // the config file's key: "pptp_idle_timeout", "lan", ...
  std::string from, to;
};

struct ConfigDiff {
  std::vector<ConfigChange> live;     // applied by a reload
  std::vector<ConfigChange> restart;  // changed, but only a restart applies them
  bool empty() const { return live.empty() && restart.empty(); }
};

// What differs between the configuration the daemon runs with and @next. Pure.
ConfigDiff diff_config(const VpnptConfig& running, const VpnptConfig& next);

// @next with the restart-only keys (wan, lan, mode, vlan_depth, public_ip,
// metrics_address) as @running has them: what a reload actually applied, so
// the next reload names a pending restart again.
VpnptConfig keep_restart_keys(VpnptConfig next, const VpnptConfig& running);

// "pptp_idle_timeout 300s -> 60s, log_level info -> debug".
std::string describe_changes(const std::vector<ConfigChange>& changes);

// Applies @d.live to the attachment's maps (switches, IP passthrough) and to
// the logger (unless @log_level_pinned: -v or --log-level was given). The
// timeouts are the daemon's own: it takes them from @next.
Status apply_live_changes(const AttachmentId& id, const VpnptConfig& next, const ConfigDiff& d, bool log_level_pinned);

}  // namespace vpnpt
