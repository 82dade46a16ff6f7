// The L2TP slow path on real maps: parsing control messages, setting up
// tunnels from queued requests (own id, rewritten id on a collision,
// per-port NAT for a hidden id, retransmissions), following the server's
// answer and StopCCN, and expiry. End to end with the real programs: a
// request queued by the LAN hook comes out rewritten, and the server's
// answers reach the right client.
#include "l2tp_rig.h"
#include "loader/core/clock.h"
#include "loader/proto/l2tp/l2tp_msg.h"
#include "loader/proto/l2tp/l2tp_slowpath.h"
#include "property_util.h"

#include <iostream>
#include <random>

using namespace vpnpt;
using namespace vpnpt::test;
using pkt::Bytes;
namespace l2 = pkt::l2tp;

namespace {

struct Sent {
  uint32_t ifindex;
  Bytes frame;
};

struct SlowRig : L2tpRig {
  std::vector<Sent> sent;
  std::vector<uint32_t> closed;
  L2tpSlowPath sp{l2tp_maps(), L2tpTimeouts{},
                  [this](uint32_t ifi, const uint8_t* f, size_t len) {
                    sent.push_back({ifi, Bytes(f, f + len)});
                    return true;
                  },
                  [this](uint16_t, const vpnpt_l2tp_tunnel&, uint32_t why) { closed.push_back(why); }};
  SlowRig() {
    daemon_alive(true);
    REQUIRE(sp.ready());
  }

  // Runs a client's request through the LAN hook and the slow path, as the daemon would.
  L2tpSetup request(uint32_t client, uint16_t sport, const Bytes& sccrq) {
    auto r = lan(from_client(client, sport, 1701, sccrq));
    REQUIRE(std::string(verdict_name(r.verdict)) == "XDP_DROP");
    auto p = punts();
    REQUIRE(p.size() == 1);
    auto s = sp.on_punt(p[0], sizeof(p[0]), kPub, monotonic_ns());
    REQUIRE(s);
    return *s;
  }
  void feed_copies(uint64_t now) {
    for (const auto& p : punts()) sp.on_punt(p, sizeof(p), kPub, now);
  }
  vpnpt_l2tp_tunnel tunnel(uint16_t xid) {
    uint32_t k = xid;
    vpnpt_l2tp_tunnel t{};
    REQUIRE(bpf_map_lookup_elem(dp.map_fd(VPNPT_MAP_L2TP_TUNNELS), &k, &t) == 0);
    return t;
  }
};

const Bytes kPpp{0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x04};

}  // namespace

TEST_CASE("L2TP messages: header and AVPs are parsed, nonsense refused", "[l2tp][unit]") {
  auto m = parse_l2tp(l2::sccrq(4711).data(), l2::sccrq(4711).size());
  REQUIRE(m);
  CHECK(m->control);
  CHECK(m->type == kL2tpSccrq);
  CHECK(m->tunnel_id == 0);
  REQUIRE(m->assigned_tunnel);
  CHECK(*m->assigned_tunnel == 4711);
  CHECK(l2::sccrq(4711)[m->assigned_tunnel_offset] == 4711 >> 8);

  Bytes hidden = l2::sccrq(0, true);
  m = parse_l2tp(hidden.data(), hidden.size());
  REQUIRE(m);
  CHECK(!m->assigned_tunnel);
  CHECK(m->assigned_tunnel_hidden);

  Bytes icrq = l2::icrq(9, 77);
  m = parse_l2tp(icrq.data(), icrq.size());
  REQUIRE(m);
  CHECK(m->type == kL2tpIcrq);
  CHECK(m->assigned_session == 77);

  Bytes d = l2::data(5, 6, kPpp, {true, true, 2});
  m = parse_l2tp(d.data(), d.size());
  REQUIRE(m);
  CHECK(!m->control);
  CHECK(m->tunnel_id == 5);
  CHECK(m->session_id == 6);

  Bytes good = l2::sccrq(1);
  struct Bad {
    const char* name;
    Bytes b;
  } bad[] = {
      {"version 3",
       [&] {
         Bytes b = good;
         b[1] = 0x03;
         return b;
       }()},
      {"length beyond the datagram",
       [&] {
         Bytes b = good;
         b[3] += 1;
         return b;
       }()},
      {"AVP longer than the message",
       [&] {
         Bytes b = good;
         b[12 + 1] = 0x3f;
         return b;
       }()},
      {"AVP shorter than its header",
       [&] {
         Bytes b = good;
         b[12 + 1] = 0x05;
         return b;
       }()},
      {"first AVP is not the Message Type", l2::control(0, 0, 0, 0, 0, {{9, l2::be16(1)}})},
      {"control without sequence numbers", Bytes{0xc0, 0x02, 0x00, 0x08, 0, 1, 0, 0}},
      {"cut off", Bytes{0x00, 0x02, 0x00}},
  };
  for (const auto& c : bad) {
    INFO(c.name);
    CHECK(!parse_l2tp(c.b.data(), c.b.size()));
  }
}

