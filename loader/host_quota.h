// Per-LAN-host shares of the session tables (maps/vpnpt_abi.h,
// vpnpt_host_quota): the data plane counts up as it creates entries; the
// daemon recounts every second from the tables, which accounts for every
// entry reaped, expired or flushed since.
#pragma once

#include <cstdint>

namespace vpnpt {

struct QuotaMaps {
  int quota = -1, pptp_calls = -1, pptp_streams = -1, esp_out = -1;
};

// Rewrites every host's counts from the tables. Returns the hosts counted.
uint32_t recount_host_quotas(const QuotaMaps& m);

}  // namespace vpnpt
