// Real pinned maps for the state file tests: a pin directory of its own
// (pin_dir.h), the session tables read back raw, written, and emptied again.
#pragma once

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "loader/dataplane/pinned_maps.h"
#include "loader/state/state.h"
#include "loader/state/table_io.h"
#include "pin_dir.h"

namespace vpnpt::test {

class StateRig {
 public:
  explicit StateRig(const std::string& tag, uint32_t public_ip = inet_addr("192.0.2.1")) : pins_("state-" + tag) {
    auto m = PinnedMaps::open(pins_.path);
    REQUIRE(m);
    maps_ = std::move(*m);
    vpnpt_config cfg{};
    cfg.public_ip = public_ip;
    cfg.switches = VPNPT_SW_ALL;
    cfg.generation = 1;
    REQUIRE(maps_.set_config(cfg));
  }
  const PinnedMaps& maps() const { return maps_; }
  int fd(vpnpt_pin p) const { return maps_.map_fd(p); }

  template <class V>
  void put_slot(vpnpt_pin p, uint32_t slot, const V& v) const {
    REQUIRE(bpf_map_update_elem(fd(p), &slot, &v, BPF_ANY) == 0);
  }
  template <class K, class V>
  void put_key(vpnpt_pin p, const K& k, const V& v) const {
    REQUIRE(bpf_map_update_elem(fd(p), &k, &v, BPF_ANY) == 0);
  }

  // Every session table's non-empty entries, raw, in kStateTables order.
  std::vector<std::vector<RawEntry>> tables() const {
    auto schema = maps_schema(maps_);
    REQUIRE(schema);
    std::vector<std::vector<RawEntry>> out;
    for (const auto& t : *schema) {
      auto e = read_entries(t.fd, t.types.shape, t.def->kind);
      REQUIRE(e);
      out.push_back(std::move(*e));
    }
    return out;
  }
  size_t entries() const {
    size_t n = 0;
    for (const auto& t : tables()) n += t.size();
    return n;
  }

  // Empties every session table again.
  void clear() const {
    auto schema = maps_schema(maps_);
    REQUIRE(schema);
    for (const auto& t : *schema) {
      auto e = read_entries(t.fd, t.types.shape, t.def->kind);
      REQUIRE(e);
      std::vector<uint8_t> zero(t.types.shape.value_size);
      for (const auto& r : *e) {
        if (t.def->kind == TableKind::Slots)
          REQUIRE(bpf_map_update_elem(t.fd, r.key.data(), zero.data(), BPF_ANY) == 0);
        else
          REQUIRE(bpf_map_delete_elem(t.fd, r.key.data()) == 0);
      }
    }
    REQUIRE(entries() == 0);
  }

 private:
  TestPinDir pins_;
  PinnedMaps maps_;
};

// A state file without its time of saving (the one part two saves of the same sessions differ in).
inline std::string without_time(std::string text) {
  for (const char* key : {"\"saved_at_ns\":", "\"saved_at\":"}) {
    const size_t at = text.find(key);
    REQUIRE(at != std::string::npos);
    text.erase(at, text.find('\n', at) - at);
  }
  return text;
}

}  // namespace vpnpt::test