TEST_CASE("L2TP setup: the first client keeps its Tunnel ID, a colliding one gets another", "[l2tp][netns]") {
  SlowRig g;
  auto a = g.request(L2tpRig::kA, 1701, l2::sccrq(100));
  REQUIRE(a.sent);
  CHECK(a.new_tunnel);
  CHECK(a.xid == 100);
  CHECK(a.wire_id() == 100);
  CHECK(ntohs(a.tunnel.public_port) == 1701);
  REQUIRE(g.sent.size() == 1);
  CHECK(g.sent[0].ifindex == g.rt.wan_ifindex);
  CHECK(g.sent[0].frame == g.at_server(1701, 1701, l2::sccrq(100)));  // only addresses, TTL and MACs changed

  auto b = g.request(L2tpRig::kB, 1701, l2::sccrq(100));
  REQUIRE(b.sent);
  uint16_t xlat = b.xid;
  CHECK(xlat != 100);
  CHECK(xlat != 0);
  REQUIRE(g.sent.size() == 2);
  // Same source port on the public side; the Assigned Tunnel ID AVP now says xlat; checksums exact.
  CHECK(g.sent[1].frame == g.at_server(1701, 1701, l2::sccrq(xlat)));
  CHECK(pkt::ipv4_checksum_ok(g.sent[1].frame));
  CHECK(pkt::l4_checksum_ok(g.sent[1].frame));
  CHECK(g.sp.stats().tunnels_set_up == 2);
  CHECK(g.sp.stats().ids_translated == 1);

  // The server answers each by its id; each client gets its own tunnel back with id 100.
  auto ra = g.wan(g.from_server(1701, 1701, l2::sccrp(100, 7)));
  CHECK(ra.out == g.at_client(L2tpRig::kA, 1701, 1701, l2::sccrp(100, 7)));
  auto rb = g.wan(g.from_server(1701, 1701, l2::sccrp(xlat, 8)));
  CHECK(rb.out == g.at_client(L2tpRig::kB, 1701, 1701, l2::sccrp(100, 8)));
  auto db = g.wan(g.from_server(1701, 1701, l2::data(xlat, 1, kPpp)));
  CHECK(db.out == g.at_client(L2tpRig::kB, 1701, 1701, l2::data(100, 1, kPpp)));

  // The copies of the answers teach the slow path the server's ids.
  g.feed_copies(monotonic_ns());
  auto tb = g.tunnel(b.xid);
  CHECK(tb.state == VPNPT_L2TP_ESTABLISHED);
  CHECK(ntohs(tb.server_tunnel_id) == 8);
}

TEST_CASE("L2TP setup: a retransmitted request gets the same tunnel", "[l2tp][netns]") {
  SlowRig g;
  g.request(L2tpRig::kA, 1701, l2::sccrq(100));
  auto b1 = g.request(L2tpRig::kB, 1701, l2::sccrq(100));
  auto b2 = g.request(L2tpRig::kB, 1701, l2::sccrq(100));
  REQUIRE(b2.sent);
  CHECK(!b2.new_tunnel);
  CHECK(b2.xid == b1.xid);
  CHECK(g.sent[2].frame == g.sent[1].frame);
  CHECK(g.dp.entries(VPNPT_MAP_L2TP_TUNNELS) == 2);
}

TEST_CASE("L2TP setup: a request resent after its answer was lost gets the same tunnel, not a second one",
          "[l2tp][netns]") {
  SlowRig g;
  auto a = g.request(L2tpRig::kA, 1701, l2::sccrq(100));
  REQUIRE(a.sent);
  // The server answers; vpnpt passes the SCCRP on, and it is lost on the LAN.
  g.wan(g.from_server(1701, 1701, l2::sccrp(100, 7)));
  g.feed_copies(monotonic_ns());
  REQUIRE(g.tunnel(a.xid).state == VPNPT_L2TP_ESTABLISHED);

  auto again = g.request(L2tpRig::kA, 1701, l2::sccrq(100));
  REQUIRE(again.sent);
  CHECK_FALSE(again.new_tunnel);
  CHECK(again.xid == a.xid);
  CHECK(g.dp.entries(VPNPT_MAP_L2TP_TUNNELS) == 1);
  CHECK(g.sent.back().frame == g.sent.front().frame);  // the server sees its duplicate, nothing new

  SECTION("once the client confirmed the tunnel (SCCCN), a new request is a new tunnel") {
    g.lan(g.from_client(L2tpRig::kA, 1701, 1701, l2::control(7, 0, 1, 1, 3)));
    g.feed_copies(monotonic_ns());
    auto fresh = g.request(L2tpRig::kA, 1701, l2::sccrq(100));
    REQUIRE(fresh.sent);
    CHECK(fresh.new_tunnel);
    CHECK(fresh.xid != a.xid);
  }
}

