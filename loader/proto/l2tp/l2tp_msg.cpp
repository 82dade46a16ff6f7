#include "loader/proto/l2tp/l2tp_msg.h"

namespace vpnpt {
namespace {

constexpr uint16_t kFlagType = 0x8000, kFlagLength = 0x4000, kFlagSeq = 0x0800, kFlagOffset = 0x0200;
constexpr uint16_t kAvpHidden = 0x4000, kAvpLengthMask = 0x03ff;
constexpr uint16_t kAvpMessageType = 0, kAvpAssignedTunnel = 9, kAvpAssignedSession = 14;
constexpr size_t kAvpHeader = 6;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

}  // namespace

std::optional<L2tpMessage> parse_l2tp(const uint8_t* p, size_t len) {
  if (len < 6) return std::nullopt;
  uint16_t flags = be16(p);
  if ((flags & 0x000f) != 2) return std::nullopt;  // L2TPv2 only (v3 uses 3)
  L2tpMessage m;
  m.control = flags & kFlagType;
  size_t off = 2;
  size_t total = len;
  if (flags & kFlagLength) {
    total = be16(p + 2);
    if (total < 6 || total > len) return std::nullopt;
    off = 4;
  }
  if (m.control && (flags & (kFlagLength | kFlagSeq | kFlagOffset)) != (kFlagLength | kFlagSeq)) return std::nullopt;
  if (off + 4 > total) return std::nullopt;
  m.tunnel_id = be16(p + off);
  m.session_id = be16(p + off + 2);
  off += 4;
  if (flags & kFlagSeq) off += 4;
  if (flags & kFlagOffset) {
    if (off + 2 > total) return std::nullopt;
    off += 2 + be16(p + off);
  }
  if (off > total) return std::nullopt;
  if (!m.control || off == total) return m;  // data, or a ZLB acknowledgement

  bool first = true;
  while (off < total) {
    if (off + kAvpHeader > total) return std::nullopt;
    uint16_t bits = be16(p + off);
    size_t avp_len = bits & kAvpLengthMask;
    if (avp_len < kAvpHeader || off + avp_len > total) return std::nullopt;
    uint16_t vendor = be16(p + off + 2), attr = be16(p + off + 4);
    const uint8_t* val = p + off + kAvpHeader;
    size_t val_len = avp_len - kAvpHeader;
    bool hidden = bits & kAvpHidden;
    if (first) {
      // RFC 2661 4.1: the Message Type AVP comes first and is never hidden.
      if (vendor != 0 || attr != kAvpMessageType || hidden || val_len != 2) return std::nullopt;
      m.type = be16(val);
      first = false;
    } else if (vendor == 0 && attr == kAvpAssignedTunnel) {
      if (hidden) {
        m.assigned_tunnel_hidden = true;
      } else {
        if (val_len != 2) return std::nullopt;
        m.assigned_tunnel = be16(val);
        m.assigned_tunnel_offset = off + kAvpHeader;
      }
    } else if (vendor == 0 && attr == kAvpAssignedSession && !hidden && val_len == 2) {
      m.assigned_session = be16(val);
    }
    off += avp_len;
  }
  return m;
}

}  // namespace vpnpt
