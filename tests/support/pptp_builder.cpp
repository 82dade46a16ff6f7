#include "pptp_builder.h"

#include "abi/wire.h"
#include "conntrack_util.h"

#include <stdexcept>

namespace pptp {
namespace {

uint16_t length_of(Type t) {
  switch (t) {
    case SCCRQ:
    case SCCRP: return 156;
    case STOPCCRQ:
    case STOPCCRP:
    case ECHORQ:
    case CCRQ: return 16;
    case ECHORP: return 20;
    case OCRQ: return 168;
    case OCRP: return 32;
    case ICRQ: return 220;
    case ICRP:
    case SLI: return 24;
    case ICCN: return 28;
    case CDN: return 148;
    case WEN: return 40;
  }
  throw std::logic_error("unknown PPTP type");
}

void put16(Bytes& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v >> 8);
  b[off + 1] = static_cast<uint8_t>(v);
}

}  // namespace

Bytes message(Type type, uint16_t id12, uint16_t id14, uint8_t byte16) {
  uint16_t len = length_of(type);
  Bytes m(len, 0);
  put16(m, 0, len);
  put16(m, 2, 1);  // control message
  for (int i = 0; i < 4; ++i) m[4 + i] = VPNPT_PPTP_MAGIC_BYTE(i);
  put16(m, 8, type);
  if (len >= 14) put16(m, 12, id12);
  if (len >= 16 && type != CCRQ && type != STOPCCRQ && type != STOPCCRP && type != ECHORQ) put16(m, 14, id14);
  if (len > 16) m[16] = byte16;
  // Filler after the fixed fields, so a wrong rewrite offset shows in the bytes.
  for (size_t i = 20; i < len; ++i) m[i] = static_cast<uint8_t>(0xC0 + i % 32);
  return m;
}

uint16_t be16_at(const Bytes& b, size_t off) { return static_cast<uint16_t>(b.at(off) << 8 | b.at(off + 1)); }

Bytes cat(const Bytes& a, const Bytes& b) {
  Bytes r = a;
  r.insert(r.end(), b.begin(), b.end());
  return r;
}

Bytes slice(const Bytes& b, size_t from, size_t len) {
  return Bytes(b.begin() + static_cast<long>(from), b.begin() + static_cast<long>(from + len));
}

Bytes TcpFlow::syn() {
  next = isn + 1;
  return pkt::frame(saddr, daddr, pkt::kProtoTcp, pkt::tcp(sport, dport, {}, 0x02, isn, 0));
}

Bytes TcpFlow::syn_ack(const TcpFlow& client) {
  next = isn + 1;
  return pkt::frame(saddr, daddr, pkt::kProtoTcp, pkt::tcp(sport, dport, {}, 0x12, isn, client.isn + 1));
}

int masquerade(const TcpFlow& up, const TcpFlow& down) {
  return vpnpt::test::ct_add_tcp({up.saddr, up.daddr, up.sport, up.dport},
                                 {down.saddr, down.daddr, down.sport, down.dport});
}

Bytes TcpFlow::data(const Bytes& payload, uint8_t flags) {
  Bytes f = data_at(next, payload);
  if (flags != 0x18) f = pkt::frame(saddr, daddr, pkt::kProtoTcp, pkt::tcp(sport, dport, payload, flags, next, ack));
  next += static_cast<uint32_t>(payload.size());
  return f;
}

Bytes TcpFlow::data_at(uint32_t seq, const Bytes& payload) const {
  return pkt::frame(saddr, daddr, pkt::kProtoTcp, pkt::tcp(sport, dport, payload, 0x18, seq, ack));
}

Bytes TcpFlow::fin() { return pkt::frame(saddr, daddr, pkt::kProtoTcp, pkt::tcp(sport, dport, {}, 0x11, next, ack)); }

Bytes TcpFlow::ack_only() const {
  return pkt::frame(saddr, daddr, pkt::kProtoTcp, pkt::tcp(sport, dport, {}, 0x10, next, ack));
}

}  // namespace pptp
