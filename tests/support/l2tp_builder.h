// L2TPv2 messages for tests (RFC 2661 3.1, 4.1): data with any mix of the
// optional header fields, and control messages made of AVPs, including
// hidden ones.
#pragma once

#include <cstdint>
#include <vector>

#include "packet_builder.h"

namespace pkt::l2tp {

struct DataOpts {
  bool length = false;    // L bit
  bool sequence = false;  // S bit (Ns, Nr)
  uint16_t offset = 0;    // O bit when > 0: offset size and that many pad bytes
};

Bytes data(uint16_t tunnel, uint16_t session, const Bytes& ppp, const DataOpts& o = {});

struct Avp {
  uint16_t attr;
  Bytes value;
  bool hidden = false;  // H bit: the value stands for an encrypted one
};

Bytes be16(uint16_t v);
Bytes control(uint16_t tunnel, uint16_t session, uint16_t ns, uint16_t nr, uint16_t type,
              const std::vector<Avp>& avps = {});
Bytes zlb(uint16_t tunnel, uint16_t ns, uint16_t nr);

// The messages the gateway cares about.
Bytes sccrq(uint16_t assigned_tunnel, bool hidden = false);
Bytes sccrp(uint16_t to_tunnel, uint16_t assigned_tunnel);
Bytes stopccn(uint16_t to_tunnel, uint16_t assigned_tunnel);
Bytes icrq(uint16_t to_tunnel, uint16_t assigned_session);
Bytes cdn(uint16_t to_tunnel, uint16_t to_session, uint16_t assigned_session);

}  // namespace pkt::l2tp
