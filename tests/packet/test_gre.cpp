// Enhanced GRE through the real programs, inside a throwaway router
// namespace so bpf_fib_lookup answers: exact output frames (addresses, Key,
// TTL, MACs, checksums), verdicts, and what is refused.
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "loader/core/clock.h"
#include "loader/proto/pptp/pptp_slowpath.h"
#include "loader/proto/pptp/pptp_table.h"
#include "pptp_builder.h"
#include "fixtures.h"
#include "prog_runner.h"
#include "test_router.h"

using namespace vpnpt;
using namespace vpnpt::test;
using pkt::Bytes;
using pkt::ip;

namespace {

// A router namespace plus programs with two established calls that collided
// on client Call ID 1000: A kept 1000, B got another id. The server gave
// its own ids 0 (A) and 128 (B).
struct GreRig {
  TestRouter rt;  // first: the programs' FIB lookups happen in its namespace
  Dataplane dp;
  uint16_t tb = 0;

  GreRig() {
    dp.configure(kPub, rt.wan_ifindex);
    setup(kA, 40000, 40000, 0);
    tb = setup(kB, 40001, 40001, 128);
  }

  uint16_t setup(uint32_t client, uint16_t port, uint16_t pub_port, uint16_t server_id) {
    pptp::TcpFlow up{client, kSrv, port, 1723, 100}, down{kSrv, kPub, 1723, pub_port, 900};
    REQUIRE(run_xdp(dp.progs.lan_fd(), up.syn()).verdict == XDP_PASS);
    REQUIRE(0 == pptp::masquerade(up, down));
    REQUIRE(run_xdp(dp.progs.wan_fd(), down.syn_ack(up)).verdict == XDP_PASS);
    auto r = run_xdp(dp.progs.lan_fd(), up.data(pptp::ocrq(1000)));
    REQUIRE(r.verdict == XDP_PASS);
    uint16_t x = pptp::be16_at(r.out, pptp::kTcpPayloadOffset + 12);
    REQUIRE(run_xdp(dp.progs.wan_fd(), down.data(pptp::ocrp(server_id, x))).verdict == XDP_PASS);
    return x;
  }

  RunResult lan(const Bytes& f) { return run_xdp(dp.progs.lan_fd(), f, 1, rt.lan_ifindex); }
  RunResult wan(const Bytes& f) { return run_xdp(dp.progs.wan_fd(), f, 1, rt.wan_ifindex); }
};

Bytes gre(uint32_t s, uint32_t d, uint16_t key, uint8_t ttl, const pkt::EthOpts& e, std::optional<uint32_t> seq = 7,
          std::optional<uint32_t> ack = 3) {
  pkt::Ipv4Opts o;
  o.ttl = ttl;
  return pkt::frame(s, d, pkt::kProtoGre, pkt::gre_v1(key, Bytes(40, 0x5a), seq, ack), o, e);
}

}  // namespace

TEST_CASE("GRE: server to client is translated and redirected to the LAN", "[pptp][gre][netns]") {
  GreRig g;
  REQUIRE(g.tb != 1000);
  auto in_eth = eth(TestRouter::kServer.mac, g.rt.wan_mac);
  auto out_eth = eth(g.rt.lan_mac, TestRouter::kClient2.mac);
  for (auto [seq, ack] : {std::pair<std::optional<uint32_t>, std::optional<uint32_t>>{7, 3},
                          {7, std::nullopt},
                          {std::nullopt, 3},
                          {std::nullopt, std::nullopt}}) {
    Bytes in = gre(kSrv, kPub, g.tb, 60, in_eth, seq, ack);
    auto r = g.wan(in);
    REQUIRE(r.err == 0);
    CHECK(std::string(verdict_name(r.verdict)) == "XDP_REDIRECT");
    Bytes want = gre(kSrv, kB, 1000, 59, out_eth, seq, ack);  // dst B, B's own id, TTL - 1
    INFO("got:\n" << pkt::hex(r.out) << "\nwant:\n" << pkt::hex(want));
    CHECK(r.out == want);
    CHECK(pkt::ipv4_checksum_ok(r.out));
  }
  // A's call (kept 1000) goes to A.
  auto ra = g.wan(gre(kSrv, kPub, 1000, 60, in_eth));
  CHECK(ra.verdict == XDP_REDIRECT);
  CHECK(ra.out == gre(kSrv, kA, 1000, 59, eth(g.rt.lan_mac, TestRouter::kClient.mac)));
}

