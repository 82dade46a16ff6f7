#include "l2tp_builder.h"

namespace pkt::l2tp {

Bytes be16(uint16_t v) { return Bytes{static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }

namespace {

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

}  // namespace

Bytes data(uint16_t tunnel, uint16_t session, const Bytes& ppp, const DataOpts& o) {
  uint16_t flags = 0x0002;
  if (o.length) flags |= 0x4000;
  if (o.sequence) flags |= 0x0800;
  if (o.offset) flags |= 0x0200;
  Bytes b;
  put16(b, flags);
  if (o.length) put16(b, 0);  // patched below
  put16(b, tunnel);
  put16(b, session);
  if (o.sequence) {
    put16(b, 7);
    put16(b, 9);
  }
  if (o.offset) {
    put16(b, o.offset);
    b.insert(b.end(), o.offset, 0);
  }
  b.insert(b.end(), ppp.begin(), ppp.end());
  if (o.length) {
    b[2] = static_cast<uint8_t>(b.size() >> 8);
    b[3] = static_cast<uint8_t>(b.size());
  }
  return b;
}

Bytes control(uint16_t tunnel, uint16_t session, uint16_t ns, uint16_t nr, uint16_t type,
              const std::vector<Avp>& avps) {
  Bytes b;
  put16(b, 0xc802);  // T, L, S, version 2
  put16(b, 0);
  put16(b, tunnel);
  put16(b, session);
  put16(b, ns);
  put16(b, nr);
  auto avp = [&b](uint16_t attr, const Bytes& v, bool hidden) {
    put16(b, static_cast<uint16_t>(0x8000 | (hidden ? 0x4000 : 0) | (6 + v.size())));
    put16(b, 0);  // IETF vendor
    put16(b, attr);
    b.insert(b.end(), v.begin(), v.end());
  };
  if (type) avp(0, be16(type), false);
  for (const auto& a : avps) avp(a.attr, a.value, a.hidden);
  b[2] = static_cast<uint8_t>(b.size() >> 8);
  b[3] = static_cast<uint8_t>(b.size());
  return b;
}

Bytes zlb(uint16_t tunnel, uint16_t ns, uint16_t nr) { return control(tunnel, 0, ns, nr, 0); }

Bytes sccrq(uint16_t assigned_tunnel, bool hidden) {
  // Protocol Version, Host Name, Framing Capabilities, Assigned Tunnel ID, Receive Window Size.
  Bytes host{'l', 'a', 'c'};
  Bytes tid = hidden ? Bytes{0x5a, 0x11, 0x42, 0x99, 0x01, 0x02, 0x03, 0x04} : be16(assigned_tunnel);
  return control(0, 0, 0, 0, 1,
                 {{2, be16(0x0100)}, {7, host}, {3, Bytes{0, 0, 0, 3}}, {9, tid, hidden}, {10, be16(4)}});
}

Bytes sccrp(uint16_t to_tunnel, uint16_t assigned_tunnel) {
  return control(to_tunnel, 0, 0, 1, 2, {{2, be16(0x0100)}, {7, Bytes{'l', 'n', 's'}}, {9, be16(assigned_tunnel)}});
}

Bytes stopccn(uint16_t to_tunnel, uint16_t assigned_tunnel) {
  return control(to_tunnel, 0, 3, 2, 4, {{9, be16(assigned_tunnel)}, {1, Bytes{0, 1}}});
}

Bytes icrq(uint16_t to_tunnel, uint16_t assigned_session) {
  return control(to_tunnel, 0, 2, 1, 10, {{14, be16(assigned_session)}, {15, Bytes{0, 0, 0, 1}}});
}

Bytes cdn(uint16_t to_tunnel, uint16_t to_session, uint16_t assigned_session) {
  return control(to_tunnel, to_session, 4, 3, 14, {{1, Bytes{0, 3}}, {14, be16(assigned_session)}});
}

}  // namespace pkt::l2tp
