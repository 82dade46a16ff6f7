#include "loader/proto/ipsec/ike.h"

#include <cstring>

#include "abi/wire.h"

namespace vpnpt {
namespace {

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint64_t be64(const uint8_t* p) { return uint64_t(be32(p)) << 32 | be32(p + 4); }

constexpr size_t kIkeHeader = 28;
constexpr uint8_t kIkeV2FlagResponse = 0x20;

}  // namespace

std::optional<IkeHeader> parse_ike_header(const uint8_t* p, size_t len, bool natt) {
  if (natt) {
    if (len < 4 || be32(p) != 0) return std::nullopt;  // ESP (SPI != 0) or keepalive, not IKE
    p += 4;
    len -= 4;
  }
  if (len < kIkeHeader) return std::nullopt;
  IkeHeader h;
  h.ispi = be64(p);
  h.rspi = be64(p + 8);
  h.next_payload = p[16];
  h.major = p[17] >> 4;
  h.exchange = p[18];
  h.flags = p[19];
  h.msgid = be32(p + 20);
  h.length = be32(p + 24);
  if ((h.major != 1 && h.major != 2) || h.ispi == 0 || h.length < kIkeHeader) return std::nullopt;
  return h;
}

std::optional<IkeMessage> ike_message_from_packet(const uint8_t* ip, size_t len, bool from_wan) {
  if (len < 20 || (ip[0] >> 4) != 4) return std::nullopt;
  size_t ihl = (ip[0] & 0x0f) * 4u;
  if (ihl < 20 || len < ihl + 8 || ip[9] != 17) return std::nullopt;
  if ((uint16_t(ip[6] & 0x1f) << 8 | ip[7]) != 0) return std::nullopt;  // later fragment
  const uint8_t* udp = ip + ihl;
  uint16_t sport = uint16_t(udp[0] << 8 | udp[1]), dport = uint16_t(udp[2] << 8 | udp[3]);
  if (sport != PORT_IKE && dport != PORT_IKE) return std::nullopt;
  auto h = parse_ike_header(udp + 8, len - ihl - 8, false);
  if (!h) return std::nullopt;

  IkeMessage m;
  uint32_t saddr, daddr;
  std::memcpy(&saddr, ip + 12, 4);
  std::memcpy(&daddr, ip + 16, 4);
  m.from_host = !from_wan;
  m.host = from_wan ? daddr : saddr;  // FORWARD sees the host's own address both ways
  m.server = from_wan ? saddr : daddr;
  m.version = h->major;
  m.exchange = h->exchange;
  m.response = h->major == 2 && (h->flags & kIkeV2FlagResponse);
  m.ispi = h->ispi;
  m.msgid = h->msgid;
  return m;
}

}  // namespace vpnpt
