// The daemon's IPsec work: it feeds IKE headers from the netfilter queue and
// unknown-SPI reports from the data plane into the binder, writes the
// bindings the data plane forwards by, releases held IKE requests, and
// expires ESP SAs that went idle (rekeyed away, deleted, or their host
// restarted its IKE SA: the INFORMATIONAL Delete itself is encrypted).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loader/proto/ipsec/esp_table.h"
#include "loader/proto/ipsec/ipsec_binder.h"
#include "loader/session/maps.h"

namespace vpnpt {

struct IpsecTimeouts {
  std::chrono::seconds sa_idle{600};  // an ESP SA without packets this long is forgotten
  // An inbound SA forgotten while idle is remembered this long: if its server
  // speaks on it again, it goes back to its host (both peers keep SAs for hours).
  std::chrono::seconds forgotten_keep{86400};
};

class IpsecSlowPath {
 public:
  // Maps both ESP tables read-write; ready() says whether that worked.
  IpsecSlowPath(IpsecMaps maps, BinderConfig b, IpsecTimeouts t);

  // Whether the tables could be mapped; until they are, no binding is recorded.
  const Status& ready() const { return ready_; }

  // An IKE packet from the queue: pass, hold (verdict later) or drop.
  IkeVerdict on_ike_packet(uint32_t ticket, const uint8_t* pkt, size_t len, bool from_wan, uint64_t now);
  // The data plane saw ESP from @server with an SPI no host is bound to. An
  // SPI whose SA sweep() forgot goes back to its host, unless another host's
  // exchange with that server could own it (refused as ambiguous); others
  // go to the binder.
  BindResult on_unknown_spi(uint32_t server, uint32_t spi_host_order, uint64_t now);
  // Held requests to let go; call every 100 ms.
  std::vector<Release> tick(uint64_t now) { return binder_.tick(now); }
  // Forgets idle SAs; returns how many.
  uint32_t sweep(uint64_t now);
  // Removes every SA (IPsec switched off).
  uint32_t flush();

  const IpsecBinder& binder() const { return binder_; }

  // New timeouts (a config reload); windows already open keep their deadlines.
  void set_timeouts(const BinderConfig& b, const IpsecTimeouts& t) {
    binder_.set_config(b);
    t_ = t;
  }

 private:
  struct Forgotten {
    uint32_t host;
    uint64_t until;
  };
  static constexpr size_t kForgottenMax = 65536;
  // Records @sa and puts it in the inbound table; false (logged) if its run is full.
  bool record(const vpnpt_esp_sa& sa, const std::string& why);

  IpsecBinder binder_;
  IpsecTimeouts t_;
  std::map<std::pair<uint32_t, uint32_t>, Forgotten> forgotten_;  // (server, SPI host order) of idle inbound SAs
  std::optional<EspTable> in_, out_;
  Status ready_;
};

}  // namespace vpnpt
