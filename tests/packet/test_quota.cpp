// Per-LAN-host shares of the session tables: a host is refused at its own
// cap (counted under its own reason) while other hosts carry on, and the
// daemon's recount gives a host its share back once its entries are gone.
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <catch2/catch.hpp>

#include "l2tp_rig.h"
#include "loader/proto/ipsec/esp_table.h"
#include "loader/daemon/host_quota.h"
#include "pptp_builder.h"

using namespace vpnpt;
using namespace vpnpt::test;
using pkt::Bytes;

namespace {

LoadConfig small_quota() {
  LoadConfig c;
  c.host_max_calls = 2;
  c.host_max_streams = 2;
  c.host_max_sas = 3;
  return c;
}

QuotaMaps quota_maps(const Dataplane& dp) {
  return {dp.map_fd(VPNPT_MAP_HOST_QUOTA), dp.map_fd(VPNPT_MAP_PPTP_CALLS), dp.map_fd(VPNPT_MAP_PPTP_STREAMS),
          dp.map_fd(VPNPT_MAP_ESP_OUT)};
}

vpnpt_host_quota held(const Dataplane& dp, uint32_t host) {
  vpnpt_host_quota q{};
  REQUIRE(bpf_map_lookup_elem(dp.map_fd(VPNPT_MAP_HOST_QUOTA), &host, &q) == 0);
  return q;
}

}  // namespace

TEST_CASE("quota: one host's outbound SPIs stop at its share, others carry on", "[quota][netns]") {
  TestRouter rt;
  Dataplane dp(small_quota());
  const uint32_t pub = pkt::ip("203.0.113.1"), srv = pkt::ip(TestRouter::kServer.ip);
  const uint32_t a = pkt::ip(TestRouter::kClient.ip), b = pkt::ip(TestRouter::kClient2.ip);
  dp.configure(pub, rt.wan_ifindex);
  auto esp = [&](uint32_t host, uint32_t spi) {
    const auto& mac = host == b ? TestRouter::kClient2.mac : TestRouter::kClient.mac;
    return run_xdp(dp.progs.lan_fd(),
                   pkt::frame(host, srv, pkt::kProtoEsp, pkt::esp(spi, 1), {}, eth_of(mac, rt.lan_mac)), 1,
                   rt.lan_ifindex);
  };
  for (uint32_t spi = 1; spi <= 3; ++spi) CHECK(esp(a, spi).verdict == XDP_REDIRECT);
  CHECK(esp(a, 1).verdict == XDP_REDIRECT);  // a known SPI is not a new entry
  CHECK(esp(a, 4).verdict == XDP_DROP);
  CHECK(dp.reason(VPNPT_REASON_ESP_HOST_QUOTA) == 1);
  CHECK(esp(b, 100).verdict == XDP_REDIRECT);  // another host is not affected
  CHECK(dp.entries(VPNPT_MAP_ESP_OUT) == 4);

  // The daemon expires two of A's SAs; its recount gives A room again.
  auto out = EspTable::map(dp.map_fd(VPNPT_MAP_ESP_OUT));
  REQUIRE(out);
  for (uint32_t spi : {1u, 2u}) {
    auto slot = out->find(srv, htonl(spi));
    REQUIRE(slot);
    out->erase(*slot);
  }
  auto adj = QuotaAdjuster::open(dp.map_fd(VPNPT_MAP_HOST_QUOTA));
  REQUIRE(adj);
  auto hosts = recount_host_quotas(*adj, quota_maps(dp));
  REQUIRE(hosts);
  CHECK(*hosts == 2);
  CHECK(held(dp, a).esp_sas == 1);
  CHECK(esp(a, 5).verdict == XDP_REDIRECT);
  CHECK(esp(a, 6).verdict == XDP_REDIRECT);
  CHECK(esp(a, 7).verdict == XDP_DROP);
}

