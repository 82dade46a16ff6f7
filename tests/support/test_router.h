// A throwaway network namespace shaped like a small router, for tests whose
// programs call bpf_fib_lookup: lan0 (192.168.1.1/24) and wan0
// (203.0.113.1/24) veths with static neighbours, forwarding on. The test
// process enters it on construction and returns to its own namespace on
// destruction; the namespace dies with its last reference.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "conntrack_util.h"

namespace vpnpt::test {

struct Neighbour {
  const char* ip;
  std::array<uint8_t, 6> mac;
};

class TestRouter {
 public:
  TestRouter();
  TestRouter(const TestRouter&) = delete;
  TestRouter& operator=(const TestRouter&) = delete;

  uint32_t lan_ifindex = 0;
  uint32_t wan_ifindex = 0;
  std::array<uint8_t, 6> lan_mac{}, wan_mac{};

  static constexpr Neighbour kClient{"192.168.1.10", {0x02, 0xc1, 0, 0, 0, 0x10}};
  static constexpr Neighbour kClient2{"192.168.1.11", {0x02, 0xc1, 0, 0, 0, 0x11}};
  static constexpr Neighbour kServer{"203.0.113.7", {0x02, 0x5e, 0, 0, 0, 0x07}};

 private:
  PrivateNetns ns_;  // first: everything below is made inside it
};

// Empties the conntrack table of the current network namespace (ctnetlink:
// IPCTNL_MSG_CT_DELETE without attributes). Best effort: returns false if the
// request could not be sent.
bool flush_conntrack();

}  // namespace vpnpt::test
