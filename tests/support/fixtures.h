// What the packet tests share: the public IP, the test router's server and
// two LAN clients as addresses, and an Ethernet header between two MACs.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "packet_builder.h"
#include "test_router.h"

namespace vpnpt::test {

inline const uint32_t kPub = pkt::ip("203.0.113.1");
inline const uint32_t kSrv = pkt::ip(TestRouter::kServer.ip);
inline const uint32_t kA = pkt::ip(TestRouter::kClient.ip);
inline const uint32_t kB = pkt::ip(TestRouter::kClient2.ip);

inline pkt::EthOpts eth(const std::array<uint8_t, 6>& src, const std::array<uint8_t, 6>& dst) {
  pkt::EthOpts e;
  std::copy(src.begin(), src.end(), e.src);
  std::copy(dst.begin(), dst.end(), e.dst);
  return e;
}

}  // namespace vpnpt::test
