#include "loader/core/log_subject.h"
#include "loader/proto/ipsec/ipsec_slowpath.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "abi/vpnpt_abi.h"
#include "loader/proto/ipsec/ike.h"
#include "loader/core/netif.h"

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

IkeVerdict IpsecSlowPath::on_ike_packet(uint32_t ticket, const uint8_t* pkt, size_t len, bool from_wan, uint64_t now) {
  auto m = ike_message_from_packet(pkt, len, from_wan);
  if (!m) return IkeVerdict::Pass;
  return binder_.on_ike(*m, ticket, now);
}

BindResult IpsecSlowPath::on_unknown_spi(uint32_t server, uint32_t spi, uint64_t now) {
  BindResult r;
  auto f = forgotten_.find({server, spi});
  if (f != forgotten_.end() && now > f->second.until) {
    forgotten_.erase(f);
    f = forgotten_.end();
  }
  if (f != forgotten_.end()) {
    // Its server still uses an SA vpnpt forgot while it was idle. The SPI was that host's; only an
    // exchange of another host with the server could (in theory) have been given the same one.
    std::string what = esp_spi_text(server, spi);
    if (binder_.has_candidates(server, now)) {
      r.refusal = VPNPT_REFUSE_AMBIGUOUS;
      r.owner = binder_.owner_of(server).value_or(0);
      r.why = what + " not bound: it was " + format_ipv4(f->second.host) +
              "'s before it went idle, and another exchange with that server is under way; refused rather than guessed";
      log_about({f->second.host, server, "ipsec"}, spdlog::level::info, "{}", r.why);
      return r;
    }
    r.host = f->second.host;
    r.why = what + " bound again to " + format_ipv4(r.host) + ": its SA had been forgotten while idle";
    forgotten_.erase(f);
  } else {
    r = binder_.on_unknown_spi(server, spi, now);
    if (!r.bound) {
      log_about({r.owner, server, "ipsec"}, spdlog::level::info, "{}", r.why);
      return r;
    }
  }
  vpnpt_esp_sa sa{};
  sa.server = server;
  sa.spi = htonl(spi);
  sa.host = r.host;
  sa.created_ns = now;
  sa.last_seen_ns = now;
  r.bound = record(sa, r.why);
  return r;
}

bool IpsecSlowPath::record(const vpnpt_esp_sa& sa, const std::string& why) {
  if (!in_ || in_->insert(sa) == EspTable::Put::full) {
    log_about({sa.host, sa.server, "ipsec"}, spdlog::level::warn, "cannot record the binding ({}): {}", why,
              in_ ? "its run of the ESP table is full" : "no ESP table");
    return false;
  }
  log_about({sa.host, sa.server, "ipsec"}, spdlog::level::info, "{}", why);
  return true;
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
  std::erase_if(forgotten_, [&](const auto& kv) { return now > kv.second.until; });
  uint64_t keep = static_cast<uint64_t>(t_.forgotten_keep.count()) * 1000000000ull;
  uint32_t n = 0;
  for (auto [tab, list] : {std::pair{&*in_, &in}, std::pair{&*out_, &out}})
    for (const auto& [slot, v] : *list) {
      uint64_t l = last[{v.host, v.server}];
      if (now > l && now - l > idle) {
        if (tab == &*in_ && forgotten_.size() < kForgottenMax)
          forgotten_[{v.server, ntohl(v.spi)}] = {v.host, now + keep};  // so it can come back to its host
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
