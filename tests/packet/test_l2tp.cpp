// L2TPv2 through the real programs in a router namespace: tunnel requests
// handed to the daemon, data and control of known tunnels translated both
// ways (every header variant), per-port NAT tunnels, a server answering
// from another port, and everything unknown passed to the kernel untouched.
#include "l2tp_rig.h"
#include "loader/core/clock.h"

using namespace vpnpt;
using namespace vpnpt::test;
using pkt::Bytes;
namespace l2 = pkt::l2tp;

namespace {

const Bytes kPpp{0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef};

std::string verdict(const RunResult& r) { return verdict_name(r.verdict); }

}  // namespace

TEST_CASE("L2TP: a tunnel request goes to the daemon with the frame and its egress", "[l2tp][netns]") {
  L2tpRig g;
  g.daemon_alive(true);
  Bytes f = g.from_client(L2tpRig::kA, 1701, 1701, l2::sccrq(4711));
  auto r = g.lan(f);
  CHECK(verdict(r) == "XDP_DROP");
  CHECK(g.dp.reason(VPNPT_REASON_L2TP_TO_DAEMON) == 1);
  auto p = g.punts();
  REQUIRE(p.size() == 1);
  CHECK(p[0].kind == VPNPT_PUNT_SETUP);
  CHECK(p[0].dir == VPNPT_DIR_OUTBOUND);
  CHECK(p[0].out_ifindex == g.rt.wan_ifindex);
  CHECK(p[0].in_ifindex == g.rt.lan_ifindex);
  CHECK(std::equal(g.rt.wan_mac.begin(), g.rt.wan_mac.end(), p[0].smac));
  CHECK(std::equal(TestRouter::kServer.mac.begin(), TestRouter::kServer.mac.end(), p[0].dmac));
  CHECK(p[0].l3_off == 14);
  REQUIRE(p[0].frame_len == f.size());
  CHECK(Bytes(p[0].frame, p[0].frame + p[0].frame_len) == f);  // untouched: the daemon translates it
}

TEST_CASE("L2TP: without a daemon a tunnel request goes to the kernel's NAT untouched", "[l2tp][netns]") {
  L2tpRig g;
  Bytes f = g.from_client(L2tpRig::kA, 1701, 1701, l2::sccrq(4711));
  SECTION("never started") {}
  SECTION("stopped (heartbeat cleared)") { g.daemon_alive(false); }
  auto r = g.lan(f);
  CHECK(verdict(r) == "XDP_PASS");
  CHECK(r.out == f);
  CHECK(g.dp.reason(VPNPT_REASON_L2TP_NO_DAEMON) == 1);
  CHECK(g.punts().empty());
}

TEST_CASE("L2TP: a stale heartbeat counts as no daemon", "[l2tp][netns]") {
  L2tpRig g;
  uint32_t zero = 0;
  vpnpt_daemon d{};
  d.heartbeat_ns = monotonic_ns() - 2 * VPNPT_DAEMON_STALE_NS;
  REQUIRE(bpf_map_update_elem(g.dp.map_fd(VPNPT_MAP_DAEMON), &zero, &d, BPF_ANY) == 0);
  CHECK(verdict(g.lan(g.from_client(L2tpRig::kA, 1701, 1701, l2::sccrq(1)))) == "XDP_PASS");
  CHECK(g.dp.reason(VPNPT_REASON_L2TP_NO_DAEMON) == 1);
}

