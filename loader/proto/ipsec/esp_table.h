// Userspace side of the ESP SA tables (abi/vpnpt_abi.h: vpnpt_esp_in_v2,
// vpnpt_esp_out_v2): memory-mappable arrays of SA slots, open-addressed by
// (server, SPI). The LAN hook claims outbound slots itself; the daemon
// writes the inbound bindings and empties idle slots of both. It maps the
// arrays read-write and orders its writes as the hooks' checks need: a
// slot's host is written last and cleared first, its key cleared last.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "abi/vpnpt_abi.h"
#include "loader/core/mapped_array.h"
#include "loader/core/result.h"
#include "loader/session/maps.h"

namespace vpnpt {

struct EspSa {
  uint32_t slot;
  vpnpt_esp_sa sa;
};

// Used slots (key and host set) of the table @fd, read-only: for inspection and counts.
std::vector<EspSa> live_esp_sas(int fd);

class EspTable {
 public:
  static Result<EspTable> map(int fd);

  std::vector<EspSa> live() const;
  // The used slot of (server, SPI), both in network order, as the hooks find it.
  std::optional<uint32_t> find(uint32_t server, uint32_t spi) const;

  enum class Put { added, exists, full };
  // Records @sa (its key and a host set) in a free slot of its run, unless it is there already.
  Put insert(const vpnpt_esp_sa& sa);
  // Empties @slot: host first (lookups stop matching), key last (the slot can be claimed again).
  void erase(uint32_t slot);

 private:
  EspTable() = default;

  MappedArray<vpnpt_esp_sa> slots_;
};

// The ESP rows of `vpnpt status` and the metrics: the SAs a table is sized for is half its slots.
std::vector<MapFill> esp_fill_levels(const IpsecMaps& m);

}  // namespace vpnpt
