// Focused regression cases, each minimised from a failure of the property
// tests (tests/property/test_property_*.cpp) and named after the property it broke.
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <catch2/catch.hpp>

#include "pptp_builder.h"
#include "fixtures.h"
#include "prog_runner.h"
#include "test_router.h"

using namespace vpnpt;
using namespace vpnpt::test;
using pkt::Bytes;
using pkt::ip;

namespace {

// @l4 after an IPv4 header whose total length covers only @in_datagram bytes
// of it: the rest sits where Ethernet padding would be.
Bytes short_datagram(uint32_t s, uint32_t d, uint8_t proto, const Bytes& l4, size_t in_datagram) {
  pkt::Ipv4Opts o;
  o.tot_len = static_cast<uint16_t>(20 + in_datagram);
  o.l4_checksum = false;
  return pkt::frame(s, d, proto, l4, o);
}

}  // namespace

// Seed 20261121, packet 31 of the data-plane property test: the L4 header
// was bounds-checked against the frame, not the datagram, so header fields
// were read from (and GRE keys rewritten in) the Ethernet padding.
TEST_CASE("regression: an L4 header continuing into Ethernet padding is cut off, never translated",
          "[property][regression][netns]") {
  TestRouter rt;
  Dataplane dp;
  dp.configure(kPub, rt.wan_ifindex);
  // A's call 1000 toward the server, answered; and a bound inbound SPI of A.
  pptp::TcpFlow up{kA, kSrv, 40000, 1723, 100}, down{kSrv, kPub, 1723, 40000, 900};
  REQUIRE(run_xdp(dp.progs.lan_fd(), up.syn()).verdict == XDP_PASS);
  REQUIRE(0 == pptp::masquerade(up, down));
  REQUIRE(run_xdp(dp.progs.wan_fd(), down.syn_ack(up)).verdict == XDP_PASS);
  REQUIRE(run_xdp(dp.progs.lan_fd(), up.data(pptp::ocrq(1000))).verdict == XDP_PASS);
  REQUIRE(run_xdp(dp.progs.wan_fd(), down.data(pptp::ocrp(0, 1000))).verdict == XDP_PASS);
  dp.bind_spi(kSrv, 0x99, kA);

  struct Case {
    const char* name;
    Bytes in;
    vpnpt_reason reason;
  };
  std::vector<Case> cases = {
      {"enhanced GRE: 4 of 8 header bytes in the datagram, the key in the padding",
       short_datagram(kSrv, kPub, pkt::kProtoGre, pkt::gre_v1(1000, Bytes(20, 1)), 4), VPNPT_REASON_L4_TRUNC},
      {"enhanced GRE: sequence number in the padding",
       short_datagram(kSrv, kPub, pkt::kProtoGre, pkt::gre_v1(1000, Bytes(20, 1), 7), 8), VPNPT_REASON_L4_TRUNC},
      {"ESP: SPI in the datagram, sequence number in the padding",
       short_datagram(kSrv, kPub, pkt::kProtoEsp, pkt::esp(0x99, 1), 4), VPNPT_REASON_L4_TRUNC},
      {"UDP header in the padding",
       short_datagram(kSrv, kPub, pkt::kProtoUdp, pkt::udp(4500, 4500, pkt::esp(0x99, 1)), 6), VPNPT_REASON_L4_TRUNC},
      {"NAT-T: SPI in the padding",
       short_datagram(kSrv, kPub, pkt::kProtoUdp, pkt::udp(4500, 4500, pkt::esp(0x99, 1)), 8),
       VPNPT_REASON_NATT_NOT_ESP},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      uint64_t before = dp.reason(c.reason);
      auto r = run_xdp(dp.progs.wan_fd(), c.in, 1, rt.wan_ifindex);
      CHECK(std::string(verdict_name(r.verdict)) == "XDP_PASS");
      CHECK(r.out == c.in);
      CHECK(dp.reason(c.reason) == before + 1);
    }
  }
}

// Found by the PPTP control property test (seed 20261121, when a host's two
// connections drew the same Call IDs): the call index was keyed by (client,
// server, client Call ID) without the control connection, so a host with two
// control connections to one server using the same Call ID on both got the
// SAME translated id for both calls, and the calls were mixed. The index key
// now carries the connection's client port (vpnpt_pptp_by_client_v2).
TEST_CASE("regression: one host, two control connections to one server, the same Call ID on both",
          "[property][regression]") {
  PrivateNetns ns;  // its conntrack holds the control connections
  Dataplane dp;
  dp.configure(kPub);
  pptp::TcpFlow up1{kA, kSrv, 40000, 1723, 100}, down1{kSrv, kPub, 1723, 40000, 900};
  pptp::TcpFlow up2{kA, kSrv, 40001, 1723, 500}, down2{kSrv, kPub, 1723, 40001, 700};
  for (auto* f : {&up1, &up2}) REQUIRE(run_xdp(dp.progs.lan_fd(), f->syn()).verdict == XDP_PASS);
  REQUIRE(0 == pptp::masquerade(up1, down1));
  REQUIRE(0 == pptp::masquerade(up2, down2));
  REQUIRE(run_xdp(dp.progs.wan_fd(), down1.syn_ack(up1)).verdict == XDP_PASS);
  REQUIRE(run_xdp(dp.progs.wan_fd(), down2.syn_ack(up2)).verdict == XDP_PASS);
  auto r1 = run_xdp(dp.progs.lan_fd(), up1.data(pptp::ocrq(1000)));
  REQUIRE(run_xdp(dp.progs.wan_fd(), down1.data(pptp::ocrp(0, pptp::be16_at(r1.out, pptp::kTcpPayloadOffset + 12))))
              .verdict == XDP_PASS);
  auto r2 = run_xdp(dp.progs.lan_fd(), up2.data(pptp::ocrq(1000)));
  REQUIRE(r1.verdict == XDP_PASS);
  REQUIRE(r2.verdict == XDP_PASS);
  CHECK(pptp::be16_at(r1.out, pptp::kTcpPayloadOffset + 12) != pptp::be16_at(r2.out, pptp::kTcpPayloadOffset + 12));
}