TEST_CASE("GRE: client to server is source-NATed and redirected to the WAN", "[pptp][gre][netns]") {
  GreRig g;
  auto in_eth = eth(TestRouter::kClient2.mac, g.rt.lan_mac);
  Bytes in = gre(kB, kSrv, 128, 64, in_eth);  // key = the server's id for B's call
  auto r = g.lan(in);
  CHECK(std::string(verdict_name(r.verdict)) == "XDP_REDIRECT");
  Bytes want = gre(kPub, kSrv, 128, 63, eth(g.rt.wan_mac, TestRouter::kServer.mac));
  INFO("got:\n" << pkt::hex(r.out) << "\nwant:\n" << pkt::hex(want));
  CHECK(r.out == want);
  CHECK(pkt::ipv4_checksum_ok(r.out));

  auto s = snapshot(g.dp.progs);
  CHECK(s.counters[vpnpt_counter_index(VPNPT_DIR_OUTBOUND, VPNPT_CLASS_GRE)].packets == 1);
}

TEST_CASE("GRE: what is not a known PPTP call goes to the stack untouched", "[pptp][gre][netns]") {
  GreRig g;
  auto wan_eth = eth(TestRouter::kServer.mac, g.rt.wan_mac);
  auto lan_eth = eth(TestRouter::kClient.mac, g.rt.lan_mac);
  struct Case {
    const char* name;
    bool inbound;
    Bytes in;
    vpnpt_reason reason;
  };
  pkt::Ipv4Opts mf;
  mf.frag = 0x2000;
  std::vector<Case> cases = {
      {"unknown call id from the server", true, gre(kSrv, kPub, 4242, 60, wan_eth), VPNPT_REASON_GRE_NO_CALL},
      {"known id from another server", true, gre(ip("203.0.113.8"), kPub, g.tb, 60, wan_eth), VPNPT_REASON_GRE_NO_CALL},
      {"client GRE with a key the server never gave it", false, gre(kA, kSrv, 128, 64, lan_eth),
       VPNPT_REASON_GRE_NO_CALL},
      {"GRE v0", true, pkt::frame(kSrv, kPub, pkt::kProtoGre, pkt::gre_v0(0x0800, Bytes(20, 1)), {}, wan_eth),
       VPNPT_REASON_GRE_NOT_PPTP},
      {"checksum bit set", true,
       [&] {
         Bytes f = gre(kSrv, kPub, g.tb, 60, wan_eth);
         f[34] |= 0x80;
         return f;
       }(),
       VPNPT_REASON_GRE_NOT_PPTP},
      {"S flag without room for the sequence number", true,
       pkt::frame(kSrv, kPub, pkt::kProtoGre, pptp::slice(pkt::gre_v1(g.tb, {}, 1), 0, 10), {}, wan_eth),
       VPNPT_REASON_L4_TRUNC},
      {"later fragment, its first never seen", true,
       pkt::fragments(kSrv, kPub, pkt::kProtoGre, pkt::gre_v1(g.tb, Bytes(40, 1), 1), 16, {}, wan_eth).second,
       VPNPT_REASON_GRE_FRAGMENT},
      {"TTL 1 from the LAN", false, gre(kA, kSrv, 0, 1, lan_eth), VPNPT_REASON_TTL_EXPIRED},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      uint64_t before = g.dp.reason(c.reason);
      auto r = c.inbound ? g.wan(c.in) : g.lan(c.in);
      CHECK(std::string(verdict_name(r.verdict)) == "XDP_PASS");
      CHECK(r.out == c.in);
      CHECK(g.dp.reason(c.reason) == before + 1);
    }
  }
}

