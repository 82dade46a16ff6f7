// The map fds each part of vpnpt works on, as plain bundles: the pinned
// maps hand them out, the protocol tables and slow paths take them. Kept
// apart from both, so the data plane's map access does not depend on the
// protocol code, nor the protocols on how the maps were opened.
#pragma once

#include <cstdint>
#include <string>

namespace vpnpt {

struct PptpMaps {
  int calls = -1, gre_out = -1, streams = -1;
  int quote = -1;  // vpnpt_pptp_quote_v1 (-1: none, ICMP errors of calls are not relayed)
};

struct IpsecMaps {
  int esp_in = -1, esp_out = -1;
};

struct L2tpMaps {
  int tunnels = -1, out = -1, ports = -1;
  int kernel = -1;  // vpnpt_l2tp_kernel_v1: ids the kernel's NAT carries (-1: none known)
  int quote = -1;   // vpnpt_l2tp_quote_v1 (-1: none, ICMP errors of tunnels are not relayed)
};

struct QuotaMaps {
  int quota = -1, pptp_calls = -1, pptp_streams = -1, esp_out = -1;
};

// How full one map is: a row of `vpnpt status` and of the metrics.
struct MapFill {
  std::string name;
  uint32_t used = 0;
  uint32_t capacity = 0;
  bool fixed = false;  // an array always full by design (counters, config): never "near full"
};

}  // namespace vpnpt
