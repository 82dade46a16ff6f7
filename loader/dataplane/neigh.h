// Asks the kernel to resolve a next hop again. XDP reports a LAN host (or
// the WAN gateway) whose neighbour entry the kernel has lost
// (VPNPT_EV_NO_NEIGH, bpf/lib/neigh.h); the daemon answers with this, so the
// kernel sends its ARP request now rather than when the stack next routes
// a packet there, which with vpnpt forwarding everything in XDP may be
// never.
#pragma once

#include <cstdint>

#include "loader/core/result.h"

namespace vpnpt {

// RTM_NEWNEIGH with NTF_USE for @addr (network order) on @ifindex: creates
// the entry if it is missing and starts its resolution.
Status resolve_neighbour(uint32_t ifindex, uint32_t addr);

}  // namespace vpnpt
