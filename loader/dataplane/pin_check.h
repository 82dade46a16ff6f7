// Whether an attachment's pins are this build's own. A data plane another
// vpnpt build attached has other map layouts, so its pins carry other names
// (each layout change bumps a name, abi/pins.def), or it lacks a map this
// build adds. Adopting it, or creating this build's pins beside its own,
// would leave the daemon working on tables the running hooks never read.
#pragma once

#include <string>
#include <vector>

#include "loader/core/result.h"

namespace vpnpt {

// OK when @pin_dir holds no pin but this build's, and, while a program
// recorded there still runs, every pin this build's hooks share. Otherwise
// one line naming the pins that differ: attach then upgrades in place
// (loader/dataplane/upgrade.h) instead of adopting. Reads only.
Status check_pins_are_ours(const std::string& pin_dir);

// The pins in @dir (sub-directories left out), or none if it does not exist.
std::vector<std::string> pin_names(const std::string& dir);

// True if a program recorded in the ifaces map pinned at @ifaces_pin is still attached.
bool programs_running(const std::string& ifaces_pin);

}  // namespace vpnpt