TEST_CASE("L2TP: data of known tunnels is translated both ways, every header variant", "[l2tp][netns]") {
  struct Variant {
    const char* name;
    l2::DataOpts o;
  } variants[] = {{"bare", {}},
                  {"length", {true, false, 0}},
                  {"sequence", {false, true, 0}},
                  {"length+sequence", {true, true, 0}},
                  {"offset 4", {false, false, 4}},
                  {"length+sequence+offset 3", {true, true, 3}}};
  for (bool csum : {true, false}) {
    for (const auto& v : variants) {
      DYNAMIC_SECTION(v.name << (csum ? " with" : " without") << " UDP checksum") {
        L2tpRig g;
        g.add_tunnel(L2tpRig::kA, 1701, 100, 100);    // A's own id was free
        g.add_tunnel(L2tpRig::kB, 1701, 100, 40000);  // B chose the same: the server knows it as 40000

        // Outbound: only the source address changes (port 1701 kept); the server's tunnel id is not ours to touch.
        auto o = g.lan(g.from_client(L2tpRig::kB, 1701, 1701, l2::data(7, 3, kPpp, v.o), 64, csum));
        CHECK(verdict(o) == "XDP_REDIRECT");
        CHECK(o.out == g.at_server(1701, 1701, l2::data(7, 3, kPpp, v.o), 63, csum));
        CHECK(pkt::ipv4_checksum_ok(o.out));
        CHECK(pkt::l4_checksum_ok(o.out));

        // Inbound: demultiplexed by Tunnel ID, rewritten back to the client's own id.
        auto i = g.wan(g.from_server(1701, 1701, l2::data(40000, 5, kPpp, v.o), 64, csum));
        CHECK(verdict(i) == "XDP_REDIRECT");
        CHECK(i.out == g.at_client(L2tpRig::kB, 1701, 1701, l2::data(100, 5, kPpp, v.o), 63, csum));
        CHECK(pkt::l4_checksum_ok(i.out));
        auto a = g.wan(g.from_server(1701, 1701, l2::data(100, 5, kPpp, v.o), 64, csum));
        CHECK(a.out == g.at_client(L2tpRig::kA, 1701, 1701, l2::data(100, 5, kPpp, v.o), 63, csum));
      }
    }
  }
}

TEST_CASE("L2TP: established control messages are translated and copied to the daemon", "[l2tp][netns]") {
  L2tpRig g;
  g.add_tunnel(L2tpRig::kB, 1701, 100, 40000);
  // The server's answer (SCCRP) names B's tunnel as 40000; B gets its own id back.
  auto i = g.wan(g.from_server(1701, 1701, l2::sccrp(40000, 555)));
  CHECK(verdict(i) == "XDP_REDIRECT");
  CHECK(i.out == g.at_client(L2tpRig::kB, 1701, 1701, l2::sccrp(100, 555)));
  // A ZLB acknowledgement from B is not worth a copy; its SCCCN is.
  auto z = g.lan(g.from_client(L2tpRig::kB, 1701, 1701, l2::zlb(555, 1, 1)));
  CHECK(verdict(z) == "XDP_REDIRECT");
  auto s = g.lan(g.from_client(L2tpRig::kB, 1701, 1701, l2::control(555, 0, 1, 1, 3)));
  CHECK(verdict(s) == "XDP_REDIRECT");
  auto p = g.punts();
  REQUIRE(p.size() == 2);
  CHECK(p[0].kind == VPNPT_PUNT_COPY);
  CHECK(p[0].dir == VPNPT_DIR_INBOUND);
  CHECK(Bytes(p[0].frame, p[0].frame + p[0].frame_len) == g.from_server(1701, 1701, l2::sccrp(40000, 555)));
  CHECK(p[1].kind == VPNPT_PUNT_COPY);
  CHECK(p[1].dir == VPNPT_DIR_OUTBOUND);
}

TEST_CASE("L2TP: a server answering from another port reaches the right client", "[l2tp][netns]") {
  L2tpRig g;
  g.add_tunnel(L2tpRig::kA, 1701, 100, 100);
  g.add_tunnel(L2tpRig::kB, 1701, 100, 40000);
  auto i = g.wan(g.from_server(32768, 1701, l2::sccrp(40000, 9)));
  CHECK(verdict(i) == "XDP_REDIRECT");
  CHECK(i.out == g.at_client(L2tpRig::kB, 32768, 1701, l2::sccrp(100, 9)));
  // B now talks to that port; source port 1701 still makes it L2TP.
  auto o = g.lan(g.from_client(L2tpRig::kB, 1701, 32768, l2::data(9, 1, kPpp)));
  CHECK(verdict(o) == "XDP_REDIRECT");
  CHECK(o.out == g.at_server(1701, 32768, l2::data(9, 1, kPpp)));
  auto t = g.tunnel_at(40000);
  CHECK(ntohs(t.server_port) == 32768);
  CHECK(t.packets_in == 1);
  CHECK(t.packets_out == 1);  // outbound is counted in the tunnel's slot too
}

