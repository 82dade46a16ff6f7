#include "loader/fill_levels.h"

#include "loader/esp_table.h"
#include "loader/l2tp_table.h"
#include "loader/pptp_table.h"

namespace vpnpt {

Result<std::vector<MapFill>> fill_levels(const PinnedMaps& maps) {
  return maps.fill_levels(pptp_fill_levels(maps.pptp()), esp_fill_levels(maps.ipsec()), l2tp_fill_levels(maps.l2tp()));
}

}  // namespace vpnpt
