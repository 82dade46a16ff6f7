#include "loader/ipsec_slowpath.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "../maps/vpnpt_abi.h"
#include "loader/ike.h"
#include "loader/map_dump.h"

namespace vpnpt {
bool IpsecSlowPath::on_ike_packet(uint32_t ticket, const uint8_t* pkt, size_t len, bool from_wan, uint64_t now) {
  auto m = ike_message_from_packet(pkt, len, from_wan);
  if (!m) return false;
  return binder_.on_ike(*m, ticket, now) == IkeVerdict::Hold;
}

BindResult IpsecSlowPath::on_unknown_spi(uint32_t server, uint32_t spi, uint64_t now) {
  BindResult r = binder_.on_unknown_spi(server, spi, now);
  if (!r.bound) {
    spdlog::info("{}", r.why);
    return r;
  }
  vpnpt_esp_key k{server, htonl(spi)};
  vpnpt_esp_sa sa{};
  sa.host = r.host;
  sa.created_ns = now;
  sa.last_seen_ns = now;
  if (bpf_map_update_elem(m_.esp_in, &k, &sa, BPF_NOEXIST) != 0 && errno != EEXIST) {
    spdlog::warn("cannot record the binding ({}): ESP table full?", r.why);
    r.bound = false;
    return r;
  }
  spdlog::info("{}", r.why);
  return r;
}

uint32_t IpsecSlowPath::sweep(uint64_t now) {
  // SAs come and go in pairs between one host and one server, and a quiet
  // direction is normal: an inbound SA is forgotten only when the host and
  // server exchanged no ESP at all for sa_idle. Forgetting one that still
  // lives would leave its SPI to be bound anew, possibly to someone else.
  uint64_t idle = static_cast<uint64_t>(t_.sa_idle.count()) * 1000000000ull;
  auto in = dump_map<vpnpt_esp_key, vpnpt_esp_sa>(m_.esp_in), out = dump_map<vpnpt_esp_key, vpnpt_esp_sa>(m_.esp_out);
  std::map<std::pair<uint32_t, uint32_t>, uint64_t> last;  // (host, server) -> latest activity
  for (const auto* table : {&in, &out})
    for (const auto& [k, v] : *table) {
      auto& l = last[{v.host, k.server}];
      l = std::max<uint64_t>(l, v.last_seen_ns);
    }
  uint32_t n = 0;
  for (auto [fd, table] : {std::pair{m_.esp_in, &in}, std::pair{m_.esp_out, &out}})
    for (const auto& [k, v] : *table) {
      uint64_t l = last[{v.host, k.server}];
      if (now > l && now - l > idle) n += bpf_map_delete_elem(fd, &k) == 0;
    }
  return n;
}

uint32_t IpsecSlowPath::flush() {
  uint32_t n = 0;
  for (int fd : {m_.esp_in, m_.esp_out})
    for (const auto& [k, v] : dump_map<vpnpt_esp_key, vpnpt_esp_sa>(fd)) n += bpf_map_delete_elem(fd, &k) == 0;
  return n;
}

}  // namespace vpnpt
