// Which data path serves an interface's ingress, and why: native XDP where
// the driver runs it, its frames carry complete checksums and every device
// it forwards to can transmit XDP frames; the TC path everywhere else
// (bridges, VLAN devices, veths whose peer has neither GRO nor XDP or sends
// with TX checksum offload, taps, L3 devices). docs/dataplane.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "abi/vpnpt_abi.h"
#include "loader/dataplane/link_caps.h"
#include "loader/dataplane/xdp_attach.h"

namespace vpnpt {

struct PathChoice {
  uint32_t mode = VPNPT_MODE_TC;  // enum vpnpt_xdp_mode
  uint32_t why = VPNPT_WHY_REQUESTED;
  uint32_t why_ifindex = 0;
};

// The path of each interface of one attachment (@facts[i] has role
// @roles[i]). An interface's targets are the devices its translated packets
// leave through: the LANs for the WAN, the WAN for a LAN.
std::vector<PathChoice> choose_paths(ModeRequest req, const std::vector<LinkFacts>& facts,
                                     const std::vector<uint32_t>& roles);

// One line for the log and status: "lan0: TC path: bridge0 cannot transmit XDP frames (bridge: no XDP transmit)";
// the device's reason is read as it is now (the record keeps only the device).
std::string describe_path(const std::string& ifname, const vpnpt_iface& rec);

// "XDP native", "XDP generic", "TC path".
const char* path_title(uint32_t mode);

// True if the program the record names is attached on its path.
bool path_attached(uint32_t ifindex, const vpnpt_iface& rec);

// Removes the recorded program from its path; other programs stay.
Status detach_path(uint32_t ifindex, const vpnpt_iface& rec);

}  // namespace vpnpt
