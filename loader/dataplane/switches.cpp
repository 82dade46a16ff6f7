#include "loader/dataplane/switches.h"

#include <spdlog/spdlog.h>

#include "loader/dataplane/pinned_maps.h"
#include "loader/core/protocols.h"

namespace vpnpt {

Result<uint32_t> parse_protocol(const std::string& name) {
  if (const Protocol* p = find_protocol(name)) return p->switch_bit;
  return make_error("unknown protocol '" + name + "' (expected " + protocol_choices() + ")");
}

Result<bool> parse_on_off(const std::string& value) {
  if (value == "on") return true;
  if (value == "off") return false;
  return make_error("'" + value + "' is neither on nor off");
}

Status set_switch(const AttachmentId& id, uint32_t bit, bool on) {
  auto maps = PinnedMaps::open(id.pin_dir);
  if (!maps) return make_error(id.wan_if + " is not attached (no pins at " + id.pin_dir + ")");
  auto cfg = maps->config();
  if (!cfg) return cfg.error();
  if (on)
    cfg->switches |= bit;
  else
    cfg->switches &= ~bit;
  cfg->generation++;
  // From here on the data plane creates no new sessions of the protocol; the daemon flushes the old.
  return maps->set_config(*cfg);
}

}  // namespace vpnpt
