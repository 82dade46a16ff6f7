// Reading the clear part of IKE messages (RFC 7296 section 3.1, RFC 2408
// section 3.1): both IKE versions share the 28-byte header layout. Only the
// header is read; everything after it is encrypted in the exchanges that
// matter here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "loader/proto/ipsec/ipsec_binder.h"

namespace vpnpt {

struct IkeHeader {
  uint64_t ispi = 0, rspi = 0;
  uint8_t next_payload = 0;
  uint8_t major = 0;  // 1 or 2
  uint8_t exchange = 0;
  uint8_t flags = 0;
  uint32_t msgid = 0;
  uint32_t length = 0;
};

// Parses an IKE header at the start of a UDP payload (port 500), or after the
// 4-byte zero non-ESP marker (port 4500, @natt). Rejects what is not IKE.
std::optional<IkeHeader> parse_ike_header(const uint8_t* p, size_t len, bool natt);

// From an IPv4 packet (as NFQUEUE hands it over) carrying IKE on UDP 500:
// the binder's view. @from_wan: the packet came in on the WAN side (server
// to host). Returns nothing for anything else.
std::optional<IkeMessage> ike_message_from_packet(const uint8_t* ip, size_t len, bool from_wan);

}  // namespace vpnpt
