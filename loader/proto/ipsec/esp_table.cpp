#include "loader/proto/ipsec/esp_table.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "loader/core/array_scan.h"
#include "loader/session/probe.h"

namespace vpnpt {
namespace {

uint64_t key_of(uint32_t server, uint32_t spi) {
  uint32_t k[2] = {server, spi};
  uint64_t v;
  std::memcpy(&v, k, sizeof(v));
  return v;
}

uint64_t key_of(const vpnpt_esp_sa& sa) { return key_of(sa.server, sa.spi); }

bool used(const vpnpt_esp_sa& sa) { return key_of(sa) != 0 && sa.host != 0; }

// The table's slot count: its max_entries (the hooks read the same from the map).
uint32_t slot_count(int fd) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return 0;
  return info.max_entries;
}

}  // namespace

std::vector<EspSa> live_esp_sas(int fd) {
  std::vector<EspSa> out;
  scan_array<vpnpt_esp_sa>(fd, slot_count(fd), [&](uint32_t i, const vpnpt_esp_sa& sa) {
    if (used(sa)) out.push_back({i, sa});
  });
  return out;
}

Result<EspTable> EspTable::map(int fd) {
  uint32_t n = slot_count(fd);
  if (n == 0 || (n & (n - 1)) != 0)
    return make_error("the ESP table's slot count " + std::to_string(n) + " is not a power of two", EINVAL);
  auto slots = MappedArray<vpnpt_esp_sa>::map(fd, n, "an ESP table");
  if (!slots) return slots.error();
  EspTable t;
  t.slots_ = std::move(*slots);
  return t;
}

std::vector<EspSa> EspTable::live() const {
  std::vector<EspSa> out;
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    vpnpt_esp_sa sa;
    std::memcpy(&sa, &slots_[i], sizeof(sa));  // the hooks may be counting in it
    if (used(sa)) out.push_back({i, sa});
  }
  return out;
}

std::optional<uint32_t> EspTable::find(uint32_t server, uint32_t spi) const {
  const uint64_t key = key_of(server, spi);
  return probe_first(vpnpt_esp_run(server, spi, slots_.size()), VPNPT_ESP_PROBES, [&](uint32_t idx) {
    const auto& s = slots_[idx];
    return __atomic_load_n(reinterpret_cast<const uint64_t*>(&s), __ATOMIC_ACQUIRE) == key &&
           __atomic_load_n(&s.host, __ATOMIC_ACQUIRE) != 0;
  });
}

EspTable::Put EspTable::insert(const vpnpt_esp_sa& sa) {
  if (find(sa.server, sa.spi)) return Put::exists;
  const uint64_t key = key_of(sa);
  // Claimed like the LAN hook claims (it may be after the same slot, for another SA).
  auto idx = probe_first(vpnpt_esp_run(sa.server, sa.spi, slots_.size()), VPNPT_ESP_PROBES, [&](uint32_t i) {
    uint64_t expected = 0;
    return __atomic_compare_exchange_n(reinterpret_cast<uint64_t*>(&slots_[i]), &expected, key, false,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  });
  if (!idx) return Put::full;
  auto& s = slots_[*idx];
  s.lan_ifindex = sa.lan_ifindex;
  s.created_ns = sa.created_ns;
  s.last_seen_ns = sa.last_seen_ns;
  s.packets = sa.packets;
  s.bytes = sa.bytes;
  __atomic_store_n(&s.host, sa.host, __ATOMIC_RELEASE);  // last: lookups match from here on
  return Put::added;
}

void EspTable::erase(uint32_t slot) {
  if (slot >= slots_.size()) return;
  auto& s = slots_[slot];
  __atomic_store_n(&s.host, 0u, __ATOMIC_RELEASE);
  s.lan_ifindex = 0;
  s.created_ns = s.last_seen_ns = s.packets = s.bytes = 0;
  __atomic_store_n(reinterpret_cast<uint64_t*>(&s), uint64_t{0}, __ATOMIC_RELEASE);
}

std::vector<MapFill> esp_fill_levels(const IpsecMaps& m) {
  return {{VPNPT_MAP_ESP_IN, static_cast<uint32_t>(live_esp_sas(m.esp_in).size()), VPNPT_ESP_MAX_SAS},
          {VPNPT_MAP_ESP_OUT, static_cast<uint32_t>(live_esp_sas(m.esp_out).size()), VPNPT_ESP_MAX_SAS}};
}

}  // namespace vpnpt
