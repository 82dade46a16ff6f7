// NAT-T ESP (UDP 4500) forwarded at XDP with the kernel masquerade's own
// mapping, read from conntrack. The test router namespace masquerades a
// real UDP flow first, so conntrack holds a real entry.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "fixtures.h"
#include "prog_runner.h"
#include "test_router.h"

using namespace vpnpt;
using namespace vpnpt::test;
using pkt::Bytes;
using pkt::ip;

namespace {

Bytes udp_frame(uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, const Bytes& payload, uint8_t ttl,
                const pkt::EthOpts& e, bool csum) {
  pkt::Ipv4Opts o;
  o.ttl = ttl;
  o.l4_checksum = csum;
  return pkt::frame(s, d, pkt::kProtoUdp, pkt::udp(sp, dp, payload), o, e);
}

// Sends @frame into the router through the stack: out of lanp (lan0 receives it) or wanp (wan0).
void inject(const Bytes& frame, const char* from = "lanp") {
  int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  REQUIRE(s >= 0);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = static_cast<int>(if_nametoindex(from));
  sll.sll_halen = 6;
  REQUIRE(sendto(s, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) ==
          static_cast<ssize_t>(frame.size()));
  close(s);
}

// Seconds left on the conntrack entry of UDP @client:4500 -> server:4500 (/proc/net/nf_conntrack), -1 if none.
int ct_seconds_left(const char* client) {
  std::ifstream f("/proc/net/nf_conntrack");
  std::string line, want = std::string("src=") + client + " ";
  while (std::getline(f, line)) {
    if (line.find(" udp ") == std::string::npos || line.find(want) == std::string::npos) continue;
    std::istringstream w(line);
    std::string family, fnum, proto, pnum;
    int left = -1;
    w >> family >> fnum >> proto >> pnum >> left;
    return left;
  }
  return -1;
}

}  // namespace