TEST_CASE("L2TP setup: a hidden Tunnel ID falls back to per-port NAT", "[l2tp][netns]") {
  SlowRig g;
  g.request(L2tpRig::kA, 1701, l2::sccrq(100));
  auto b = g.request(L2tpRig::kB, 1701, l2::sccrq(0, true));
  REQUIRE(b.sent);
  uint16_t port = ntohs(b.tunnel.public_port);
  CHECK(port >= kL2tpPortNatFirst);
  CHECK(port <= kL2tpPortNatLast);
  CHECK(b.wire_id() == 0);
  CHECK(b.tunnel.flags == VPNPT_L2TP_F_PORT_NAT);
  CHECK(g.sent[1].frame == g.at_server(port, 1701, l2::sccrq(0, true)));
  CHECK(pkt::l4_checksum_ok(g.sent[1].frame));
  CHECK(g.sp.stats().port_nat == 1);
  // Whatever id the server uses on that port reaches B.
  auto r = g.wan(g.from_server(1701, port, l2::data(100, 1, kPpp)));
  CHECK(r.out == g.at_client(L2tpRig::kB, 1701, 1701, l2::data(100, 1, kPpp)));
  // A hidden id from a source that already shares port 1701 by Tunnel ID cannot get its own port.
  auto a2 = g.request(L2tpRig::kA, 1701, l2::sccrq(0, true));
  CHECK(!a2.sent);
  CHECK(a2.refusal == VPNPT_L2TP_REFUSE_NO_PORT);
}