TEST_CASE("L2TP: per-port NAT tunnels (hidden Tunnel ID) are told apart by public port", "[l2tp][netns]") {
  L2tpRig g;
  g.add_tunnel(L2tpRig::kA, 1701, 100, 100);
  g.add_tunnel(L2tpRig::kB, 1701, 0, 777, 61001, VPNPT_L2TP_F_PORT_NAT);  // 777: its slot, never on the wire
  auto o = g.lan(g.from_client(L2tpRig::kB, 1701, 1701, l2::data(7, 1, kPpp)));
  CHECK(verdict(o) == "XDP_REDIRECT");
  CHECK(o.out == g.at_server(61001, 1701, l2::data(7, 1, kPpp)));
  CHECK(pkt::l4_checksum_ok(o.out));
  // Any Tunnel ID on that port is B's (A's id, B's own slot, any other); the port is restored, the id left alone.
  for (uint16_t tid : {100, 777, 23456}) {
    auto i = g.wan(g.from_server(1701, 61001, l2::data(tid, 1, kPpp)));
    CHECK(verdict(i) == "XDP_REDIRECT");
    CHECK(i.out == g.at_client(L2tpRig::kB, 1701, 1701, l2::data(tid, 1, kPpp)));
  }
  // Port 1701 still demultiplexes by id.
  auto a = g.wan(g.from_server(1701, 1701, l2::data(100, 1, kPpp)));
  CHECK(a.out == g.at_client(L2tpRig::kA, 1701, 1701, l2::data(100, 1, kPpp)));
}

TEST_CASE("L2TP: what vpnpt does not know goes to the kernel untouched", "[l2tp][netns]") {
  L2tpRig g;
  g.add_tunnel(L2tpRig::kA, 1701, 100, 100);
  struct Case {
    const char* name;
    bool outbound;
    Bytes frame;
    uint32_t reason;
  } cases[] = {
      {"inbound, unknown Tunnel ID", false, g.from_server(1701, 1701, l2::data(101, 1, kPpp)),
       VPNPT_REASON_L2TP_NO_TUNNEL},
      {"inbound, known id on another port", false, g.from_server(1701, 1702, l2::data(100, 1, kPpp)),
       VPNPT_REASON_L2TP_NO_TUNNEL},
      {"outbound, client without a tunnel", true, g.from_client(L2tpRig::kB, 1701, 1701, l2::data(5, 1, kPpp)),
       VPNPT_REASON_L2TP_NO_TUNNEL},
      {"outbound, L2TPv3 (version 3)", true,
       g.from_client(L2tpRig::kA, 1701, 1701, Bytes{0x00, 0x03, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78}),
       VPNPT_REASON_L2TP_NOT_V2},
      {"inbound, header cut off", false, g.from_server(1701, 1701, Bytes{0x00, 0x02, 0x00}), VPNPT_REASON_L2TP_NOT_V2},
      {"inbound, control without sequence numbers", false,
       g.from_server(1701, 1701, Bytes{0xc0, 0x02, 0x00, 0x08, 0x00, 0x64, 0x00, 0x00}), VPNPT_REASON_L2TP_NOT_V2},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      auto before = g.dp.reason(c.reason);
      auto r = c.outbound ? g.lan(c.frame) : g.wan(c.frame);
      CHECK(verdict(r) == "XDP_PASS");
      CHECK(r.out == c.frame);
      CHECK(g.dp.reason(c.reason) == before + 1);
    }
  }
}