TEST_CASE("NAT-T: ESP in UDP 4500 follows the kernel's own NAT mapping", "[ipsec][natt][netns]") {
  TestRouter rt;
  REQUIRE(std::system("nft add table ip t && nft add chain ip t post '{ type nat hook postrouting priority 100; }' "
                      "&& nft add rule ip t post oifname wan0 masquerade") == 0);
  Dataplane dp;
  dp.configure(kPub, rt.wan_ifindex);
  auto from_client = eth(TestRouter::kClient.mac, rt.lan_mac);

  // IKE on 4500 (non-ESP marker) through the real stack: conntrack masquerades it.
  Bytes ike(32, 0);
  ike[4] = 0x11;  // initiator SPI after the 4-byte zero marker
  inject(udp_frame(kA, kSrv, 4500, 4500, ike, 64, from_client, true));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  Bytes esp = pkt::esp(0xabcdef01, 3, Bytes(40, 0x33));
  SECTION("outbound: source becomes the public address and port conntrack chose") {
    auto r =
        run_xdp(dp.progs.lan_fd(), udp_frame(kA, kSrv, 4500, 4500, esp, 64, from_client, false), 1, rt.lan_ifindex);
    CHECK(std::string(verdict_name(r.verdict)) == "XDP_REDIRECT");
    // The only flow from that host: masquerade kept port 4500.
    CHECK(r.out == udp_frame(kPub, kSrv, 4500, 4500, esp, 63, eth(rt.wan_mac, TestRouter::kServer.mac), false));
  }
  // XDP forwards ESP-in-UDP with no checksum (RFC 3948 3.1.2): a frame cannot say whether its checksum
  // is complete. TC keeps the checksum, updated by the kernel's helpers for the skb's checksum state.
  const bool tc = test_hook() == Hook::Tc;
  SECTION("outbound with a UDP checksum: XDP forwards it with none, TC with it updated") {
    Bytes in = udp_frame(kA, kSrv, 4500, 4500, esp, 64, from_client, true);
    if (!tc) in[14 + 20 + 6] ^= 0x5a;  // at XDP even a partial (offloaded) checksum does not matter
    auto r = run_xdp(dp.progs.lan_fd(), in, 1, rt.lan_ifindex);
    REQUIRE(r.verdict == XDP_REDIRECT);
    CHECK(r.out == udp_frame(kPub, kSrv, 4500, 4500, esp, 63, eth(rt.wan_mac, TestRouter::kServer.mac), tc));
    if (tc) CHECK(pkt::l4_checksum_ok(r.out));
  }
  SECTION("inbound: back to the host and its own port") {
    auto r = run_xdp(dp.progs.wan_fd(),
                     udp_frame(kSrv, kPub, 4500, 4500, esp, 60, eth(TestRouter::kServer.mac, rt.wan_mac), false), 1,
                     rt.wan_ifindex);
    CHECK(std::string(verdict_name(r.verdict)) == "XDP_REDIRECT");
    CHECK(r.out == udp_frame(kSrv, kA, 4500, 4500, esp, 59, eth(rt.lan_mac, TestRouter::kClient.mac), false));
  }
  SECTION("inbound with a UDP checksum, and a second host whose port masquerade remapped") {
    auto r = run_xdp(dp.progs.wan_fd(),
                     udp_frame(kSrv, kPub, 4500, 4500, esp, 60, eth(TestRouter::kServer.mac, rt.wan_mac), true), 1,
                     rt.wan_ifindex);
    REQUIRE(r.verdict == XDP_REDIRECT);
    CHECK(r.out == udp_frame(kSrv, kA, 4500, 4500, esp, 59, eth(rt.lan_mac, TestRouter::kClient.mac), tc));

    inject(udp_frame(kB, kSrv, 4500, 4500, ike, 64, eth(TestRouter::kClient2.mac, rt.lan_mac), true));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto ob = run_xdp(dp.progs.lan_fd(),
                      udp_frame(kB, kSrv, 4500, 4500, esp, 64, eth(TestRouter::kClient2.mac, rt.lan_mac), false), 1,
                      rt.lan_ifindex);
    REQUIRE(ob.verdict == XDP_REDIRECT);
    uint16_t pub_port = static_cast<uint16_t>(ob.out[34] << 8 | ob.out[35]);
    CHECK(pub_port != 4500);  // (public, 4500, server, 4500) belongs to A
    auto ib = run_xdp(dp.progs.wan_fd(),
                      udp_frame(kSrv, kPub, 4500, pub_port, esp, 60, eth(TestRouter::kServer.mac, rt.wan_mac), true), 1,
                      rt.wan_ifindex);
    REQUIRE(ib.verdict == XDP_REDIRECT);
    CHECK(ib.out == udp_frame(kSrv, kB, 4500, 4500, esp, 59, eth(rt.lan_mac, TestRouter::kClient2.mac), tc));
  }
  SECTION("IKE and keepalives on 4500 go to the kernel") {
    Bytes in = udp_frame(kA, kSrv, 4500, 4500, ike, 64, from_client, true);
    auto r = run_xdp(dp.progs.lan_fd(), in, 1, rt.lan_ifindex);
    CHECK(r.verdict == XDP_PASS);
    CHECK(r.out == in);
    Bytes ka = udp_frame(kA, kSrv, 4500, 4500, Bytes{0xff}, 64, from_client, true);
    auto rk = run_xdp(dp.progs.lan_fd(), ka, 1, rt.lan_ifindex);
    CHECK(rk.verdict == XDP_PASS);
    CHECK(dp.reason(VPNPT_REASON_NATT_NOT_ESP) == 2);
  }
  SECTION("forwarded ESP renews the kernel's mapping, which would otherwise expire under it") {
    // The server answers IKE through the stack: until the flow is two seconds old
    // conntrack keeps the entry for the unreplied timeout (30 s).
    inject(udp_frame(kSrv, kPub, 4500, 4500, ike, 64, eth(TestRouter::kServer.mac, rt.wan_mac), true), "wanp");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    int before = ct_seconds_left(TestRouter::kClient.ip);
    REQUIRE(before > 0);
    REQUIRE(before <= 30);
    auto r =
        run_xdp(dp.progs.lan_fd(), udp_frame(kA, kSrv, 4500, 4500, esp, 64, from_client, false), 1, rt.lan_ifindex);
    REQUIRE(r.verdict == XDP_REDIRECT);
    // Renewed to the stream timeout (VPNPT_NATT_CT_TIMEOUT_MS_DEFAULT, 120 s), as a packet through the stack would.
    CHECK(ct_seconds_left(TestRouter::kClient.ip) >= 110);
  }
  SECTION("a mapping conntrack dropped is not used after the cache bound") {
    auto out = [&] {
      return run_xdp(dp.progs.lan_fd(), udp_frame(kA, kSrv, 4500, 4500, esp, 64, from_client, false), 1,
                     rt.lan_ifindex);
    };
    REQUIRE(out().verdict == XDP_REDIRECT);  // now in this CPU's NAT-T cache
    REQUIRE(flush_conntrack());
    REQUIRE(ct_seconds_left(TestRouter::kClient.ip) == -1);
    std::this_thread::sleep_for(std::chrono::nanoseconds(VPNPT_FIB_CACHE_NS_DEFAULT) +
                                std::chrono::milliseconds(30));  // the bound, plus two ticks and then some
    auto r = out();
    CHECK(r.verdict == XDP_PASS);
    CHECK(dp.reason(VPNPT_REASON_NATT_NO_CT) == 1);
  }
  SECTION("a flow conntrack does not know goes to the kernel untouched") {
    Bytes in = udp_frame(ip(TestRouter::kClient2.ip), kSrv, 4500, 4500, esp, 64,
                         eth(TestRouter::kClient2.mac, rt.lan_mac), false);
    auto r = run_xdp(dp.progs.lan_fd(), in, 1, rt.lan_ifindex);
    CHECK(r.verdict == XDP_PASS);
    CHECK(r.out == in);
    CHECK(dp.reason(VPNPT_REASON_NATT_NO_CT) == 1);
  }
}
