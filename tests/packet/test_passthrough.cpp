// IP passthrough through the real programs: unsolicited inbound traffic
// reaches the chosen host with ports unchanged and its answers leave with
// the public IP; the router's own ports, vpnpt's sessions and connections
// the host opens itself are left alone; off means off.
#include "l2tp_rig.h"

using namespace vpnpt;
using namespace vpnpt::test;
using pkt::Bytes;

namespace {

pkt::Ipv4Opts first_fragment() {
  pkt::Ipv4Opts o;
  o.frag = 0x2000;  // MF
  return o;
}

struct PtRig : L2tpRig {
  explicit PtRig(uint32_t host = kA) {
    uint32_t zero = 0;
    vpnpt_config c{};
    REQUIRE(bpf_map_lookup_elem(dp.map_fd(VPNPT_MAP_CONFIG), &zero, &c) == 0);
    c.passthrough_host = host;
    REQUIRE(bpf_map_update_elem(dp.map_fd(VPNPT_MAP_CONFIG), &zero, &c, BPF_ANY) == 0);
    keep(pkt::kProtoTcp, 22);
  }
  void keep(uint8_t proto, uint16_t port) const {
    vpnpt_local_port_key k{htons(port), proto, 0};
    uint8_t one = 1;
    REQUIRE(bpf_map_update_elem(dp.map_fd(VPNPT_MAP_LOCAL_PORTS), &k, &one, BPF_ANY) == 0);
  }
  Bytes in(uint8_t proto, const Bytes& l4) const {
    return pkt::frame(kSrv, kPub, proto, l4, {}, eth_of(TestRouter::kServer.mac, rt.wan_mac));
  }
  Bytes in_at(uint32_t host, uint8_t proto, const Bytes& l4) const {
    pkt::Ipv4Opts o;
    o.ttl = 63;
    const auto& mac = host == kB ? TestRouter::kClient2.mac : TestRouter::kClient.mac;
    return pkt::frame(kSrv, host, proto, l4, o, eth_of(rt.lan_mac, mac));
  }
  Bytes out(uint32_t host, uint8_t proto, const Bytes& l4) const {
    const auto& mac = host == kB ? TestRouter::kClient2.mac : TestRouter::kClient.mac;
    return pkt::frame(host, kSrv, proto, l4, {}, eth_of(mac, rt.lan_mac));
  }
  Bytes out_at(uint8_t proto, const Bytes& l4) const {
    pkt::Ipv4Opts o;
    o.ttl = 63;
    return pkt::frame(kPub, kSrv, proto, l4, o, eth_of(rt.wan_mac, TestRouter::kServer.mac));
  }
};

std::string verdict(const RunResult& r) { return verdict_name(r.verdict); }
constexpr uint8_t kSyn = 0x02, kSynAck = 0x12;

}  // namespace

TEST_CASE("IP passthrough: a connection the WAN opens reaches the host, its answers leave translated",
          "[passthrough][netns]") {
  PtRig g;
  auto i = g.wan(g.in(pkt::kProtoTcp, pkt::tcp(40000, 8080, {}, kSyn, 1)));
  CHECK(verdict(i) == "XDP_REDIRECT");
  CHECK(i.out == g.in_at(L2tpRig::kA, pkt::kProtoTcp, pkt::tcp(40000, 8080, {}, kSyn, 1)));
  CHECK(pkt::l4_checksum_ok(i.out));
  auto o = g.lan(g.out(L2tpRig::kA, pkt::kProtoTcp, pkt::tcp(8080, 40000, {}, kSynAck, 5, 2)));
  CHECK(verdict(o) == "XDP_REDIRECT");
  CHECK(o.out == g.out_at(pkt::kProtoTcp, pkt::tcp(8080, 40000, {}, kSynAck, 5, 2)));
  CHECK(pkt::l4_checksum_ok(o.out));
  CHECK(g.dp.entries(VPNPT_MAP_PT_FLOWS) == 1);

  // UDP and ping too.
  auto u = g.wan(g.in(pkt::kProtoUdp, pkt::udp(5353, 9999, Bytes{1, 2, 3})));
  CHECK(u.out == g.in_at(L2tpRig::kA, pkt::kProtoUdp, pkt::udp(5353, 9999, Bytes{1, 2, 3})));
  auto ur = g.lan(g.out(L2tpRig::kA, pkt::kProtoUdp, pkt::udp(9999, 5353, Bytes{4})));
  CHECK(ur.out == g.out_at(pkt::kProtoUdp, pkt::udp(9999, 5353, Bytes{4})));
  CHECK(pkt::l4_checksum_ok(ur.out));
  auto ping = g.wan(g.in(pkt::kProtoIcmp, pkt::icmp_echo(77, 1)));
  CHECK(ping.out == g.in_at(L2tpRig::kA, pkt::kProtoIcmp, pkt::icmp_echo(77, 1)));
}

