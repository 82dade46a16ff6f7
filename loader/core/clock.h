#pragma once

#include <cstdint>

namespace vpnpt {

// CLOCK_MONOTONIC in ns: the clock bpf_ktime_get_ns() reads, so times the
// daemon takes compare with the ones the hooks stamp into the maps.
uint64_t monotonic_ns();

}  // namespace vpnpt
