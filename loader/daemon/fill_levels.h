// How full every map of an attachment is, for `vpnpt status` and /metrics:
// the data plane's own maps and each protocol's tables, in one order.
#pragma once

#include <vector>

#include "loader/dataplane/pinned_maps.h"
#include "loader/core/result.h"
#include "loader/session/maps.h"

namespace vpnpt {

Result<std::vector<MapFill>> fill_levels(const PinnedMaps& maps);

}  // namespace vpnpt