TEST_CASE("L2TP fragments go where their first fragment went, never to the kernel's NAT", "[l2tp][frag][netns]") {
  // Issue 17, finding 3 (lab_l2tp_multiclient phase 4 shows the kernel's side): two LAN clients
  // share public:1701 toward the server; the kernel's masquerade would have given that tuple to the
  // first whose fragments reached it, and delivered the other's fragmented answers there.
  L2tpRig g;
  g.add_tunnel(L2tpRig::kA, 1701, 100, 100);
  g.add_tunnel(L2tpRig::kB, 1701, 100, 7100);  // B's tunnel id 100 is 7100 at the server
  const Bytes ppp(1400, 0x7e);
  pkt::Ipv4Opts o;
  o.id = 0x6000;
  auto wan = eth_of(TestRouter::kServer.mac, g.rt.wan_mac);
  auto [first, later] = pkt::fragments(L2tpRig::kSrv, L2tpRig::kPub, pkt::kProtoUdp,
                                       pkt::udp(1701, 1701, l2::data(7100, 1, ppp)), 1000, o, wan);
  o.ttl = 63;
  auto [first_out, later_out] =
      pkt::fragments(L2tpRig::kSrv, L2tpRig::kB, pkt::kProtoUdp, pkt::udp(1701, 1701, l2::data(100, 1, ppp)), 1000, o,
                     eth_of(g.rt.lan_mac, TestRouter::kClient2.mac));
  auto before = snapshot(g.dp.progs);
  auto r1 = g.wan(first);
  auto r2 = g.wan(later);
  CHECK(verdict(r1) == "XDP_REDIRECT");
  CHECK(r1.out == first_out);  // Tunnel ID and UDP checksum (of the whole datagram) rewritten in the first
  CHECK(verdict(r2) == "XDP_REDIRECT");
  CHECK(r2.out == later_out);
  auto after = snapshot(g.dp.progs);
  // The later fragment has no ports: it counts as L2TP by its datagram's record, not as other UDP.
  const uint32_t l2tp_in = vpnpt_counter_index(VPNPT_DIR_INBOUND, VPNPT_CLASS_L2TP);
  CHECK(after.counters[l2tp_in].packets - before.counters[l2tp_in].packets == 2);
  CHECK(g.dp.reason(VPNPT_REASON_L2TP_FRAGMENT) == 0);

  // Outbound, A's fragmented data: source-NATed, port kept, both fragments forwarded.
  o.ttl = 64;
  o.id = 0x6001;
  auto [ofirst, olater] =
      pkt::fragments(L2tpRig::kA, L2tpRig::kSrv, pkt::kProtoUdp, pkt::udp(1701, 1701, l2::data(55, 1, ppp)), 1000, o,
                     eth_of(TestRouter::kClient.mac, g.rt.lan_mac));
  o.ttl = 63;
  auto [ofirst_out, olater_out] =
      pkt::fragments(L2tpRig::kPub, L2tpRig::kSrv, pkt::kProtoUdp, pkt::udp(1701, 1701, l2::data(55, 1, ppp)), 1000, o,
                     eth_of(g.rt.wan_mac, TestRouter::kServer.mac));
  auto o1 = g.lan(ofirst);
  auto o2 = g.lan(olater);
  CHECK(verdict(o1) == "XDP_REDIRECT");
  CHECK(o1.out == ofirst_out);
  CHECK(verdict(o2) == "XDP_REDIRECT");
  CHECK(o2.out == olater_out);

  SECTION("a fragmented tunnel request is not handed to the daemon in part") {
    g.daemon_alive(true);
    Bytes req = l2::sccrq(5);
    req.resize(req.size() + 600, 0);  // padding past the cut: the first fragment holds only part of it
    o.ttl = 64;
    o.id = 0x6002;
    auto [rfirst, rlater] = pkt::fragments(L2tpRig::kA, L2tpRig::kSrv, pkt::kProtoUdp, pkt::udp(1701, 1701, req), 320,
                                           o, eth_of(TestRouter::kClient.mac, g.rt.lan_mac));
    auto r = g.lan(rfirst);
    CHECK(verdict(r) == "XDP_PASS");
    CHECK(r.out == rfirst);
    CHECK(g.punts().empty());
    CHECK(g.dp.reason(VPNPT_REASON_L2TP_FRAGMENT) == 1);
  }
}

TEST_CASE("L2TP: switched off, nothing is translated or handed to the daemon", "[l2tp][netns]") {
  L2tpRig g;
  g.dp.configure(L2tpRig::kPub, g.rt.wan_ifindex, VPNPT_SW_PPTP | VPNPT_SW_IPSEC);
  g.daemon_alive(true);
  g.add_tunnel(L2tpRig::kA, 1701, 100, 100);
  for (const auto& f : {g.from_client(L2tpRig::kA, 1701, 1701, l2::sccrq(5)),
                        g.from_client(L2tpRig::kA, 1701, 1701, l2::data(5, 1, kPpp))}) {
    auto r = g.lan(f);
    CHECK(verdict(r) == "XDP_PASS");
    CHECK(r.out == f);
  }
  Bytes in = g.from_server(1701, 1701, l2::data(100, 1, kPpp));
  auto r = g.wan(in);
  CHECK(verdict(r) == "XDP_PASS");
  CHECK(r.out == in);
  CHECK(g.dp.reason(VPNPT_REASON_L2TP_OFF) == 3);
  CHECK(g.punts().empty());
}
