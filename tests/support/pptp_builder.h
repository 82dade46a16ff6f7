// PPTP control messages (RFC 2637, exact lengths) and a TCP flow that
// hands out segments with consecutive sequence numbers, for control-path
// tests: split messages, several per segment, retransmissions.
#pragma once

#include <cstdint>

#include "packet_builder.h"

namespace pptp {

using pkt::Bytes;

enum Type : uint16_t {
  SCCRQ = 1,
  SCCRP = 2,
  STOPCCRQ = 3,
  STOPCCRP = 4,
  ECHORQ = 5,
  ECHORP = 6,
  OCRQ = 7,
  OCRP = 8,
  ICRQ = 9,
  ICRP = 10,
  ICCN = 11,
  CCRQ = 12,
  CDN = 13,
  WEN = 14,
  SLI = 15,
};

// A control message of @type with its RFC length; @ids are written at 12, 14 (network order).
Bytes message(Type type, uint16_t id12 = 0, uint16_t id14 = 0, uint8_t byte16 = 0);

inline Bytes ocrq(uint16_t call_id) { return message(OCRQ, call_id, 0x4242); }  // @14: call serial
inline Bytes ocrp(uint16_t server_id, uint16_t peer_id, uint8_t result = 1) {
  return message(OCRP, server_id, peer_id, result);
}
inline Bytes icrq(uint16_t server_id) { return message(ICRQ, server_id); }
inline Bytes icrp(uint16_t call_id, uint16_t peer_server_id) { return message(ICRP, call_id, peer_server_id); }
inline Bytes iccn(uint16_t peer_id) { return message(ICCN, peer_id); }
inline Bytes ccrq(uint16_t call_id) { return message(CCRQ, call_id); }
inline Bytes cdn(uint16_t server_id) { return message(CDN, server_id); }
inline Bytes wen(uint16_t peer_id) { return message(WEN, peer_id); }
inline Bytes sli(uint16_t peer_id) { return message(SLI, peer_id); }

uint16_t be16_at(const Bytes& b, size_t off);
Bytes cat(const Bytes& a, const Bytes& b);
Bytes slice(const Bytes& b, size_t from, size_t len);

// One direction of a TCP connection, as frames.
struct TcpFlow {
  uint32_t saddr, daddr;
  uint16_t sport, dport;
  uint32_t isn = 1000;
  uint32_t next = 0;  // next sequence number (set by syn())
  uint32_t ack = 1;   // the ACK number data segments carry (what this side has of the other's stream)

  Bytes syn();                                              // next = isn + 1
  Bytes syn_ack(const TcpFlow& client);                     // answers @client's SYN; next = isn + 1
  Bytes data(const Bytes& payload, uint8_t flags = 0x18);   // advances next
  Bytes data_at(uint32_t seq, const Bytes& payload) const;  // a retransmission
  Bytes fin();
  Bytes ack_only() const;  // a pure ACK at next
};

// Makes conntrack hold the kernel masquerade's entry of the connection whose
// LAN side is @up (client -> server:1723) and WAN side @down (server:1723 ->
// public address): vpnpt tracks inbound control segments only of connections
// a LAN host opened. Needs a private namespace (conntrack_util.h). 0, or
// the kernel's -errno.
int masquerade(const TcpFlow& up, const TcpFlow& down);

// Offset of the TCP payload in a frame built by TcpFlow (no VLAN, no options).
inline constexpr size_t kTcpPayloadOffset = 14 + 20 + 20;

}  // namespace pptp