TEST_CASE("L2TP setup: stale and malformed requests are refused, nothing installed", "[l2tp][netns]") {
  SlowRig g;
  auto r = g.lan(g.from_client(L2tpRig::kA, 1701, 1701, l2::sccrq(100)));
  REQUIRE(std::string(verdict_name(r.verdict)) == "XDP_DROP");
  auto p = g.punts();
  REQUIRE(p.size() == 1);
  auto s = g.sp.on_punt(p[0], sizeof(p[0]), L2tpRig::kPub, p[0].ktime_ns + 4'000'000'000ull);
  REQUIRE(s);
  CHECK(!s->sent);
  CHECK(s->refusal == VPNPT_L2TP_REFUSE_STALE);
  // Queued before L2TP was switched off: the daemon flushed L2TP when it went off, and sets
  // nothing up after that.
  auto off = g.sp.on_punt(p[0], sizeof(p[0]), L2tpRig::kPub, p[0].ktime_ns, false);
  REQUIRE(off);
  CHECK(!off->sent);
  CHECK(off->refusal == VPNPT_L2TP_REFUSE_SWITCHED_OFF);
  CHECK(g.sp.stats().refused[VPNPT_L2TP_REFUSE_SWITCHED_OFF] == 1);

  // A "request" without an Assigned Tunnel ID.
  auto m = g.request(L2tpRig::kA, 1701, l2::control(0, 0, 0, 0, 1, {{7, Bytes{'x'}}}));
  CHECK(!m.sent);
  CHECK(m.refusal == VPNPT_L2TP_REFUSE_MALFORMED);
  // Assigned Tunnel ID 0 is reserved (RFC 2661 3.1: "no tunnel yet"): no tunnel can be known by it.
  auto z = g.request(L2tpRig::kA, 1701, l2::sccrq(0));
  CHECK(!z.sent);
  CHECK(z.refusal == VPNPT_L2TP_REFUSE_MALFORMED);
  CHECK(g.sent.empty());
  CHECK(g.dp.entries(VPNPT_MAP_L2TP_TUNNELS) == 0);
  CHECK(g.dp.entries(VPNPT_MAP_L2TP_OUT) == 0);
}

TEST_CASE("L2TP lifecycle: StopCCN closes, the grace period reaps, idle and unanswered expire", "[l2tp][netns]") {
  SlowRig g;
  auto a = g.request(L2tpRig::kA, 1701, l2::sccrq(100));
  auto b = g.request(L2tpRig::kB, 1701, l2::sccrq(100));
  g.wan(g.from_server(1701, 1701, l2::sccrp(100, 7)));
  g.feed_copies(monotonic_ns());

  SECTION("StopCCN from the client") {
    g.lan(g.from_client(L2tpRig::kA, 1701, 1701, l2::stopccn(7, 100)));
    uint64_t now = monotonic_ns();
    g.feed_copies(now);
    CHECK(g.tunnel(a.xid).state == VPNPT_L2TP_CLOSING);
    g.sp.sweep(now + 5'000'000'000ull);
    CHECK(g.dp.entries(VPNPT_MAP_L2TP_TUNNELS) == 2);  // still in its grace period
    g.sp.sweep(now + 11'000'000'000ull);
    CHECK(g.closed == std::vector<uint32_t>{VPNPT_CLOSE_STOPCCN});
    // A's client entry is gone; B's request was never answered, but it is not yet 30 s old.
    CHECK(g.dp.entries(VPNPT_MAP_L2TP_OUT) == 1);
    auto r = g.lan(g.from_client(L2tpRig::kA, 1701, 1701, l2::data(7, 1, kPpp)));
    CHECK(g.dp.reason(VPNPT_REASON_L2TP_NO_TUNNEL) == 1);
    (void)r;
  }
  SECTION("StopCCN from the server") {
    g.wan(g.from_server(1701, 1701, l2::stopccn(100, 7)));
    g.feed_copies(monotonic_ns());
    CHECK(g.tunnel(a.xid).state == VPNPT_L2TP_CLOSING);
  }
  SECTION("unanswered and idle") {
    uint64_t now = monotonic_ns();
    g.sp.sweep(now + 31'000'000'000ull);
    CHECK(g.closed == std::vector<uint32_t>{VPNPT_CLOSE_UNANSWERED});  // B never heard back
    g.sp.sweep(now + 301'000'000'000ull);
    CHECK(g.closed == std::vector<uint32_t>{VPNPT_CLOSE_UNANSWERED, VPNPT_CLOSE_IDLE});
    CHECK(g.dp.entries(VPNPT_MAP_L2TP_TUNNELS) == 0);
    CHECK(g.dp.entries(VPNPT_MAP_L2TP_OUT) == 0);
  }
  SECTION("flush") {
    CHECK(g.sp.flush() == 2);
    CHECK(g.dp.entries(VPNPT_MAP_L2TP_TUNNELS) == 0);
    CHECK(g.dp.entries(VPNPT_MAP_L2TP_OUT) == 0);
  }
  (void)b;
}

TEST_CASE("L2TP setup: one host's tunnels stop at its share, another host's go through", "[l2tp][netns]") {
  SlowRig g;
  L2tpTimeouts t;
  t.host_max_tunnels = 3;
  std::vector<Sent> sent;
  L2tpSlowPath sp(g.l2tp_maps(), t, [&sent](uint32_t ifi, const uint8_t* f, size_t len) {
    sent.push_back({ifi, Bytes(f, f + len)});
    return true;
  });
  auto request = [&](uint32_t client, uint16_t tid) {
    g.lan(g.from_client(client, 1701, 1701, l2::sccrq(tid)));
    auto p = g.punts();
    REQUIRE(p.size() == 1);
    return *sp.on_punt(p[0], sizeof(p[0]), L2tpRig::kPub, monotonic_ns());
  };
  for (uint16_t tid = 1; tid <= 3; ++tid) CHECK(request(L2tpRig::kA, tid).sent);
  auto over = request(L2tpRig::kA, 4);
  CHECK(!over.sent);
  CHECK(over.refusal == VPNPT_L2TP_REFUSE_HOST_QUOTA);
  CHECK(request(L2tpRig::kA, 2).sent);  // a retransmission of a held tunnel is still answered
  CHECK(request(L2tpRig::kB, 4).sent);
  CHECK(sp.stats().refused[VPNPT_L2TP_REFUSE_HOST_QUOTA] == 1);
  // A restarted daemon adopts the tunnels in the table, and with them A's count.
  L2tpSlowPath restarted(g.l2tp_maps(), t, [](uint32_t, const uint8_t*, size_t) { return true; });
  g.lan(g.from_client(L2tpRig::kA, 1701, 1701, l2::sccrq(5)));
  auto p = g.punts();
  REQUIRE(p.size() == 1);
  auto again = restarted.on_punt(p[0], sizeof(p[0]), L2tpRig::kPub, monotonic_ns());
  REQUIRE(again);
  CHECK(again->refusal == VPNPT_L2TP_REFUSE_HOST_QUOTA);
}

TEST_CASE("L2TP sessions inside a tunnel are counted from ICRQ and CDN", "[l2tp][netns]") {
  SlowRig g;
  auto a = g.request(L2tpRig::kA, 1701, l2::sccrq(100));
  g.wan(g.from_server(1701, 1701, l2::sccrp(100, 7)));
  g.lan(g.from_client(L2tpRig::kA, 1701, 1701, l2::icrq(7, 1)));
  g.lan(g.from_client(L2tpRig::kA, 1701, 1701, l2::icrq(7, 2)));
  g.feed_copies(monotonic_ns());
  CHECK(g.tunnel(a.xid).sessions == 2);
  g.wan(g.from_server(1701, 1701, l2::cdn(100, 1, 33)));
  g.feed_copies(monotonic_ns());
  CHECK(g.tunnel(a.xid).sessions == 1);
}

TEST_CASE("L2TP setup: a source's tunnels to one server share its port and outlive each other", "[l2tp][netns]") {
  SlowRig g;
  for (uint16_t tid : {100, 200, 300}) {
    auto s = g.request(L2tpRig::kA, 1701, l2::sccrq(tid));
    REQUIRE(s.sent);
    CHECK(s.new_tunnel);
    CHECK(s.xid == tid);
    CHECK(ntohs(s.tunnel.public_port) == 1701);
  }
  for (uint16_t tid : {100, 200, 300}) g.wan(g.from_server(1701, 1701, l2::sccrp(tid, static_cast<uint16_t>(tid + 1))));
  g.feed_copies(monotonic_ns());
  CHECK(g.dp.entries(VPNPT_MAP_L2TP_OUT) == 1);  // one index slot for the source, its tunnels chained

  // The server stops one tunnel (the newest, which the index names; a middle one; the oldest).
  // After the grace period the source's packets still leave through the index, on port 1701,
  // and the other two tunnels still reach the client.
  uint16_t stopped = GENERATE(as<uint16_t>{}, 300, 200, 100);
  INFO("stopped tunnel " << stopped);
  g.wan(g.from_server(1701, 1701, l2::stopccn(stopped, static_cast<uint16_t>(stopped + 1))));
  uint64_t now = monotonic_ns();
  g.feed_copies(now);
  g.sp.sweep(now + 11'000'000'000ull);
  CHECK(g.closed == std::vector<uint32_t>{VPNPT_CLOSE_STOPCCN});
  CHECK(g.dp.entries(VPNPT_MAP_L2TP_TUNNELS) == 2);
  CHECK(g.dp.entries(VPNPT_MAP_L2TP_OUT) == 1);
  for (uint16_t tid : {100, 200, 300}) {
    auto o = g.lan(g.from_client(L2tpRig::kA, 1701, 1701, l2::data(static_cast<uint16_t>(tid + 1), 1, kPpp)));
    CHECK(o.out == g.at_server(1701, 1701, l2::data(static_cast<uint16_t>(tid + 1), 1, kPpp)));
    auto i = g.wan(g.from_server(1701, 1701, l2::data(tid, 1, kPpp)));
    if (tid == stopped)
      CHECK(std::string(verdict_name(i.verdict)) == "XDP_PASS");
    else
      CHECK(i.out == g.at_client(L2tpRig::kA, 1701, 1701, l2::data(tid, 1, kPpp)));
  }
  // The daemon still finds each remaining tunnel from the client's side (its chain is intact).
  g.punts();
  for (uint16_t tid : {100, 200, 300})
    if (tid != stopped) g.lan(g.from_client(L2tpRig::kA, 1701, 1701, l2::icrq(static_cast<uint16_t>(tid + 1), 5)));
  g.feed_copies(monotonic_ns());
  for (uint16_t tid : {100, 200, 300})
    if (tid != stopped) CHECK(g.tunnel(tid).sessions == 1);
  // The last two end too: the index slot goes with the last.
  g.sp.flush();
  CHECK(g.dp.entries(VPNPT_MAP_L2TP_OUT) == 0);
}

TEST_CASE("L2TP: vpnpt and the kernel's NAT never carry the same Tunnel ID toward one server", "[l2tp][netns]") {
  // Issue 17, finding 3. vpnpt's tunnels share public:1701 toward the server and are told apart by
  // the Tunnel ID the server addresses them with; a tunnel the kernel's NAT carries (set up while
  // the daemon was down) sits on the same tuple.
  SlowRig g;
  const uint32_t kC = pkt::ip("192.168.1.12");
  auto kernel_knows = [&](uint16_t tid) {
    vpnpt_l2tp_kernel_key k{L2tpRig::kSrv, htons(tid), 0};
    uint64_t seen = 0;
    return bpf_map_lookup_elem(g.dp.map_fd(VPNPT_MAP_L2TP_KERNEL), &k, &seen) == 0;
  };

  SECTION("a tunnel the kernel set up keeps its id: a later vpnpt tunnel gets another") {
    g.daemon_alive(false);
    Bytes req = g.from_client(L2tpRig::kA, 1701, 1701, l2::sccrq(4242));
    auto r = g.lan(req);
    CHECK(verdict_name(r.verdict) == std::string("XDP_PASS"));  // the kernel's NAT sets A's tunnel up
    CHECK(r.out == req);
    CHECK(kernel_knows(4242));
    g.daemon_alive(true);
    auto b = g.request(L2tpRig::kB, 1701, l2::sccrq(4242));
    REQUIRE(b.sent);
    CHECK(b.xid != 4242);  // before: 4242, and the server's packets for A's tunnel went to B
    Bytes for_a = g.from_server(1701, 1701, l2::data(4242, 1, kPpp));
    auto ra = g.wan(for_a);
    CHECK(verdict_name(ra.verdict) == std::string("XDP_PASS"));
    CHECK(ra.out == for_a);  // to the kernel, which delivers it to A
  }
  SECTION("an id the server's packets show the kernel carries is not handed out either") {
    Bytes unknown = g.from_server(1701, 1701, l2::data(5555, 1, kPpp));
    CHECK(g.wan(unknown).verdict == XDP_PASS);
    CHECK(kernel_knows(5555));
    auto c = g.request(kC, 1701, l2::sccrq(5555));
    REQUIRE(c.sent);
    CHECK(c.xid != 5555);
  }
  SECTION("the kernel gets no tunnel request whose id a vpnpt tunnel toward that server has") {
    auto a = g.request(L2tpRig::kA, 1701, l2::sccrq(777));
    REQUIRE(a.sent);
    REQUIRE(a.xid == 777);
    g.daemon_alive(false);
    auto r = g.lan(g.from_client(L2tpRig::kB, 1701, 1701, l2::sccrq(777)));
    CHECK(verdict_name(r.verdict) == std::string("XDP_DROP"));  // before: passed, and A's id was on two tunnels
    CHECK(g.dp.reason(VPNPT_REASON_L2TP_ID_IN_USE) == 1);
    CHECK_FALSE(kernel_knows(777));
    Bytes other = g.from_client(L2tpRig::kB, 1701, 1701, l2::sccrq(778));
    CHECK(g.lan(other).verdict == XDP_PASS);
    CHECK(kernel_knows(778));
    CHECK(g.dp.reason(VPNPT_REASON_L2TP_NO_DAEMON) == 1);
  }
  SECTION("a hidden Tunnel ID cannot be read: the request goes to the kernel as it is") {
    g.daemon_alive(false);
    CHECK(g.lan(g.from_client(L2tpRig::kA, 1701, 1701, l2::sccrq(4242, true))).verdict == XDP_PASS);
    CHECK_FALSE(kernel_knows(4242));
  }
}

// ---- Issue 17, finding 11: an ICMP error about a tunnel's packets ("fragmentation needed"
// from a router on the path) reached the public IP and died there.

namespace {

const uint32_t kMid = pkt::ip("198.51.100.254");  // a router on the path to the server

// The first @keep bytes of a tunnel's data packet as it left the gateway (from @src:@sport).
Bytes sent_l2tp(uint32_t src, uint16_t sport, uint16_t server_tid, size_t keep) {
  return pkt::quoted_ipv4(src, L2tpRig::kSrv, pkt::kProtoUdp,
                          pkt::udp(sport, 1701, l2::data(server_tid, 1, Bytes(1400, 0x21))), keep);
}

// Two tunnels that both asked for Tunnel ID 100 (B got another), answered by the server with
// its own ids 7 (A) and @b_server_tid (B); the daemon learned them from the answers' copies.
struct IcmpRig : SlowRig {
  uint16_t xa = 0, xb = 0;
  pkt::EthOpts wan_eth = eth_of(TestRouter::kServer.mac, rt.wan_mac);
  explicit IcmpRig(uint16_t b_server_tid = 8) {
    xa = request(kA, 1701, l2::sccrq(100)).xid;
    xb = request(kB, 1701, l2::sccrq(100)).xid;
    wan(from_server(1701, 1701, l2::sccrp(xa, 7)));
    wan(from_server(1701, 1701, l2::sccrp(xb, b_server_tid)));
    feed_copies(monotonic_ns());
    REQUIRE(tunnel(xb).server_tunnel_id == htons(b_server_tid));
  }
  pkt::EthOpts to(uint32_t client) const {
    return eth_of(rt.lan_mac, client == kB ? TestRouter::kClient2.mac : TestRouter::kClient.mac);
  }
};

}  // namespace

TEST_CASE("L2TP: an ICMP error about a tunnel's packet reaches its host, quote rewritten", "[l2tp][icmp][netns]") {
  IcmpRig g;
  for (size_t keep : {size_t{20 + 8 + 6}, size_t{20 + 64}, size_t{548}}) {  // UDP + L2TP up to the Tunnel ID, more
    INFO("quote of " << keep << " bytes");
    auto r = g.wan(pkt::frag_needed(kMid, L2tpRig::kPub, sent_l2tp(L2tpRig::kPub, 1701, 8, keep), g.wan_eth));
    REQUIRE(std::string(verdict_name(r.verdict)) == "XDP_REDIRECT");
    // The quoted UDP checksum follows the address: the builder computes it afresh over the host's.
    CHECK(r.out == pkt::frag_needed(kMid, L2tpRig::kB, sent_l2tp(L2tpRig::kB, 1701, 8, keep), g.to(L2tpRig::kB), 59));
    CHECK(pkt::ipv4_checksum_ok(r.out));
    auto ra = g.wan(pkt::frag_needed(kMid, L2tpRig::kPub, sent_l2tp(L2tpRig::kPub, 1701, 7, keep), g.wan_eth));
    CHECK(ra.out == pkt::frag_needed(kMid, L2tpRig::kA, sent_l2tp(L2tpRig::kA, 1701, 7, keep), g.to(L2tpRig::kA), 59));
  }
  CHECK(g.dp.reason(VPNPT_REASON_ICMP_RELAYED) == 6);

  SECTION("a per-port NAT tunnel is found by its public port, and the quote gets the host's port back") {
    auto c = g.request(L2tpRig::kB, 1702, l2::sccrq(0, true));
    REQUIRE(c.sent);
    uint16_t port = ntohs(c.tunnel.public_port);
    auto r = g.wan(pkt::frag_needed(kMid, L2tpRig::kPub, sent_l2tp(L2tpRig::kPub, port, 55, 28), g.wan_eth));
    REQUIRE(std::string(verdict_name(r.verdict)) == "XDP_REDIRECT");
    CHECK(r.out == pkt::frag_needed(kMid, L2tpRig::kB, sent_l2tp(L2tpRig::kB, 1702, 55, 28), g.to(L2tpRig::kB), 59));
  }
  SECTION("too short a quote to name the tunnel, or an unknown id: untouched, counted") {
    for (const Bytes& in : {pkt::frag_needed(kMid, L2tpRig::kPub, sent_l2tp(L2tpRig::kPub, 1701, 8, 28), g.wan_eth),
                            pkt::frag_needed(kMid, L2tpRig::kPub, sent_l2tp(L2tpRig::kPub, 1701, 99, 64), g.wan_eth)}) {
      auto r = g.wan(in);
      CHECK(std::string(verdict_name(r.verdict)) == "XDP_PASS");
      CHECK(r.out == in);
    }
    CHECK(g.dp.reason(VPNPT_REASON_ICMP_NO_SESSION) == 2);
  }
  SECTION("quotes of other UDP are the kernel's: untouched, not counted") {
    pkt::Ipv4Opts o;
    o.ttl = 63;
    Bytes dns = pkt::ipv4(L2tpRig::kPub, L2tpRig::kSrv, pkt::kProtoUdp, pkt::udp(33000, 53, Bytes(40, 0)), o);
    Bytes in = pkt::frag_needed(kMid, L2tpRig::kPub, dns, g.wan_eth);
    CHECK(g.wan(in).out == in);
    CHECK(g.dp.reason(VPNPT_REASON_ICMP_NO_SESSION) == 0);
  }
  SECTION("ended tunnels' errors are not relayed, and the recount frees their pairs") {
    CHECK(g.sp.flush() == 2);
    Bytes in = pkt::frag_needed(kMid, L2tpRig::kPub, sent_l2tp(L2tpRig::kPub, 1701, 8, 64), g.wan_eth);
    CHECK(g.wan(in).out == in);
    auto rc = g.sp.recount_quotes();
    CHECK(rc.pairs == 0);
    CHECK(rc.changed == 0);  // the flush's own recount cleared them
  }
}

TEST_CASE("L2TP: an ICMP error two hosts' tunnels could own goes to neither", "[l2tp][icmp][netns]") {
  IcmpRig g(7);  // the server gave both tunnels its id 7 (two LNS processes behind one address)
  Bytes in = pkt::frag_needed(kMid, L2tpRig::kPub, sent_l2tp(L2tpRig::kPub, 1701, 7, 64), g.wan_eth);
  auto r = g.wan(in);
  CHECK(std::string(verdict_name(r.verdict)) == "XDP_PASS");
  CHECK(r.out == in);
  CHECK(g.dp.reason(VPNPT_REASON_ICMP_AMBIGUOUS) == 1);
  // B's tunnel ends: the sweep's recount gives the pair to A.
  g.wan(g.from_server(1701, 1701, l2::stopccn(g.xb, 7)));
  g.feed_copies(monotonic_ns());
  g.sp.sweep(monotonic_ns() + 11'000'000'000ull);
  auto ra = g.wan(in);
  CHECK(std::string(verdict_name(ra.verdict)) == "XDP_REDIRECT");
  CHECK(ra.out == pkt::frag_needed(kMid, L2tpRig::kA, sent_l2tp(L2tpRig::kA, 1701, 7, 64), g.to(L2tpRig::kA), 59));
}

// ---- Issue 17: idle and expiry timing as a property (see the PPTP one): random timelines
// of traffic each way, StopCCNs and silence; after every sweep each tunnel is where the
// rules put it, never removed early, never kept late.

TEST_CASE("property: L2TP tunnels expire exactly when both directions fall silent", "[l2tp][property][timing]") {
  const uint64_t seed = property_seed();
  std::mt19937_64 rng(seed);
  auto u = [&](uint64_t n) { return rng() % n; };
  const L2tpTimeouts t{};
  const uint64_t sec = 1000000000ull, idle = t.idle.count() * sec, unanswered = t.unanswered.count() * sec,
                 grace = t.closing_grace.count() * sec;
  uint64_t steps = 0;
  std::array<uint64_t, 8> ended{};

  for (int round = 0; round < 4; ++round) {
    SlowRig g;
    uint64_t now = monotonic_ns();
    int fd = g.dp.map_fd(VPNPT_MAP_L2TP_TUNNELS);
    auto write = [&](uint16_t x, const vpnpt_l2tp_tunnel& v) {
      uint32_t k = x;
      REQUIRE(bpf_map_update_elem(fd, &k, &v, BPF_EXIST) == 0);
    };
    std::vector<uint16_t> xs;
    for (uint16_t i = 0; i < 8; ++i) {
      uint16_t x = static_cast<uint16_t>(200 + i);
      g.add_tunnel(i % 2 ? L2tpRig::kB : L2tpRig::kA, static_cast<uint16_t>(1701 + i), x, x);
      vpnpt_l2tp_tunnel v = g.tunnel(x);
      v.created_ns = v.last_seen_ns = v.last_out_ns = now;
      if (u(3) == 0) {  // the server has not answered yet
        v.state = VPNPT_L2TP_REQUESTED;
        v.last_seen_ns = 0;
        v.packets_in = 0;
      }
      write(x, v);
      xs.push_back(x);
    }
    g.sp.sweep(now);  // adopts them
    for (int s = 0; s < 60; ++s, ++steps) {
      now +=
          std::vector<uint64_t>{sec / 2, 9 * sec, 10 * sec, 29 * sec, 31 * sec, 59 * sec, 299 * sec, 301 * sec}[u(8)];
      for (uint16_t x : xs) {
        vpnpt_l2tp_tunnel v = g.tunnel(x);
        if (!vpnpt_session_in_use(v.state)) continue;
        switch (u(6)) {
          case 0:  // the server's packets
            v.last_seen_ns = now;
            v.packets_in++;
            if (v.state == VPNPT_L2TP_REQUESTED) v.state = VPNPT_L2TP_ESTABLISHED;
            break;
          case 1:  // the client's
            v.last_out_ns = now;
            break;
          case 2:
            if (u(4) == 0 && v.state != VPNPT_L2TP_CLOSING) {  // StopCCN
              v.state = VPNPT_L2TP_CLOSING;
              v.closed_ns = now;
            }
            break;
          default: break;
        }
        write(x, v);
      }
      std::vector<vpnpt_l2tp_tunnel> before;
      for (uint16_t x : xs) before.push_back(g.tunnel(x));
      g.sp.sweep(now);
      for (size_t i = 0; i < xs.size(); ++i) {
        const auto& b = before[i];
        if (!vpnpt_session_in_use(b.state)) continue;
        bool gone = !vpnpt_session_in_use(g.tunnel(xs[i]).state);
        uint64_t last = std::max(b.last_seen_ns, b.last_out_ns);
        INFO("seed " << seed << " round " << round << " step " << s << " tunnel " << xs[i] << " state " << b.state
                     << " silent " << (now - last) / sec << " s");
        if (b.state == VPNPT_L2TP_CLOSING)
          CHECK(gone == (now - b.closed_ns >= grace));
        else if (b.state == VPNPT_L2TP_REQUESTED && !b.packets_in && now - b.created_ns >= unanswered)
          CHECK(gone);
        else
          CHECK(gone == (now - last >= idle));  // never before the idle time, always after
      }
    }
    for (size_t i = 0; i < ended.size(); ++i) ended[i] += g.sp.stats().ended[i];
  }
  std::cout << "property l2tp timing: seed " << seed << ", " << steps << " sweeps: " << ended[VPNPT_CLOSE_IDLE]
            << " idle, " << ended[VPNPT_CLOSE_UNANSWERED] << " unanswered, " << ended[VPNPT_CLOSE_STOPCCN]
            << " after StopCCN and the grace\n";
  CHECK(ended[VPNPT_CLOSE_IDLE] > 0);
  CHECK(ended[VPNPT_CLOSE_UNANSWERED] > 0);
  CHECK(ended[VPNPT_CLOSE_STOPCCN] > 0);
}
