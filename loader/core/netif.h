// Network interface look-ups in the current network namespace.
#pragma once

#include <cstdint>
#include <string>

#include "loader/core/result.h"

namespace vpnpt {

Result<uint32_t> ifindex_of(const std::string& name);

// Name of an ifindex, or "if<N>" if it no longer exists.
std::string ifname_of(uint32_t ifindex);

// The interface's primary IPv4 address (network byte order).
Result<uint32_t> primary_ipv4(const std::string& ifname);

// "A.B.C.D" <-> network-byte-order address.
Result<uint32_t> parse_ipv4(const std::string& text);
std::string format_ipv4(uint32_t be_addr);

}  // namespace vpnpt
