// `vpnpt state save FILE` and `vpnpt state restore FILE` (docs/state.md):
// the file side (reading it, writing it whole or not at all) and the
// daemon rule (restore only while no daemon serves the attachment).
#pragma once

#include <string>

#include "loader/core/attachment_id.h"
#include "loader/core/result.h"

namespace vpnpt {

// The state file at @path ("-": standard input).
Result<std::string> read_state_file(const std::string& path);

// Saves the sessions of @id into @path ("-": standard output); the file appears whole or not at all.
// Returns how many entries it holds, for the log.
Result<size_t> save_state_file(const AttachmentId& id, const std::string& path);

// Restores @path into @id while no daemon runs (it holds the daemon lock meanwhile). Returns what
// was restored, in one line.
Result<std::string> restore_state_file(const AttachmentId& id, const std::string& path);

}  // namespace vpnpt
