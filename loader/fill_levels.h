// How full every map of an attachment is, for `vpnpt status` and /metrics:
// the data plane's own maps and each protocol's tables, in one order.
#pragma once

#include <vector>

#include "loader/pinned_maps.h"
#include "loader/result.h"
#include "loader/session_maps.h"

namespace vpnpt {

Result<std::vector<MapFill>> fill_levels(const PinnedMaps& maps);

}  // namespace vpnpt
