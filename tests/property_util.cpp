#include "loader/map_dump.h"
#include "property_util.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <vector>

#include "loader/pinned_maps.h"

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
  ring_buffer__consume(rb);
  ring_buffer__free(rb);
  return n;
}

void sync_pptp(model::Model& m, const Dataplane& dp, std::optional<uint32_t> creator, bool install) {
  std::map<std::pair<uint32_t, uint16_t>, model::Call> calls;
  for (const auto& [k, c] : dump_map<vpnpt_pptp_call_key, vpnpt_pptp_call>(dp.map_fd(VPNPT_MAP_PPTP_CALLS))) {
    model::Call mc{c.client, ntohs(c.client_call_id), ntohs(c.server_call_id), c.state};
    auto key = std::make_pair(k.server, ntohs(k.xlat_call_id));
    auto old = m.calls.find(key);
    INFO("PPTP call toward " << k.server << " as " << key.second << ", client " << c.client << " id " << mc.client_id);
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

  std::map<std::tuple<uint32_t, uint32_t, uint16_t>, uint16_t> gre_out;
  for (const auto& [k, x] : dump_map<vpnpt_pptp_gre_key, vpnpt_pptp_xlat>(dp.map_fd(VPNPT_MAP_PPTP_GRE_OUT))) {
    uint16_t xl = ntohs(x.xlat_call_id);
    auto c = m.calls.find({k.server, xl});
    INFO("outbound GRE index (" << k.client << ", " << k.server << ", " << ntohs(k.server_call_id) << ") -> " << xl);
    REQUIRE(c != m.calls.end());
    REQUIRE(c->second.client == k.client);  // outbound GRE of a client only ever names its own call
    gre_out[{k.client, k.server, ntohs(k.server_call_id)}] = xl;
  }
  m.gre_out = std::move(gre_out);

  for (const auto& [k, x] : dump_map<vpnpt_pptp_client_key, vpnpt_pptp_xlat>(dp.map_fd(VPNPT_MAP_PPTP_BY_CLIENT))) {
    auto c = m.calls.find({k.server, ntohs(x.xlat_call_id)});
    INFO("client index (" << k.client << ", " << ntohs(k.client_call_id) << ") -> " << ntohs(x.xlat_call_id));
    REQUIRE(c != m.calls.end());
    REQUIRE(c->second.client == k.client);
    REQUIRE(c->second.client_id == ntohs(k.client_call_id));
  }
}

void check_esp_out(const model::Model& m, const Dataplane& dp) {
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> got;
  for (const auto& [k, sa] : dump_map<vpnpt_esp_key, vpnpt_esp_sa>(dp.map_fd(VPNPT_MAP_ESP_OUT)))
    got[{k.server, ntohl(k.spi)}] = sa.host;
  REQUIRE(got == m.esp_out);
}

}  // namespace vpnpt::test
