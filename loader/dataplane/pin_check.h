// Whether an attachment's pins are this build's own. A data plane another
// vpnpt build attached has other map layouts, so its pins carry other names
// (each layout change bumps a name, abi/pins.def), or it lacks a map this
// build adds. Adopting it, or creating this build's pins beside its own,
// would leave the daemon working on tables the running hooks never read.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "abi/vpnpt_abi.h"
#include "loader/core/result.h"

namespace vpnpt {

// OK when @pin_dir holds no pin but this build's, and, while a program
// recorded there still runs, every pin this build's hooks share. Otherwise
// one line naming the pins that differ: attach then upgrades in place
// (loader/dataplane/upgrade.h) instead of adopting. Reads only.
Status check_pins_are_ours(const std::string& pin_dir);

// @names sorted and joined by ", ", for messages.
std::string join_names(std::vector<std::string> names);

// The pins in @dir (sub-directories left out), or none if it does not exist.
std::vector<std::string> pin_names(const std::string& dir);

// A row's name without its version: "vpnpt_reasons_v11" -> "vpnpt_reasons". Builds name a
// row's layouts apart by the version (abi/pins.def), so this is what they have in common.
std::string pin_family(const std::string& pin);

// The interfaces recorded in @pin_dir's interface table, whichever build's version of it is
// pinned there; none if there is none.
std::map<uint32_t, vpnpt_iface> recorded_ifaces_of_any_build(const std::string& pin_dir);

// True if a program recorded in the ifaces map pinned at @ifaces_pin is still attached.
bool programs_running(const std::string& ifaces_pin);

}  // namespace vpnpt
