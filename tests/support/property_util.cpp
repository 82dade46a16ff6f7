#include "loader/core/map_dump.h"
#include "property_util.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <vector>

#include "loader/proto/ipsec/esp_table.h"
#include "loader/dataplane/pinned_maps.h"
#include "loader/proto/pptp/pptp_table.h"

namespace vpnpt::test {
namespace {

uint64_t env_u64(const char* name, uint64_t dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 0) : dflt;
}

}  // namespace

uint64_t property_seed() { return env_u64("VPNPT_PROPERTY_SEED", 20261121); }
uint64_t property_packets(uint64_t dflt) { return env_u64("VPNPT_PROPERTY_PACKETS", dflt); }

CounterTable read_xlat(const Dataplane& dp) {
  CounterTable t{};
  REQUIRE(sum_percpu_counters(dp.map_fd(VPNPT_MAP_XLAT), t.data(), VPNPT_COUNTER_SLOTS));
  return t;
}

size_t drain_events(const Dataplane& dp) {
  size_t n = 0;
  auto cb = [](void* ctx, void*, size_t) -> int {
    ++*static_cast<size_t*>(ctx);
    return 0;
  };
  ring_buffer* rb = ring_buffer__new(dp.progs.events_fd(), cb, &n, nullptr);
  REQUIRE(rb != nullptr);
  REQUIRE(ring_buffer__add(rb, dp.progs.diag_events_fd(), cb, &n) == 0);
  ring_buffer__consume(rb);
  ring_buffer__free(rb);
  return n;
}

void sync_pptp(model::Model& m, const Dataplane& dp, std::optional<uint32_t> creator, bool install) {
  std::map<std::pair<uint32_t, uint16_t>, model::Call> calls;
  for (const auto& [xlat, c] : live_pptp_calls(dp.map_fd(VPNPT_MAP_PPTP_CALLS))) {
    model::Call mc{c.client, ntohs(c.client_call_id), ntohs(c.server_call_id), c.state, c.gre_slot != 0};
    auto key = std::make_pair(c.server, xlat);
    auto old = m.calls.find(key);
    INFO("PPTP call toward " << c.server << " as " << key.second << ", client " << c.client << " id " << mc.client_id);
    if (install) {
    } else if (old == m.calls.end()) {
      // Only the LAN host whose control segment just passed can have set up a call.
      REQUIRE(creator.has_value());
      REQUIRE(c.client == *creator);
      REQUIRE((c.state == VPNPT_PPTP_CALL_REQUESTED || c.state == VPNPT_PPTP_CALL_ESTABLISHED));
    } else {
      REQUIRE(old->second.client == mc.client);  // a call never changes hands
      REQUIRE(old->second.client_id == mc.client_id);
      if (old->second.state == VPNPT_PPTP_CALL_CLOSING) REQUIRE(mc.state == VPNPT_PPTP_CALL_CLOSING);
    }
    calls[key] = mc;
  }
  for (const auto& [key, c] : m.calls) {
    INFO("call toward " << key.first << " as " << key.second << " disappeared");
    REQUIRE(calls.count(key) == 1);  // only the daemon reaps calls
  }
  m.calls = std::move(calls);

  // The outbound GRE index: every used slot names a call that points back at it.
  std::map<std::tuple<uint32_t, uint32_t, uint16_t>, uint16_t> gre_out;
  int gre_fd = dp.map_fd(VPNPT_MAP_PPTP_GRE_OUT);
  int calls_fd = dp.map_fd(VPNPT_MAP_PPTP_CALLS);
  for (const auto& [idx, s] : used_pptp_gre_slots(gre_fd)) {
    uint32_t xl = ntohs(s.xlat_call_id);
    vpnpt_pptp_call c{};
    REQUIRE(bpf_map_lookup_elem(calls_fd, &xl, &c) == 0);
    INFO("outbound GRE index slot " << idx << " -> " << xl << " (server id " << ntohs(s.server_call_id) << ")");
    REQUIRE(m.calls.count({c.server, static_cast<uint16_t>(xl)}) == 1);
    REQUIRE(c.gre_slot == idx + 1);
    REQUIRE(c.server_call_id == s.server_call_id);
    const vpnpt_run r = vpnpt_pptp_gre_run(c.client, c.server, s.server_call_id);
    REQUIRE(s.tag == r.tag);
    REQUIRE(((idx - r.home) & r.mask) < VPNPT_PPTP_GRE_PROBES);  // inside its probe run
    gre_out[{c.client, c.server, ntohs(s.server_call_id)}] = static_cast<uint16_t>(xl);
  }
  m.gre_out = std::move(gre_out);
}

void check_esp_out(const model::Model& m, const Dataplane& dp) {
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> got;
  for (const auto& [slot, sa] : live_esp_sas(dp.map_fd(VPNPT_MAP_ESP_OUT))) got[{sa.server, ntohl(sa.spi)}] = sa.host;
  REQUIRE(got == m.esp_out);
}

}  // namespace vpnpt::test
