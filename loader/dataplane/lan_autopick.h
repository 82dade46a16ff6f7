// Picking the LAN side when `vpnpt attach <wan-if>` is given no --lan (and
// the config file no `lan =`): every other interface that is up and carries
// a private or shared IPv4 prefix, bridges included. The choice is a pure
// function of a snapshot of the interfaces, so it is tested on tables; the
// snapshot comes from the kernel through rtnetlink.
//
// The rules, in the order they are applied (the first that matches gives
// the interface's one-line reason):
//   1. the WAN itself                                  skipped
//   2. loopback                                        skipped
//   3. a port of a bridge, bond or team (IFLA_MASTER)  skipped: its traffic
//      is handled on the master, which is judged on its own. A device
//      enslaved to a VRF or an Open vSwitch datapath keeps its addresses
//      and is judged like any other.
//   4. not up (IFF_UP clear)                           skipped
//   5. not Ethernet (TUN, WireGuard, PPP, GRE...)      skipped: a layer-3
//      tunnel with a private address is a VPN endpoint, not a LAN segment
//   6. no IPv4 address in 10/8, 172.16/12, 192.168/16 (RFC 1918) or
//      100.64/10 (RFC 6598)                            skipped
//   7. its private/shared prefixes all overlap a subnet of the WAN (e.g.
//      a second port on the modem's segment when the WAN itself is
//      192.168.0.2/24)                                 skipped: that is the
//      WAN side, not a LAN
//   otherwise                                          picked
// An interface with both a private and a public address is picked (it
// carries a private prefix: a LAN with a routed public block beside it);
// its reason names the public address too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loader/core/result.h"

namespace vpnpt {

struct Ipv4Prefix {
  uint32_t addr = 0;  // network byte order (the interface's own address, not the network)
  uint8_t len = 0;    // 0..32
};

// One interface of the current network namespace, as rtnetlink reports it.
struct IfaceInfo {
  std::string name;
  uint32_t ifindex = 0;
  bool up = false;        // IFF_UP
  bool loopback = false;  // IFF_LOOPBACK
  bool ethernet = true;   // ifi_type ARPHRD_ETHER (Ethernet, veth, bridge, bond, VLAN, Wi-Fi, tap...)
  uint32_t master = 0;    // IFLA_MASTER: the bridge/bond/VRF it is enslaved to; 0 if none
  std::string kind;       // IFLA_INFO_KIND: "bridge", "vlan", "veth", "bond"...; "" for a plain NIC
  std::vector<Ipv4Prefix> addrs;
};

struct LanChoice {
  uint32_t ifindex = 0;
  std::string name;
  bool picked = false;
  // One line, the name first, e.g.
  //   "lan0: picked: bridge with 192.168.1.1/24 (RFC 1918)"
  //   "eth2: skipped: no private or shared IPv4 prefix (198.51.100.1/24)"
  //   "wlan0: skipped: down"
  std::string why;
};

// One LanChoice per interface of @all, in ifindex order.
std::vector<LanChoice> choose_lans(const std::vector<IfaceInfo>& all, uint32_t wan_ifindex);

// The interfaces of the current network namespace with their IPv4
// addresses (rtnetlink RTM_GETLINK and RTM_GETADDR dumps), in ifindex order.
Result<std::vector<IfaceInfo>> list_interfaces();

// "A.B.C.D/N".
std::string format_prefix(const Ipv4Prefix& p);

}  // namespace vpnpt
