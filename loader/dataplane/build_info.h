// Which build this binary is: its version, the hash of its four hook
// objects (same hash, same programs) and of its map layouts (same hash,
// same ABI). attach records them with the pins (loader/dataplane/meta.h) to
// decide between adopting a running data plane and upgrading it.
#pragma once

#include <cstdint>
#include <string>

#include "loader/core/result.h"

namespace vpnpt {

// "0.1.0-12-gabcdef0" (git describe at configure time), or the project version without git.
const char* build_version();

// FNV-1a 64 over the four hook objects' ELF bytes.
uint64_t build_hash();

// FNV-1a 64 over every pinned map's name and layout hash (map_layout.h), in name order.
Result<uint64_t> build_abi_hash();

// 16 hex digits.
std::string hash_hex(uint64_t h);

}  // namespace vpnpt
