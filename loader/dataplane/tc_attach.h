// TC (clsact ingress, cls_bpf direct action) attach and detach of vpnpt's
// TC programs, for the interfaces XDP cannot serve (docs/dataplane.md).
// vpnpt's filter has a fixed handle and priority, so it is found, replaced
// and removed without touching anyone else's filters or the clsact qdisc.
#pragma once

#include <cstdint>
#include <string>

#include "loader/core/result.h"

namespace vpnpt {

// Attaches @prog_fd at ingress of @ifindex (creating clsact if missing),
// replacing an earlier vpnpt filter there. Returns the program id.
Result<uint32_t> tc_attach(uint32_t ifindex, const std::string& ifname, int prog_fd);

// True if vpnpt's filter at ingress of @ifindex runs the program @prog_id.
bool tc_prog_attached(uint32_t ifindex, uint32_t prog_id);

// Removes vpnpt's filter from @ifindex if it runs @prog_id; other filters
// and the qdisc stay. Not attached is not an error.
Status tc_detach_prog(uint32_t ifindex, uint32_t prog_id);

}  // namespace vpnpt
