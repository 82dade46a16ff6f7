// Raw ESP through the real programs in a router namespace: outbound SPI
// learning and source NAT, inbound delivery only for bound SPIs, unknown
// SPIs dropped and reported (rate-limited), AH and switched-off IPsec
// passed untouched.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <catch2/catch.hpp>

#include "prog_runner.h"
#include "test_router.h"

using namespace vpnpt;
using namespace vpnpt::test;
using pkt::Bytes;
using pkt::ip;

namespace {

const uint32_t kPub = ip("203.0.113.1");
const uint32_t kSrv = ip(TestRouter::kServer.ip);
const uint32_t kA = ip(TestRouter::kClient.ip);
const uint32_t kB = ip(TestRouter::kClient2.ip);

pkt::EthOpts eth(const std::array<uint8_t, 6>& src, const std::array<uint8_t, 6>& dst) {
  pkt::EthOpts e;
  std::copy(src.begin(), src.end(), e.src);
  std::copy(dst.begin(), dst.end(), e.dst);
  return e;
}

Bytes esp(uint32_t s, uint32_t d, uint32_t spi, uint32_t seq, uint8_t ttl, const pkt::EthOpts& e) {
  pkt::Ipv4Opts o;
  o.ttl = ttl;
  return pkt::frame(s, d, pkt::kProtoEsp, pkt::esp(spi, seq, Bytes(48, 0x77)), o, e);
}

struct EspRig {
  TestRouter rt;
  Dataplane dp;
  EspRig() { dp.configure(kPub, rt.wan_ifindex); }
  RunResult lan(const Bytes& f) { return run_xdp(dp.progs.lan_fd(), f, 1, rt.lan_ifindex); }
  RunResult wan(const Bytes& f) { return run_xdp(dp.progs.wan_fd(), f, 1, rt.wan_ifindex); }
  void bind(uint32_t spi, uint32_t host) {
    vpnpt_esp_key k{kSrv, htonl(spi)};
    vpnpt_esp_sa sa{};
    sa.host = host;
    REQUIRE(bpf_map_update_elem(dp.map_fd(VPNPT_MAP_ESP_IN), &k, &sa, BPF_ANY) == 0);
  }
  bool out_owner(uint32_t spi, uint32_t* host) {
    vpnpt_esp_key k{kSrv, htonl(spi)};
    vpnpt_esp_sa sa{};
    if (bpf_map_lookup_elem(dp.map_fd(VPNPT_MAP_ESP_OUT), &k, &sa)) return false;
    *host = sa.host;
    return true;
  }
};

std::vector<vpnpt_event> drain(int fd) {
  std::vector<vpnpt_event> evs;
  auto cb = [](void* ctx, void* data, size_t size) -> int {
    if (size >= sizeof(vpnpt_event)) static_cast<std::vector<vpnpt_event>*>(ctx)->push_back(*static_cast<vpnpt_event*>(data));
    return 0;
  };
  ring_buffer* rb = ring_buffer__new(fd, cb, &evs, nullptr);
  ring_buffer__consume(rb);
  ring_buffer__free(rb);
  return evs;
}

}  // namespace

TEST_CASE("ESP: a host's packets are source-NATed and its SPI recorded", "[ipsec][esp][netns]") {
  EspRig g;
  auto r = g.lan(esp(kA, kSrv, 0xc0ffee01, 1, 64, eth(TestRouter::kClient.mac, g.rt.lan_mac)));
  CHECK(std::string(verdict_name(r.verdict)) == "XDP_REDIRECT");
  CHECK(r.out == esp(kPub, kSrv, 0xc0ffee01, 1, 63, eth(g.rt.wan_mac, TestRouter::kServer.mac)));
  CHECK(pkt::ipv4_checksum_ok(r.out));
  uint32_t owner = 0;
  REQUIRE(g.out_owner(0xc0ffee01, &owner));
  CHECK(owner == kA);

  SECTION("another host using the same SPI toward that server is refused") {
    Bytes in = esp(kB, kSrv, 0xc0ffee01, 1, 64, eth(TestRouter::kClient2.mac, g.rt.lan_mac));
    auto rb = g.lan(in);
    CHECK(std::string(verdict_name(rb.verdict)) == "XDP_DROP");
    CHECK(g.dp.reason(VPNPT_REASON_ESP_SPI_CONFLICT) == 1);
  }
  SECTION("several hosts to one server, each with its own SPI") {
    auto rb = g.lan(esp(kB, kSrv, 0xc0ffee02, 1, 64, eth(TestRouter::kClient2.mac, g.rt.lan_mac)));
    CHECK(rb.verdict == XDP_REDIRECT);
    REQUIRE(g.out_owner(0xc0ffee02, &owner));
    CHECK(owner == kB);
  }
}