TEST_CASE("GRE: translated packets stamp their call with the monotonic clock of this tick",
          "[pptp][gre][netns][clock]") {
  // The idle timeouts compare these stamps with clock_gettime(CLOCK_MONOTONIC).
  // The data plane reads a per-CPU cache of the coarse clock, refreshed when
  // jiffies change (bpf/lib/clock.h): at most two ticks behind, and never frozen.
  GreRig g;
  const uint64_t kTwoTicks = 25'000'000;  // ns: two ticks at HZ=100 and then some
  auto last_seen = [&] {
    uint32_t k = g.tb;
    vpnpt_pptp_call c{};
    REQUIRE(bpf_map_lookup_elem(g.dp.map_fd(VPNPT_MAP_PPTP_CALLS), &k, &c) == 0);
    return c.last_seen_ns;
  };
  auto in_eth = eth(TestRouter::kServer.mac, g.rt.wan_mac);
  uint64_t prev = 0;
  for (int i = 0; i < 3; i++) {
    uint64_t before = monotonic_ns();
    REQUIRE(g.wan(gre(kSrv, kPub, g.tb, 60, in_eth)).verdict == XDP_REDIRECT);
    uint64_t after = monotonic_ns(), stamp = last_seen();
    INFO("packet " << i << ": stamp " << stamp << ", clock_gettime " << before << ".." << after);
    CHECK(stamp <= after);
    CHECK(stamp + kTwoTicks >= before);
    if (i > 0) CHECK(stamp >= prev + 40'000'000);  // 50 ms later: a fresh tick, not the cached one
    prev = stamp;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

TEST_CASE("GRE: a server that sends before its client is delivered", "[pptp][gre][netns]") {
  TestRouter rt;
  Dataplane dp;
  dp.configure(kPub, rt.wan_ifindex);
  pptp::TcpFlow up{kA, kSrv, 40000, 1723, 100};
  REQUIRE(run_xdp(dp.progs.lan_fd(), up.syn()).verdict == XDP_PASS);
  REQUIRE(run_xdp(dp.progs.lan_fd(), up.data(pptp::ocrq(55))).verdict == XDP_PASS);
  // No Outgoing-Call-Reply seen yet: the server's GRE is still delivered...
  auto r =
      run_xdp(dp.progs.wan_fd(), gre(kSrv, kPub, 55, 60, eth(TestRouter::kServer.mac, rt.wan_mac)), 1, rt.wan_ifindex);
  CHECK(r.verdict == XDP_REDIRECT);
  // ...while the client cannot send yet: it does not know the server's id, and vpnpt does not either.
  auto r2 =
      run_xdp(dp.progs.lan_fd(), gre(kA, kSrv, 0, 64, eth(TestRouter::kClient.mac, rt.lan_mac)), 1, rt.lan_ifindex);
  CHECK(r2.verdict == XDP_PASS);
}

// The firewall lab found it: with the router's neighbour entry for a LAN
// host gone, XDP handed the host's translated GRE to the stack, whose
// stateful forward chain dropped it as a new flow from the WAN.
TEST_CASE("GRE: a LAN host the kernel lost is reached where its own frames came from", "[pptp][gre][netns]") {
  GreRig g;
  // B sends on its call: from its MAC, into the router's LAN port.
  REQUIRE(g.lan(gre(kB, kSrv, 128, 64, eth(TestRouter::kClient2.mac, g.rt.lan_mac))).verdict == XDP_REDIRECT);
  REQUIRE(std::system("ip neigh del 192.168.1.11 dev lan0") == 0);
  auto r = g.wan(gre(kSrv, kPub, g.tb, 60, eth(TestRouter::kServer.mac, g.rt.wan_mac)));
  CHECK(r.verdict == XDP_REDIRECT);
  CHECK(r.out == gre(kSrv, kB, 1000, 59, eth(g.rt.lan_mac, TestRouter::kClient2.mac)));
  CHECK(g.dp.reason(VPNPT_REASON_FIB_NO_NEIGH) == 0);
  if (test_hook() == Hook::Tc) {
    CHECK(g.dp.reason(VPNPT_REASON_NEIGH_LEARNED) == 0);  // bpf_redirect_neigh resolves it itself
    return;
  }
  CHECK(g.dp.reason(VPNPT_REASON_NEIGH_LEARNED) == 1);
  // Nothing learned (the host never sent, or not for a minute): to the stack, as before.
  uint32_t b = kB;
  REQUIRE(bpf_map_delete_elem(g.dp.map_fd(VPNPT_MAP_LAN_L2), &b) == 0);
  auto r2 = g.wan(gre(kSrv, kPub, g.tb, 60, eth(TestRouter::kServer.mac, g.rt.wan_mac)));
  CHECK(r2.verdict == XDP_PASS);
  CHECK(g.dp.reason(VPNPT_REASON_FIB_NO_NEIGH) == 1);
  // Frames from another port teach nothing about this one.
  REQUIRE(run_xdp(g.dp.progs.lan_fd(), gre(kB, kSrv, 128, 64, eth(TestRouter::kClient2.mac, g.rt.lan_mac)), 1,
                  g.rt.wan_ifindex)
              .verdict != XDP_DROP);
  CHECK(g.wan(gre(kSrv, kPub, g.tb, 60, eth(TestRouter::kServer.mac, g.rt.wan_mac))).verdict == XDP_PASS);
  CHECK(g.dp.reason(VPNPT_REASON_FIB_NO_NEIGH) == 2);
}

TEST_CASE("GRE: unresolved next hop goes to the stack, translated only where certain", "[pptp][gre][netns]") {
  GreRig g;
  REQUIRE(std::system("ip neigh del 192.168.1.11 dev lan0 >/dev/null 2>&1; ip neigh del 203.0.113.7 dev wan0 "
                      ">/dev/null 2>&1") == 0);
  if (test_hook() == Hook::Tc) {
    // TC hands both directions to the neighbour layer (bpf_redirect_neigh), which resolves the next hop.
    auto r = g.wan(gre(kSrv, kPub, g.tb, 60, eth(TestRouter::kServer.mac, g.rt.wan_mac)));
    CHECK(r.verdict == XDP_REDIRECT);
    CHECK(r.out == gre(kSrv, kB, 1000, 59, eth(TestRouter::kServer.mac, g.rt.wan_mac)));
    auto r2 = g.lan(gre(kB, kSrv, 128, 64, eth(TestRouter::kClient2.mac, g.rt.lan_mac)));
    CHECK(r2.verdict == XDP_REDIRECT);
    CHECK(r2.out == gre(kPub, kSrv, 128, 63, eth(TestRouter::kClient2.mac, g.rt.lan_mac)));
    CHECK(g.dp.reason(VPNPT_REASON_FIB_NO_NEIGH) == 0);
    return;
  }
  // Inbound: translated (the call is certain), then handed to the stack, which resolves the neighbour.
  auto r = g.wan(gre(kSrv, kPub, g.tb, 60, eth(TestRouter::kServer.mac, g.rt.wan_mac)));
  CHECK(r.verdict == XDP_PASS);
  CHECK(g.dp.reason(VPNPT_REASON_FIB_NO_NEIGH) == 1);
  CHECK(pptp::be16_at(r.out, 14 + 20 + 6) == 1000);
  CHECK(pkt::ipv4_checksum_ok(r.out));
  // Outbound: untouched; the kernel's own NAT gives it the same source address.
  Bytes in = gre(kB, kSrv, 128, 64, eth(TestRouter::kClient2.mac, g.rt.lan_mac));
  auto r2 = g.lan(in);
  CHECK(r2.verdict == XDP_PASS);
  CHECK(r2.out == in);
}

TEST_CASE("GRE: the daemon closing a call from an older copy keeps what the hooks counted since",
          "[pptp][gre][netns][slowpath]") {
  GreRig g;
  auto table = PptpCallTable::map(g.dp.map_fd(VPNPT_MAP_PPTP_CALLS), g.dp.map_fd(VPNPT_MAP_PPTP_GRE_OUT));
  REQUIRE(table);
  PptpCall seen = table->read(g.tb);  // the daemon's copy, taken before a sweep decides
  REQUIRE(seen.call.state == VPNPT_PPTP_CALL_ESTABLISHED);
  auto in_eth = eth(TestRouter::kServer.mac, g.rt.wan_mac);
  for (int i = 0; i < 5; ++i) REQUIRE(g.wan(gre(kSrv, kPub, g.tb, 60, in_eth)).verdict == XDP_REDIRECT);

  REQUIRE(table->close(seen, 12345));
  auto now = table->read(g.tb);
  CHECK(now.call.state == VPNPT_PPTP_CALL_CLOSING);
  CHECK(now.call.closed_ns == 12345);
  CHECK(now.call.packets_in == seen.call.packets_in + 5);  // not undone by the copy
  CHECK(now.call.gre_slot == seen.call.gre_slot);
}

TEST_CASE("GRE fragments follow their first fragment: the Call ID in it, the address in all",
          "[pptp][gre][frag][netns]") {
  GreRig g;
  auto wan_eth = eth(TestRouter::kServer.mac, g.rt.wan_mac);
  auto to_b = eth(g.rt.lan_mac, TestRouter::kClient2.mac);
  const Bytes ppp(1200, 0x21);
  pkt::Ipv4Opts o;
  o.id = 0x5150;
  auto [first, later] = pkt::fragments(kSrv, kPub, pkt::kProtoGre, pkt::gre_v1(g.tb, ppp, 11), 800, o, wan_eth);
  o.ttl = 63;
  auto [first_out, later_out] = pkt::fragments(kSrv, kB, pkt::kProtoGre, pkt::gre_v1(1000, ppp, 11), 800, o, to_b);
  auto r1 = g.wan(first);
  auto r2 = g.wan(later);
  CHECK(std::string(verdict_name(r1.verdict)) == "XDP_REDIRECT");
  CHECK(r1.out == first_out);
  CHECK(std::string(verdict_name(r2.verdict)) == "XDP_REDIRECT");
  CHECK(r2.out == later_out);
  CHECK(g.dp.reason(VPNPT_REASON_GRE_FRAGMENT) == 0);

  // Outbound: the server's Call ID (128) in the first fragment finds B's call; both leave from the public address.
  auto lan_eth = eth(TestRouter::kClient2.mac, g.rt.lan_mac);
  auto to_srv = eth(g.rt.wan_mac, TestRouter::kServer.mac);
  o.ttl = 64;
  o.id = 0x5151;
  auto [ofirst, olater] = pkt::fragments(kB, kSrv, pkt::kProtoGre, pkt::gre_v1(128, ppp, 12), 800, o, lan_eth);
  o.ttl = 63;
  auto [ofirst_out, olater_out] = pkt::fragments(kPub, kSrv, pkt::kProtoGre, pkt::gre_v1(128, ppp, 12), 800, o, to_srv);
  auto o1 = g.lan(ofirst);
  auto o2 = g.lan(olater);
  CHECK(std::string(verdict_name(o1.verdict)) == "XDP_REDIRECT");
  CHECK(o1.out == ofirst_out);
  CHECK(std::string(verdict_name(o2.verdict)) == "XDP_REDIRECT");
  CHECK(o2.out == olater_out);
}

// ---- Issue 17, finding 11: an ICMP error about a call's GRE ("fragmentation needed" from a
// router on the path) reached the public IP and died there: Path MTU discovery black-holed.

namespace {

const uint32_t kMid = ip("198.51.100.254");  // a router on the path to the server

// The first @keep bytes of GRE as it left the gateway (from @src; key: the server's Call ID).
Bytes sent_gre(uint32_t src, uint16_t key, size_t keep) {
  return pkt::quoted_ipv4(src, kSrv, pkt::kProtoGre, pkt::gre_v1(key, Bytes(1400, 0x5a), 7, 3), keep);
}

// Frees the live call @xlat as the daemon does.
void free_call(const Dataplane& dp, uint16_t xlat) {
  auto t = PptpCallTable::map(dp.map_fd(VPNPT_MAP_PPTP_CALLS), dp.map_fd(VPNPT_MAP_PPTP_GRE_OUT));
  REQUIRE(t);
  REQUIRE(t->free(t->read(xlat), monotonic_ns()));
}

}  // namespace

TEST_CASE("GRE: an ICMP error about a call's GRE reaches its host, quote rewritten", "[pptp][gre][icmp][netns]") {
  GreRig g;
  auto wan_eth = eth(TestRouter::kServer.mac, g.rt.wan_mac);
  auto to_a = eth(g.rt.lan_mac, TestRouter::kClient.mac), to_b = eth(g.rt.lan_mac, TestRouter::kClient2.mac);
  // Each call's first GRE toward the server (an error can only quote GRE that left).
  REQUIRE(g.lan(gre(kA, kSrv, 0, 64, eth(TestRouter::kClient.mac, g.rt.lan_mac))).verdict == XDP_REDIRECT);
  REQUIRE(g.lan(gre(kB, kSrv, 128, 64, eth(TestRouter::kClient2.mac, g.rt.lan_mac))).verdict == XDP_REDIRECT);

  for (size_t keep : {size_t{20 + 8}, size_t{20 + 64}, size_t{548}}) {  // RFC 792's minimum, more, Linux's 576 - 28
    INFO("quote of " << keep << " bytes");
    auto r = g.wan(pkt::frag_needed(kMid, kPub, sent_gre(kPub, 128, keep), wan_eth));
    REQUIRE(std::string(verdict_name(r.verdict)) == "XDP_REDIRECT");
    CHECK(r.out == pkt::frag_needed(kMid, kB, sent_gre(kB, 128, keep), to_b, 59));
    CHECK(pkt::ipv4_checksum_ok(r.out));
    auto ra = g.wan(pkt::frag_needed(kMid, kPub, sent_gre(kPub, 0, keep), wan_eth));
    CHECK(ra.out == pkt::frag_needed(kMid, kA, sent_gre(kA, 0, keep), to_a, 59));
  }
  CHECK(g.dp.reason(VPNPT_REASON_ICMP_RELAYED) == 6);

  SECTION("two calls of one host with the server's id: either names the host") {
    g.setup(kA, 40004, 40004, 0);
    g.lan(gre(kA, kSrv, 0, 64, eth(TestRouter::kClient.mac, g.rt.lan_mac)));
    auto r = g.wan(pkt::frag_needed(kMid, kPub, sent_gre(kPub, 0, 64), wan_eth));
    CHECK(r.out == pkt::frag_needed(kMid, kA, sent_gre(kA, 0, 64), to_a, 59));
    PptpSlowPath sp(g.dp.pptp_maps(), PptpTimeouts{});
    CHECK(sp.recount_quotes().shared == 0);
  }
  SECTION("an error quoting a Call ID of no call vpnpt knows passes untouched, counted") {
    Bytes in = pkt::frag_needed(kMid, kPub, sent_gre(kPub, 77, 28), wan_eth);
    auto r = g.wan(in);
    CHECK(std::string(verdict_name(r.verdict)) == "XDP_PASS");
    CHECK(r.out == in);
    CHECK(g.dp.reason(VPNPT_REASON_ICMP_NO_SESSION) == 1);
  }
  SECTION("an ended call's errors are not relayed, even before the daemon recounts") {
    free_call(g.dp, g.tb);
    Bytes in = pkt::frag_needed(kMid, kPub, sent_gre(kPub, 128, 28), wan_eth);
    CHECK(g.wan(in).out == in);
    CHECK(g.dp.reason(VPNPT_REASON_ICMP_NO_SESSION) == 1);
    PptpSlowPath sp(g.dp.pptp_maps(), PptpTimeouts{});
    auto rc = sp.recount_quotes();
    CHECK(rc.cleared == 1);
    CHECK(rc.pairs == 1);  // A's
  }
  SECTION("GRE that is not PPTP, and PPTP switched off: the kernel's, untouched and not counted") {
    pkt::Ipv4Opts o;
    o.ttl = 63;
    Bytes gre0 = pkt::ipv4(kPub, kSrv, pkt::kProtoGre, pkt::gre_v0(0x0800, Bytes(64, 1)), o);
    Bytes in = pkt::frag_needed(kMid, kPub, gre0, wan_eth);
    CHECK(g.wan(in).out == in);
    g.dp.configure(kPub, g.rt.wan_ifindex, VPNPT_SW_ALL & ~VPNPT_SW_PPTP);
    Bytes in2 = pkt::frag_needed(kMid, kPub, sent_gre(kPub, 128, 28), wan_eth);
    CHECK(g.wan(in2).out == in2);
    CHECK(g.dp.reason(VPNPT_REASON_ICMP_NO_SESSION) == 0);
    CHECK(g.dp.reason(VPNPT_REASON_ICMP_RELAYED) == 6);
  }
}

TEST_CASE("GRE: an ICMP error two hosts' calls could own goes to neither, until one ends", "[pptp][gre][icmp][netns]") {
  // pptpd seeds each control connection's Call IDs from the clock: two connections opened in
  // the same second hand out the same ids, so the server's id alone cannot name the call.
  GreRig g;
  auto wan_eth = eth(TestRouter::kServer.mac, g.rt.wan_mac);
  REQUIRE(g.lan(gre(kA, kSrv, 0, 64, eth(TestRouter::kClient.mac, g.rt.lan_mac))).verdict == XDP_REDIRECT);
  auto gre_b = gre(kB, kSrv, 128, 64, eth(TestRouter::kClient2.mac, g.rt.lan_mac));
  REQUIRE(g.lan(gre_b).verdict == XDP_REDIRECT);
  uint16_t a2 = g.setup(kA, 40002, 40002, 128);  // A's second connection; the server says 128 again
  // GRE itself is still told apart (the client's address is part of the outbound key); A's
  // first GRE on the call marks the pair shared before it leaves.
  auto gre_a = gre(kA, kSrv, 128, 64, eth(TestRouter::kClient.mac, g.rt.lan_mac));
  auto up = g.lan(gre_a);
  CHECK(std::string(verdict_name(up.verdict)) == "XDP_REDIRECT");
  Bytes in = pkt::frag_needed(kMid, kPub, sent_gre(kPub, 128, 64), wan_eth);
  auto r = g.wan(in);
  CHECK(std::string(verdict_name(r.verdict)) == "XDP_PASS");
  CHECK(r.out == in);
  CHECK(g.dp.reason(VPNPT_REASON_ICMP_AMBIGUOUS) == 1);

  PptpSlowPath sp(g.dp.pptp_maps(), PptpTimeouts{});
  SECTION("a recount while both live keeps the pair shared") {
    auto rc = sp.recount_quotes();
    CHECK(rc.changed == 0);
    CHECK(rc.shared == 1);
    CHECK(g.wan(in).out == in);
    CHECK(g.dp.reason(VPNPT_REASON_ICMP_AMBIGUOUS) == 2);
  }
  SECTION("once A's second call ended, the recount gives the pair back to B") {
    free_call(g.dp, a2);
    auto rc = sp.recount_quotes();
    CHECK(rc.changed == 1);
    CHECK(rc.shared == 0);
    auto rb = g.wan(in);
    CHECK(std::string(verdict_name(rb.verdict)) == "XDP_REDIRECT");
    CHECK(rb.out == pkt::frag_needed(kMid, kB, sent_gre(kB, 128, 64), eth(g.rt.lan_mac, TestRouter::kClient2.mac), 59));
  }
  SECTION("a third call of the pair while the daemon counts keeps it shared") {
    // The recount read the index before the third call was answered: its compare-and-swap
    // must fail, not write the count of two it made from the older view.
    free_call(g.dp, a2);
    QuoteRecount rc;
    auto quote = QuoteIndex::map(g.dp.map_fd(VPNPT_MAP_PPTP_QUOTE), "quote");
    REQUIRE(quote);
    rc = quote->recount([&] {
      std::vector<QuoteSession> live{{kSrv, htons(128), g.tb, kB}};  // what the daemon saw: B only
      g.setup(kA, 40003, 40003, 128);                                // meanwhile A's third call is answered
      g.lan(gre_a);                                                  // and sends its first GRE
      return live;
    });
    CHECK(rc.raced == 1);
    CHECK(g.wan(in).out == in);  // still not relayed to anyone
    CHECK(g.dp.reason(VPNPT_REASON_ICMP_AMBIGUOUS) == 2);
  }
}
