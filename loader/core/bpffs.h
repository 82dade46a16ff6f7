// bpffs handling: vpnpt mounts it when missing and keeps one pin directory
// per attachment under VPNPT_PIN_ROOT.
#pragma once

#include <string>

#include "loader/core/result.h"

namespace vpnpt {

inline constexpr const char* kBpffsMount = "/sys/fs/bpf";

// True if a bpffs is mounted at /sys/fs/bpf.
bool bpffs_mounted();

// Mounts bpffs at /sys/fs/bpf unless one is there already.
Status ensure_bpffs();

// mkdir -p (mode 0700).
Status make_dirs(const std::string& path);

// Removes a pin directory and everything pinned in it; a missing path is fine.
Status remove_tree(const std::string& path);

// Removes an attachment's pin directory, and the shared VPNPT_PIN_ROOT too
// once no attachment is left in it: detach leaves nothing behind.
Status remove_pin_dir(const std::string& pin_dir);

bool path_exists(const std::string& path);

}  // namespace vpnpt
