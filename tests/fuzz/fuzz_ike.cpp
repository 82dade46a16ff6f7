// libFuzzer target: IKE header parsing from raw packets, and the SPI binder
// driven by whatever parses. Invariant beyond "no crash": the binder never
// binds an SPI to a host that never sent a CHILD_SA-creating IKE message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>

#include "loader/proto/ipsec/ike.h"
#include "loader/proto/ipsec/ipsec_binder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vpnpt;
  (void)parse_ike_header(data, size, false);
  (void)parse_ike_header(data, size, true);

  // The input is a sequence of records: [kind:1][len:1][bytes:len]
  //   kind&3 == 0: an IPv4 packet from the LAN side, 1: from the WAN side,
  //   2: an unknown SPI (server = first 4 bytes, spi = next 4), 3: a tick.
  IpsecBinder b(
      BinderConfig{std::chrono::milliseconds(50), std::chrono::milliseconds(100), std::chrono::milliseconds(80)});
  std::set<uint32_t> child_hosts;
  uint64_t now = 1;
  size_t i = 0;
  uint64_t ticket = 0;
  while (i + 2 <= size) {
    uint8_t kind = data[i], len = data[i + 1];
    i += 2;
    if (i + len > size) break;
    const uint8_t* rec = data + i;
    i += len;
    now += 1000000ull * (kind >> 2);  // records advance time by 0..63 ms
    switch (kind & 3) {
      case 0:
      case 1:
        if (auto m = ike_message_from_packet(rec, len, kind & 1)) {
          if (creates_child_sa(*m)) child_hosts.insert(m->host);
          (void)b.on_ike(*m, ++ticket, now);
        }
        break;
      case 2:
        if (len >= 8) {
          uint32_t server = uint32_t(rec[0]) << 24 | uint32_t(rec[1]) << 16 | uint32_t(rec[2]) << 8 | rec[3];
          uint32_t spi = uint32_t(rec[4]) << 24 | uint32_t(rec[5]) << 16 | uint32_t(rec[6]) << 8 | rec[7];
          auto r = b.on_unknown_spi(server, spi, now);
          if (r.bound && !child_hosts.count(r.host)) std::abort();
        }
        break;
      default: (void)b.tick(now);
    }
  }
  return 0;
}