TEST_CASE("IP passthrough: what it leaves alone", "[passthrough][netns]") {
  PtRig g;
  struct Case {
    const char* name;
    bool outbound;
    Bytes frame;
    uint32_t reason;
  } cases[] = {
      {"the router's own port (tcp/22)", false, g.in(pkt::kProtoTcp, pkt::tcp(40000, 22, {}, kSyn)),
       VPNPT_REASON_PT_LOCAL_PORT},
      {"a connection the host opens itself (the kernel NATs it)", true,
       g.out(L2tpRig::kA, pkt::kProtoTcp, pkt::tcp(50000, 443, {}, kSyn)), VPNPT_REASON_NONE},
      {"another LAN host", true, g.out(L2tpRig::kB, pkt::kProtoTcp, pkt::tcp(8080, 40000, {}, kSynAck)),
       VPNPT_REASON_NONE},
      {"an ICMP error (belongs to a kernel connection)", false,
       g.in(pkt::kProtoIcmp, Bytes{3, 3, 0xfc, 0xfc, 0, 0, 0, 0}), VPNPT_REASON_NONE},
      {"an inbound fragment", false,
       pkt::frame(L2tpRig::kSrv, L2tpRig::kPub, pkt::kProtoUdp, pkt::udp(1, 2, Bytes(8, 0)), first_fragment(),
                  eth_of(TestRouter::kServer.mac, g.rt.wan_mac)),
       VPNPT_REASON_NONE},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      auto before = g.dp.reason(c.reason);
      auto r = c.outbound ? g.lan(c.frame) : g.wan(c.frame);
      CHECK(verdict(r) == "XDP_PASS");
      CHECK(r.out == c.frame);
      if (c.reason) CHECK(g.dp.reason(c.reason) == before + 1);
      CHECK(g.dp.entries(VPNPT_MAP_PT_FLOWS) == 0);
    }
  }
}

TEST_CASE("IP passthrough: vpnpt's sessions come first", "[passthrough][netns]") {
  PtRig g;  // passthrough to A
  g.add_tunnel(L2tpRig::kB, 1701, 100, 100);
  auto r = g.wan(g.from_server(1701, 1701, pkt::l2tp::data(100, 1, Bytes{0xff, 3})));
  CHECK(r.out == g.at_client(L2tpRig::kB, 1701, 1701, pkt::l2tp::data(100, 1, Bytes{0xff, 3})));
  // ESP bound to B stays B's.
  g.dp.bind_spi(L2tpRig::kSrv, 0xbbbb0001, L2tpRig::kB);
  auto e = g.wan(g.in(pkt::kProtoEsp, pkt::esp(0xbbbb0001, 1)));
  CHECK(e.out == g.in_at(L2tpRig::kB, pkt::kProtoEsp, pkt::esp(0xbbbb0001, 1)));
  // An unbound SPI from a peer that never opened IKE to the host is dropped, never guessed.
  auto u = g.wan(g.in(pkt::kProtoEsp, pkt::esp(0xcccc0001, 1)));
  CHECK(verdict(u) == "XDP_DROP");
  CHECK(g.dp.reason(VPNPT_REASON_ESP_UNBOUND) == 1);
}

TEST_CASE("IP passthrough: a peer that opened IKE to the host gets its ESP delivered there", "[passthrough][netns]") {
  PtRig g;
  auto ike = g.wan(g.in(pkt::kProtoUdp, pkt::udp(500, 500, Bytes(28, 0))));
  CHECK(ike.out == g.in_at(L2tpRig::kA, pkt::kProtoUdp, pkt::udp(500, 500, Bytes(28, 0))));
  auto e = g.wan(g.in(pkt::kProtoEsp, pkt::esp(0xdddd0001, 1)));
  CHECK(verdict(e) == "XDP_REDIRECT");
  CHECK(e.out == g.in_at(L2tpRig::kA, pkt::kProtoEsp, pkt::esp(0xdddd0001, 1)));
}

TEST_CASE("IP passthrough: off, nothing is passed through", "[passthrough][netns]") {
  PtRig g(0);
  Bytes f = g.in(pkt::kProtoTcp, pkt::tcp(40000, 8080, {}, kSyn));
  auto r = g.wan(f);
  CHECK(verdict(r) == "XDP_PASS");
  CHECK(r.out == f);
  CHECK(g.dp.entries(VPNPT_MAP_PT_FLOWS) == 0);
}