TEST_CASE("ESP: inbound is delivered only for a bound SPI", "[ipsec][esp][netns]") {
  EspRig g;
  auto wan_eth = eth(TestRouter::kServer.mac, g.rt.wan_mac);
  SECTION("unknown SPI: dropped and reported once per 100 ms, never delivered") {
    Bytes in = esp(kSrv, kPub, 0x1a2b3c4d, 1, 60, wan_eth);
    for (int i = 0; i < 5; ++i) {
      auto r = g.wan(in);
      CHECK(std::string(verdict_name(r.verdict)) == "XDP_DROP");
    }
    CHECK(g.dp.reason(VPNPT_REASON_ESP_UNBOUND) == 5);
    auto evs = drain(g.dp.progs.events_fd());
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].kind == VPNPT_EV_ESP_UNKNOWN);
    CHECK(evs[0].saddr == kSrv);
    CHECK(evs[0].id == 0x1a2b3c4du);
  }
  SECTION("bound SPI: destination-NATed to its host and redirected to the LAN") {
    g.bind(0x1a2b3c4d, kB);
    g.bind(0x99, kA);
    auto r = g.wan(esp(kSrv, kPub, 0x1a2b3c4d, 7, 60, wan_eth));
    CHECK(std::string(verdict_name(r.verdict)) == "XDP_REDIRECT");
    CHECK(r.out == esp(kSrv, kB, 0x1a2b3c4d, 7, 59, eth(g.rt.lan_mac, TestRouter::kClient2.mac)));
    auto ra = g.wan(esp(kSrv, kPub, 0x99, 1, 60, wan_eth));
    CHECK(ra.out == esp(kSrv, kA, 0x99, 1, 59, eth(g.rt.lan_mac, TestRouter::kClient.mac)));
    // The same SPI from another server is a different SA.
    auto rx = g.wan(esp(ip("203.0.113.8"), kPub, 0x1a2b3c4d, 1, 60, wan_eth));
    CHECK(rx.verdict == XDP_DROP);
  }
}

TEST_CASE("ESP: what vpnpt does not translate", "[ipsec][esp][netns]") {
  EspRig g;
  auto lan_eth = eth(TestRouter::kClient.mac, g.rt.lan_mac);
  SECTION("IPsec switched off: untouched, to the kernel") {
    g.dp.configure(kPub, g.rt.wan_ifindex, VPNPT_SW_ALL & ~VPNPT_SW_IPSEC);
    Bytes in = esp(kA, kSrv, 5, 1, 64, lan_eth);
    auto r = g.lan(in);
    CHECK(r.verdict == XDP_PASS);
    CHECK(r.out == in);
    CHECK(g.dp.reason(VPNPT_REASON_IPSEC_OFF) == 1);
    CHECK(g.dp.entries(VPNPT_MAP_ESP_OUT) == 0);
  }
  SECTION("AH cannot cross NAT: counted and passed") {
    Bytes in = pkt::frame(kA, kSrv, pkt::kProtoAh, pkt::ah(5, 1), {}, lan_eth);
    auto r = g.lan(in);
    CHECK(r.verdict == XDP_PASS);
    CHECK(r.out == in);
    CHECK(g.dp.reason(VPNPT_REASON_AH_NO_NAT) == 1);
  }
  SECTION("fragmented ESP goes to the kernel") {
    pkt::Ipv4Opts mf;
    mf.frag = 0x2000;
    Bytes in = pkt::frame(kA, kSrv, pkt::kProtoEsp, pkt::esp(5, 1, Bytes(64, 1)), mf, lan_eth);
    auto r = g.lan(in);
    CHECK(r.verdict == XDP_PASS);
    CHECK(r.out == in);
    CHECK(g.dp.reason(VPNPT_REASON_ESP_FRAGMENT) == 1);
  }
  SECTION("truncated ESP is malformed: untouched") {
    Bytes in = pkt::ether(pkt::ipv4(kA, kSrv, pkt::kProtoEsp, Bytes(6, 1)), pkt::kEthIpv4, lan_eth);
    auto r = g.lan(in);
    CHECK(r.verdict == XDP_PASS);
    CHECK(r.out == in);
    CHECK(g.dp.reason(VPNPT_REASON_L4_TRUNC) == 1);
  }
}
