#include "loader/core/ipv4.h"

namespace vpnpt {
namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

uint32_t sum16(const uint8_t* p, size_t len, uint32_t s = 0) {
  for (size_t i = 0; i + 1 < len; i += 2) s += be16(p + i);
  if (len & 1) s += static_cast<uint32_t>(p[len - 1]) << 8;
  return s;
}

uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

}  // namespace

std::optional<UdpPayload> udp_payload(const uint8_t* ip, size_t len) {
  if (len < 20 || (ip[0] >> 4) != 4) return std::nullopt;
  size_t ihl = (ip[0] & 0x0f) * 4u;
  size_t tot = be16(ip + 2);
  if (ihl < 20 || tot < ihl + 8 || tot > len || ip[9] != 17) return std::nullopt;
  size_t ulen = be16(ip + ihl + 4);
  if (ulen < 8 || ihl + ulen > tot) return std::nullopt;
  return UdpPayload{ihl, ihl + 8, ulen - 8};
}

uint16_t udp_checksum(const uint8_t* ip, size_t ihl, size_t udp_len) {
  uint32_t s = sum16(ip + 12, 8);  // source and destination addresses
  s += 17 + static_cast<uint32_t>(udp_len);
  // The checksum field itself counts as zero.
  s = sum16(ip + ihl, 6, s);
  s = sum16(ip + ihl + 8, udp_len - 8, s);
  uint16_t c = fold(s);
  return c ? c : 0xffff;
}

uint16_t ipv4_checksum(const uint8_t* ip, size_t ihl) {
  uint32_t s = sum16(ip, 10);
  s = sum16(ip + 12, ihl - 12, s);
  return fold(s);
}

}  // namespace vpnpt
