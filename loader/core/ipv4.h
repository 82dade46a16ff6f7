#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace vpnpt {

// Where the UDP payload starts inside an IPv4 packet, and its length;
// nothing if the packet is not IPv4/UDP or is cut off.
struct UdpPayload {
  size_t ihl = 0;     // IPv4 header length
  size_t offset = 0;  // of the UDP payload from the IPv4 header
  size_t length = 0;  // of the UDP payload
};
std::optional<UdpPayload> udp_payload(const uint8_t* ip, size_t len);

// The UDP checksum of an IPv4/UDP packet (@ip .. @ip + ihl + udp length),
// computed from scratch; 0 is returned as 0xffff (RFC 768).
uint16_t udp_checksum(const uint8_t* ip, size_t ihl, size_t udp_len);
// The IPv4 header checksum, computed from scratch.
uint16_t ipv4_checksum(const uint8_t* ip, size_t ihl);

}  // namespace vpnpt
