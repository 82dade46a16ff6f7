// The attachment's record of the build that attached it: the vpnpt_meta
// pin (abi/vpnpt_abi.h), written by attach and by an in-place upgrade, read
// by status and by the next attach to choose between adopt and upgrade.
#pragma once

#include <optional>
#include <string>

#include "abi/vpnpt_abi.h"
#include "loader/core/result.h"

namespace vpnpt {

// The record in @pin_dir; nullopt when there is none (a build older than the record, or
// nothing attached). An error only for a pin that is not a vpnpt_meta.
Result<std::optional<vpnpt_meta>> read_meta(const std::string& pin_dir);

// Writes this build's record into @pin_dir (creating the pin), naming @upgraded_from ("" for
// none) as the version it replaced.
Status write_meta(const std::string& pin_dir, const std::string& upgraded_from);

// The record's version ("unrecorded" for a build older than the record).
std::string meta_version(const std::optional<vpnpt_meta>& m);

}  // namespace vpnpt