// The lab's flood found it: the daemon counted the tables, the data plane
// created entries meanwhile, and writing the count over the counters forgot
// them; a flooding host ended up with 1064 calls of a 1024 share.
TEST_CASE("quota: entries created while the daemon counts are not forgotten", "[quota][netns]") {
  TestRouter rt;
  Dataplane dp(small_quota());
  const uint32_t pub = pkt::ip("203.0.113.1"), srv = pkt::ip(TestRouter::kServer.ip);
  const uint32_t a = pkt::ip(TestRouter::kClient.ip);
  dp.configure(pub, rt.wan_ifindex);
  auto esp = [&](uint32_t spi) {
    return run_xdp(
        dp.progs.lan_fd(),
        pkt::frame(a, srv, pkt::kProtoEsp, pkt::esp(spi, 1), {}, eth_of(TestRouter::kClient.mac, rt.lan_mac)), 1,
        rt.lan_ifindex);
  };
  auto adj = QuotaAdjuster::open(dp.map_fd(VPNPT_MAP_HOST_QUOTA));
  REQUIRE(adj);
  CHECK(esp(1).verdict == XDP_REDIRECT);
  auto count = count_host_quotas(quota_maps(dp));  // the daemon counts: 1 SA
  CHECK(esp(2).verdict == XDP_REDIRECT);           // meanwhile the host opens 2 more
  CHECK(esp(3).verdict == XDP_REDIRECT);
  REQUIRE(adj->apply(count));
  CHECK(held(dp, a).esp_sas == 3);
  CHECK(esp(4).verdict == XDP_DROP);  // its share of 3 holds
  CHECK(dp.reason(VPNPT_REASON_ESP_HOST_QUOTA) == 1);
  CHECK(dp.entries(VPNPT_MAP_ESP_OUT) == 3);

  // A count that went below zero (a take given back after the daemon read
  // the counters) is below every cap and is corrected by the next count.
  vpnpt_host_quota wrapped{};
  wrapped.esp_sas = static_cast<uint32_t>(-1);
  REQUIRE(bpf_map_update_elem(dp.map_fd(VPNPT_MAP_HOST_QUOTA), &a, &wrapped, BPF_ANY) == 0);
  REQUIRE(recount_host_quotas(*adj, quota_maps(dp)));
  CHECK(held(dp, a).esp_sas == 3);
}

TEST_CASE("quota: one host's PPTP calls and control connections stop at its share", "[quota][pptp]") {
  Dataplane dp(small_quota());
  const uint32_t pub = pkt::ip("203.0.113.1"), srv = pkt::ip("203.0.113.7");
  const uint32_t a = pkt::ip("192.168.1.10"), b = pkt::ip("192.168.1.11");
  dp.configure(pub);
  pptp::TcpFlow a1{a, srv, 40000, 1723, 100}, a2{a, srv, 40001, 1723, 300}, a3{a, srv, 40002, 1723, 500};
  pptp::TcpFlow b1{b, srv, 41000, 1723, 700};
  auto lan = [&](const Bytes& f) { return run_xdp(dp.progs.lan_fd(), f); };

  CHECK(lan(a1.syn()).verdict == XDP_PASS);
  CHECK(lan(a1.syn()).verdict == XDP_PASS);  // a retransmitted SYN is the same connection
  CHECK(lan(a2.syn()).verdict == XDP_PASS);
  CHECK(lan(a3.syn()).verdict == XDP_DROP);  // a third connection is over A's share of 2
  CHECK(dp.reason(VPNPT_REASON_PPTP_HOST_QUOTA) == 1);
  CHECK(lan(b1.syn()).verdict == XDP_PASS);

  CHECK(lan(a1.data(pptp::ocrq(1000))).verdict == XDP_PASS);
  CHECK(lan(a1.data(pptp::ocrq(1001))).verdict == XDP_PASS);
  CHECK(lan(a1.data(pptp::ocrq(1002))).verdict == XDP_DROP);  // held: TCP resends, refused again
  CHECK(dp.reason(VPNPT_REASON_PPTP_HOST_QUOTA) == 2);
  CHECK(lan(b1.data(pptp::ocrq(1000))).verdict == XDP_PASS);
  CHECK(dp.entries(VPNPT_MAP_PPTP_CALLS) == 3);
}
