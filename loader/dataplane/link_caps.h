// What an interface is, as far as vpnpt's choice of data path goes: its link
// type, its kind (bridge, veth, tun...), its driver, and whether frames that
// an XDP program redirects to it can leave through it. XDP_REDIRECT into a
// device without ndo_xdp_xmit drops the frame silently (a bridge, a veth
// whose peer has neither GRO nor XDP), so vpnpt must know before it relies
// on XDP forwarding towards that device.
//
// Read with plain rtnetlink, generic netlink ("netdev" family, kernel >= 6.3)
// and ethtool ioctls, in the calling thread's network namespace.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "loader/core/result.h"

namespace vpnpt {

// The far end of a veth. Fields are nullopt when they could not be read,
// e.g. GRO of a peer whose namespace we cannot enter.
struct VethPeer {
  uint32_t ifindex = 0;            // in the peer's own namespace
  std::optional<int32_t> netnsid;  // set when the peer lives in another namespace (this namespace's id for it)
  std::string name;                // "" when unknown
  std::optional<bool> up;          // IFF_UP and carrier
  std::optional<bool> gro;         // "rx-gro" requested (what veth checks)
  std::optional<bool> xdp_attached;
  // TX checksum offload active (ETHTOOL_GTXCSUM): what it sends the veth
  // may carry as CHECKSUM_PARTIAL skbs, the checksum field holding only the
  // pseudo-header seed (validate_xmit_skb finishes checksums only for a
  // device without it).
  std::optional<bool> tx_csum;
};

struct LinkFacts {
  uint32_t ifindex = 0;
  std::string name;
  uint16_t arphrd_type = 0;  // ARPHRD_*
  bool has_l2 = false;       // Ethernet header (ARPHRD_ETHER)
  std::string kind;          // IFLA_INFO_KIND: "bridge", "veth", "vlan", "macvlan", "tun", ...; "" for physical
  std::string driver;        // ethtool driver name; "" if unavailable
  bool up = false;           // IFF_UP and carrier (IFF_LOWER_UP)
  bool is_bridge_port = false;
  uint32_t master_ifindex = 0;  // IFLA_MASTER, 0 if none
  bool xdp_attached = false;    // an XDP program is attached to this device
  // NETDEV_A_DEV_XDP_FEATURES (NETDEV_XDP_ACT_* bits); nullopt when the
  // kernel has no "netdev" genetlink family (< 6.3).
  std::optional<uint64_t> xdp_features;
  std::optional<VethPeer> peer;  // veth only
};

// NETDEV_XDP_ACT_NDO_XMIT from <linux/netdev.h> (not in Debian 12's 6.1 headers).
inline constexpr uint64_t kXdpActNdoXmit = 1u << 2;

// The facts for ifindex in the current network namespace.
Result<LinkFacts> link_facts(uint32_t ifindex);

struct XdpTarget {
  bool ok = false;
  std::string why;  // short phrase for logs: "bridge: no XDP transmit", "xdp_features: NDO_XMIT"
};

// Can XDP_REDIRECT frames be transmitted through this device? From
// xdp_features when present; otherwise (kernel < 6.3) by a conservative rule
// that says yes only for veths with a usable peer and for drivers known to
// implement ndo_xdp_xmit in 6.1. Clear xdp_features to apply that rule on a
// newer kernel. Like the kernel's NDO_XMIT flag, a yes assumes the device
// runs an XDP program itself when its driver needs one to transmit (most
// physical drivers: virtio_net, i40e, ice, ixgbe, igb, mlx5, bnxt_en, ena...),
// as every interface vpnpt serves with XDP does.
XdpTarget xdp_can_receive_redirect(const LinkFacts& facts);

// Can frames arrive at this device's XDP hook with a partial (offloaded)
// checksum? A veth runs XDP on the skb its peer transmitted, without
// finishing a CHECKSUM_PARTIAL checksum first (veth_xdp_rcv_skb), and XDP
// cannot see ip_summed: a translation would add payload changes to a mere
// seed, and a redirected frame would leave with the seed as its checksum.
// Yes for a veth whose peer has TX checksum offload on (or unknown), and
// for a tap (a VM's virtio-net header may ask for a checksum; tun_build_skb
// runs XDP on such frames). `why` names the device for logs.
struct PartialCsum {
  bool possible = false;
  std::string why;  // "veth peer rtr sends with TX checksum offload on"
};
PartialCsum partial_csum_ingress(const LinkFacts& facts);

// Whether this kernel reports xdp_features (the netdev generic netlink
// family, Linux 6.3); without it the conservative rule above decides.
bool kernel_reports_xdp_features();

}  // namespace vpnpt
