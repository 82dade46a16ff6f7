// Reading (and, for one field, rewriting) L2TPv2 control messages (RFC 2661
// sections 3.1 and 4): the header, the Message Type AVP, and the Assigned
// Tunnel ID / Assigned Session ID AVPs the gateway needs. Everything here
// works on untrusted bytes: every length is checked, nothing is assumed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace vpnpt {

enum L2tpMessageType : uint16_t {
  kL2tpSccrq = 1,
  kL2tpSccrp = 2,
  kL2tpScccn = 3,
  kL2tpStopccn = 4,
  kL2tpHello = 6,
  kL2tpOcrq = 7,
  kL2tpOcrp = 8,
  kL2tpOccn = 9,
  kL2tpIcrq = 10,
  kL2tpIcrp = 11,
  kL2tpIccn = 12,
  kL2tpCdn = 14,
};

struct L2tpMessage {
  bool control = false;
  uint16_t tunnel_id = 0;   // the receiver's tunnel (header)
  uint16_t session_id = 0;  // the receiver's session (header)
  uint16_t type = 0;        // Message Type AVP; 0 for a ZLB acknowledgement or data
  // Assigned Tunnel ID AVP (type 9): the sender's own tunnel id.
  std::optional<uint16_t> assigned_tunnel;
  bool assigned_tunnel_hidden = false;       // present, but hidden (H bit): its value cannot be read
  size_t assigned_tunnel_offset = 0;         // offset of its 2-byte value from the L2TP header start
  std::optional<uint16_t> assigned_session;  // Assigned Session ID AVP (type 14)
};

// Parses an L2TPv2 header and, for control messages, its AVPs. @p points to
// the L2TP header (the UDP payload). Returns nothing for what is not a
// well-formed L2TPv2 message: wrong version, lengths that do not add up, a
// control message whose first AVP is not the Message Type.
std::optional<L2tpMessage> parse_l2tp(const uint8_t* p, size_t len);

}  // namespace vpnpt
