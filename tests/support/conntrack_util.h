// Conntrack state for tests whose programs ask the kernel's conntrack (the
// PPTP WAN edge, NAT-T): a private network namespace to hold it, and entries
// made through ctnetlink exactly as the kernel's masquerade would leave them.
#pragma once

#include <cstdint>

namespace vpnpt::test {

// Enters a fresh network namespace (its own conntrack table, nothing from the
// machine) for its lifetime, then returns to the namespace it came from.
class PrivateNetns {
 public:
  PrivateNetns();
  ~PrivateNetns();
  PrivateNetns(const PrivateNetns&) = delete;
  PrivateNetns& operator=(const PrivateNetns&) = delete;

 private:
  int home_ = -1;
};

// One direction of a TCP connection: addresses in network order (as pkt::ip
// gives them), ports in host order.
struct TcpTuple {
  uint32_t saddr, daddr;
  uint16_t sport, dport;
};

// An ESTABLISHED TCP entry in the current namespace's conntrack: @orig as the
// LAN host sent it, @reply as the server's answers arrive (the masqueraded
// address and port as destination). 0, or the kernel's -errno.
int ct_add_tcp(const TcpTuple& orig, const TcpTuple& reply);

}  // namespace vpnpt::test
