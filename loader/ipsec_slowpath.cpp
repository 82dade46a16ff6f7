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

namespace vpnpt {

IpsecSlowPath::IpsecSlowPath(IpsecMaps maps, BinderConfig b, IpsecTimeouts t) : binder_(b), t_(t) {
  auto in = EspTable::map(maps.esp_in);
  auto out = in ? EspTable::map(maps.esp_out) : in.error();
  if (!in || !out) {
    ready_ = in ? out.error() : in.error();
    return;
  }
  in_.emplace(std::move(*in));
  out_.emplace(std::move(*out));
}

IkeVerdict IpsecSlowPath::on_ike_packet(uint32_t ticket, const uint8_t* pkt, size_t len, bool from_wan,
                                        uint64_t now) {
  auto m = ike_message_from_packet(pkt, len, from_wan);
  if (!m) return IkeVerdict::Pass;
  return binder_.on_ike(*m, ticket, now);
}

BindResult IpsecSlowPath::on_unknown_spi(uint32_t server, uint32_t spi, uint64_t now) {
  BindResult r = binder_.on_unknown_spi(server, spi, now);
  if (!r.bound) {
    spdlog::info("{}", r.why);
    return r;
  }
  vpnpt_esp_sa sa{};
  sa.server = server;
  sa.spi = htonl(spi);
  sa.host = r.host;
  sa.created_ns = now;
  sa.last_seen_ns = now;
  if (!in_ || in_->insert(sa) == EspTable::Put::full) {
    spdlog::warn("cannot record the binding ({}): {}", r.why, in_ ? "its run of the ESP table is full" : "no ESP table");
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
  if (!in_ || !out_) return 0;
  auto in = in_->live(), out = out_->live();
  std::map<std::pair<uint32_t, uint32_t>, uint64_t> last;  // (host, server) -> latest activity
  for (const auto* table : {&in, &out})
    for (const auto& [slot, v] : *table) {
      auto& l = last[{v.host, v.server}];
      l = std::max<uint64_t>(l, v.last_seen_ns);
    }
  uint32_t n = 0;
  for (auto [tab, list] : {std::pair{&*in_, &in}, std::pair{&*out_, &out}})
    for (const auto& [slot, v] : *list) {
      uint64_t l = last[{v.host, v.server}];
      if (now > l && now - l > idle) {
        tab->erase(slot);
        ++n;
      }
    }
  return n;
}

uint32_t IpsecSlowPath::flush() {
  if (!in_ || !out_) return 0;
  uint32_t n = 0;
  for (EspTable* tab : {&*in_, &*out_})
    for (const auto& s : tab->live()) {
      tab->erase(s.slot);
      ++n;
    }
  return n;
}

}  // namespace vpnpt
