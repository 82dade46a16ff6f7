// `vpnpt state save` and `vpnpt state restore` on an attachment's pinned
// maps (docs/state.md). Saving only reads, so it runs beside the daemon.
// Restoring writes the session tables and is for a data plane no daemon
// serves: `vpnpt attach --restore FILE` runs it between loading and
// attaching, `vpnpt state restore` while the daemon is stopped.
#pragma once

#include <string>
#include <string_view>

#include "loader/core/result.h"
#include "loader/dataplane/pinned_maps.h"
#include "loader/state/state_file.h"

namespace vpnpt {

// This machine's boot id and CLOCK_MONOTONIC now, with @wan_if and @public_ip.
Result<StateOrigin> state_origin_now(const std::string& wan_if, uint32_t public_ip);

// The schema of @maps: each table's fd and the kernel's BTF of it.
Result<StateSchema> maps_schema(const PinnedMaps& maps);

struct SavedState {
  std::string text;    // the file
  size_t entries = 0;  // over all tables
};

// The state file of the session tables in @maps (WAN @wan_if).
Result<SavedState> save_state(const PinnedMaps& maps, const std::string& wan_if);

// Restores @text into @maps (WAN @wan_if): every check first (format, WAN, public IP, tables and
// members, no session present), then the writes; a failed write removes what was written.
// Returns what was restored, in one line ("2 pptp_calls, 1 esp_out, ...").
Result<std::string> restore_state(const PinnedMaps& maps, const std::string& wan_if, std::string_view text);

}  // namespace vpnpt
