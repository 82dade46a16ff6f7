// Property: whatever the session tables hold, save -> restore into an empty
// attachment -> save gives the same file and the same bytes in every table.
// Random slots and keys of every saved table get random values (any bytes:
// the BTF encoding must carry pads, flags and ids it knows nothing about).
#include <catch2/catch.hpp>
#include <iostream>
#include <random>

#include "loader/state/state.h"
#include "property_util.h"
#include "state_rig.h"

using namespace vpnpt;
using namespace vpnpt::test;

namespace {

// Fills @n random entries into each session table of @r.
void fill_random(const StateRig& r, std::mt19937_64& rng, int n) {
  auto schema = maps_schema(r.maps());
  REQUIRE(schema);
  for (const auto& t : *schema) {
    const MapShape& s = t.types.shape;
    for (int i = 0; i < n; ++i) {
      std::vector<uint8_t> key(s.key_size), value(s.value_size);
      for (auto& b : value) b = static_cast<uint8_t>(rng() % 3 ? 0 : rng());  // mostly zero, like real entries
      value[rng() % value.size()] |= 1;                                       // never empty
      if (t.def->kind == TableKind::Slots) {
        const uint32_t slot = static_cast<uint32_t>(rng() % s.max_entries);
        std::copy_n(reinterpret_cast<const uint8_t*>(&slot), 4, key.begin());
      } else {
        for (auto& b : key) b = static_cast<uint8_t>(rng());
      }
      REQUIRE(bpf_map_update_elem(t.fd, key.data(), value.data(), BPF_ANY) == 0);
    }
  }
}

}  // namespace

TEST_CASE("property: save -> restore -> save of random sessions gives the same file", "[state]") {
  const uint64_t seed = property_seed();
  const uint64_t rounds = property_packets(4000) / 200;  // 20 rounds by default
  std::cout << "property state: seed " << seed << " (VPNPT_PROPERTY_SEED), " << rounds << " rounds" << std::endl;
  std::mt19937_64 rng(seed);
  StateRig a("pa"), b("pb");
  size_t total = 0;
  for (uint64_t round = 0; round < rounds; ++round) {
    INFO("round " << round);
    a.clear();
    b.clear();
    fill_random(a, rng, 1 + static_cast<int>(rng() % 40));
    auto first = save_state(a.maps(), "wan0");
    REQUIRE(first);
    auto done = restore_state(b.maps(), "wan0", first->text);
    REQUIRE(done);
    CHECK(b.tables() == a.tables());
    auto second = save_state(b.maps(), "wan0");
    REQUIRE(second);
    CHECK(without_time(second->text) == without_time(first->text));
    CHECK(second->entries == first->entries);
    total += first->entries;
  }
  std::cout << "property state: " << total << " entries saved, restored and saved again" << std::endl;
  CHECK(total > rounds);
}
