// Where an attachment's state lives. bpffs is shared by every network
// namespace, while interface names are per namespace, so two routers in two
// namespaces may both call their WAN "eth0". The pin directory is therefore
//   /sys/fs/bpf/vpnpt/<wan-if>              in the initial network namespace
//                                           (PID 1's; see in_initial_netns),
//   /sys/fs/bpf/vpnpt/<wan-if>@ns<cookie>   in any other,
// where <cookie> is the kernel's netns cookie (unique, never reused while
// the system runs, unlike inode numbers).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loader/core/result.h"

namespace vpnpt {

struct AttachmentId {
  std::string wan_if;     // WAN interface name in this namespace
  std::string dir_name;   // name of the pin directory
  std::string pin_dir;    // full path of the pin directory
  std::string lock_path;  // daemon lock/pid file under /run/vpnpt
};

Result<AttachmentId> attachment_for(const std::string& wan_if);

// Attachments pinned for the current network namespace (by WAN name).
std::vector<AttachmentId> attachments_in_this_netns();

// Suffix that marks this namespace's pin directories ("" in the initial one).
Result<std::string> netns_suffix();

}  // namespace vpnpt
