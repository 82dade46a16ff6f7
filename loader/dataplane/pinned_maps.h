// The maps of one attachment, opened from their pins. Every inspection
// command and the daemon read state through this, so they work the same
// whether the daemon loaded the programs or adopted them, and whether a
// daemon runs at all.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "abi/vpnpt_abi.h"
#include "loader/core/fd.h"
#include "loader/core/result.h"
#include "loader/session/maps.h"

namespace vpnpt {

using CounterTable = std::array<vpnpt_counter, VPNPT_COUNTER_SLOTS>;
using ReasonTable = std::array<vpnpt_counter, VPNPT_REASON_SLOTS>;

// Sums a per-CPU array of vpnpt_counter over all possible CPUs.
Result<void> sum_percpu_counters(int map_fd, vpnpt_counter* out, uint32_t slots);

// The interfaces recorded in an ifaces map (vpnpt_ifaces_v*), by ifindex.
std::map<uint32_t, vpnpt_iface> read_ifaces(int ifaces_fd);

// A row of abi/pins.def.
struct PinInfo {
  vpnpt_pin id;
  const char* name;
  vpnpt_pin_owner owner;
  vpnpt_pin_upgrade upgrade;
  const char* title;  // for people: `vpnpt status`
};

// The row of abi/pins.def named @name, or nullptr.
const PinInfo* pin_info(const std::string& name);

inline constexpr PinInfo kPins[] = {
#define VPNPT_PIN(id, owner, upgrade, title) {VPNPT_PIN_##id, VPNPT_MAP_##id, VPNPT_PIN_OWNER_##owner, VPNPT_PIN_UPGRADE_##upgrade, title},
#include "abi/pins.def"
#undef VPNPT_PIN
};
static_assert(std::size(kPins) == VPNPT_PIN_COUNT);

class PinnedMaps {
 public:
  static Result<PinnedMaps> open(const std::string& pin_dir);

  Result<CounterTable> counters() const;
  Result<CounterTable> xlat() const;
  Result<ReasonTable> reasons() const;
  Result<vpnpt_config> config() const;
  Status set_config(const vpnpt_config& cfg) const;
  Result<std::map<uint32_t, vpnpt_iface>> ifaces() const;
  Status set_iface(uint32_t ifindex, const vpnpt_iface& v) const;
  // Every map's fill, in the order of status and the metrics: the arrays of
  // counters, reasons and config, @protocol_rows (loader/daemon/fill_levels.h
  // gathers them from the protocol tables), then the hash maps.
  Result<std::vector<MapFill>> fill_levels(const std::vector<MapFill>& protocol_rows) const;

  // The map of a LOADER row of abi/pins.def (-1 for the others).
  int map_fd(vpnpt_pin p) const { return fd(p); }
  int events_fd() const { return fd(VPNPT_PIN_EVENTS); }
  int diag_events_fd() const { return fd(VPNPT_PIN_DIAG_EVENTS); }
  int diag_fd() const { return fd(VPNPT_PIN_DIAG); }
  IpsecMaps ipsec() const { return {fd(VPNPT_PIN_ESP_IN), fd(VPNPT_PIN_ESP_OUT)}; }
  PptpMaps pptp() const { return {fd(VPNPT_PIN_PPTP_CALLS), fd(VPNPT_PIN_PPTP_GRE_OUT), fd(VPNPT_PIN_PPTP_STREAMS), fd(VPNPT_PIN_PPTP_QUOTE)}; }
  L2tpMaps l2tp() const {
    return {fd(VPNPT_PIN_L2TP_TUNNELS), fd(VPNPT_PIN_L2TP_OUT), fd(VPNPT_PIN_L2TP_PORTS), fd(VPNPT_PIN_L2TP_KERNEL), fd(VPNPT_PIN_L2TP_QUOTE)};
  }
  int l2tp_punt_fd() const { return fd(VPNPT_PIN_L2TP_PUNT); }
  int daemon_fd() const { return fd(VPNPT_PIN_DAEMON); }
  int pt_flows_fd() const { return fd(VPNPT_PIN_PT_FLOWS); }
  int local_ports_fd() const { return fd(VPNPT_PIN_LOCAL_PORTS); }
  QuotaMaps quotas() const { return {fd(VPNPT_PIN_HOST_QUOTA), fd(VPNPT_PIN_PPTP_CALLS), fd(VPNPT_PIN_PPTP_STREAMS), fd(VPNPT_PIN_ESP_OUT)}; }

 private:
  int fd(vpnpt_pin p) const { return fds_[p].get(); }
  std::array<Fd, VPNPT_PIN_COUNT> fds_;  // the LOADER rows of abi/pins.def; the others stay closed
};

}  // namespace vpnpt
