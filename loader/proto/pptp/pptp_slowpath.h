// PPTP control-plane work the data plane cannot do: ending calls whose
// control connection closed or whose server sent Call-Disconnect-Notify,
// expiring calls nobody uses, and reaping the index entries that go with
// them. Runs in the daemon every second; the data plane keeps working
// without it (calls then simply live until the daemon comes back).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "abi/vpnpt_abi.h"
#include "loader/proto/pptp/pptp_table.h"
#include "loader/session/quote_index.h"
#include "loader/session/maps.h"

namespace vpnpt {

struct PptpTimeouts {
  std::chrono::seconds unanswered{30};  // OCRQ/ICRP without the server's answer
  std::chrono::seconds idle{300};       // established call without GRE, control messages or its connection's segments
  std::chrono::seconds closing_grace{10};  // a cleared call's id stays reserved this long
  std::chrono::seconds stream_idle{7200};  // control connection without any segment
  std::chrono::seconds fin_grace{10};      // closed connection's tracker kept for late retransmissions
};

struct PptpSweepStats {
  uint32_t closed = 0;  // calls moved to CLOSING (connection closed / CDN)
  uint32_t expired_unanswered = 0;
  uint32_t expired_idle = 0;
  uint32_t reaped = 0;  // CLOSING calls removed after the grace period
  uint32_t streams_reaped = 0;
};

class PptpSlowPath {
 public:
  // Told about every call that ends, with why (enum vpnpt_diag_close), for `vpnpt diagnose`.
  using OnClose = std::function<void(const PptpCall&, uint32_t why)>;

  // Maps the call table and GRE index read-write; ready() says whether that worked.
  PptpSlowPath(PptpMaps maps, PptpTimeouts t, OnClose on_close = {});
  const Status& ready() const { return ready_; }

  // A Call-Disconnect-Notify from @server naming its own @server_call_id on
  // the connection whose public-side port is @public_port (network order).
  uint32_t on_disconnect(uint32_t server, uint16_t server_call_id, uint16_t public_port, uint64_t now_ns);

  PptpSweepStats sweep(uint64_t now_ns);

  // Recounts the ICMP quote index from the calls alive now (every sweep does).
  QuoteRecount recount_quotes() const;

  // Removes every call and stream (the protocol was switched off or deferred).
  uint32_t flush();

  // New timeouts (a config reload); they apply from the next sweep.
  void set_timeouts(const PptpTimeouts& t) { t_ = t; }

 private:
  void closed(const PptpCall& p, uint32_t why) const {
    if (on_close_) on_close_(p, why);
  }
  PptpMaps m_;
  std::optional<PptpCallTable> table_;
  std::optional<QuoteIndex> quote_;
  Status ready_;
  PptpTimeouts t_;
  OnClose on_close_;
};

}  // namespace vpnpt
