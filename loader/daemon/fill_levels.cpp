#include "loader/daemon/fill_levels.h"

#include "loader/proto/ipsec/esp_table.h"
#include "loader/proto/l2tp/l2tp_table.h"
#include "loader/proto/pptp/pptp_table.h"

namespace vpnpt {

Result<std::vector<MapFill>> fill_levels(const PinnedMaps& maps) {
  std::vector<MapFill> rows = pptp_fill_levels(maps.pptp());
  for (const auto& more : {esp_fill_levels(maps.ipsec()), l2tp_fill_levels(maps.l2tp())})
    rows.insert(rows.end(), more.begin(), more.end());
  return maps.fill_levels(rows);
}

}  // namespace vpnpt
