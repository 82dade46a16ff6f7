// The daemon's PPTP slow path on simulated timelines: calls set up by the
// real programs, then swept at chosen instants.
#include <iostream>
#include <map>
#include <random>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <catch2/catch.hpp>

#include "loader/core/clock.h"
#include "loader/proto/pptp/pptp_slowpath.h"
#include "conntrack_util.h"
#include "pptp_builder.h"
#include "prog_runner.h"
#include "property_util.h"

using namespace vpnpt;
using namespace vpnpt::test;
using pkt::ip;

namespace {

const uint32_t kPub = ip("203.0.113.1");
const uint32_t kSrv = ip("203.0.113.7");
const uint32_t kSrv2 = ip("198.51.100.7");
const uint32_t kA = ip("192.168.1.10");
const uint32_t kB = ip("192.168.1.11");
constexpr uint64_t kSec = 1000000000ull;

struct Rig {
  PrivateNetns ns;  // first: its conntrack holds the control connections
  Dataplane dp;
  PptpSlowPath sp;
  Rig() : sp(dp.pptp_maps(), PptpTimeouts{}) { dp.configure(kPub); }

  struct Conn {
    pptp::TcpFlow up, down;
  };
  Conn conn(uint32_t client, uint16_t port, uint16_t pub_port) {
    Conn c{{client, kSrv, port, 1723, 10}, {kSrv, kPub, 1723, pub_port, 20}};
    REQUIRE(run_xdp(dp.progs.lan_fd(), c.up.syn()).verdict == XDP_PASS);
    REQUIRE(0 == pptp::masquerade(c.up, c.down));
    REQUIRE(run_xdp(dp.progs.wan_fd(), c.down.syn_ack(c.up)).verdict == XDP_PASS);
    return c;
  }
  uint16_t request(Conn& c, uint16_t id) {
    auto r = run_xdp(dp.progs.lan_fd(), c.up.data(pptp::ocrq(id)));
    REQUIRE(r.verdict == XDP_PASS);
    return pptp::be16_at(r.out, pptp::kTcpPayloadOffset + 12);
  }
  void answer(Conn& c, uint16_t server_id, uint16_t xlat) {
    REQUIRE(run_xdp(dp.progs.wan_fd(), c.down.data(pptp::ocrp(server_id, xlat))).verdict == XDP_PASS);
  }
  size_t calls() const { return dp.entries(VPNPT_MAP_PPTP_CALLS); }
  uint32_t state(uint16_t xlat) {
    uint32_t k = xlat;
    vpnpt_pptp_call c{};
    if (bpf_map_lookup_elem(dp.map_fd(VPNPT_MAP_PPTP_CALLS), &k, &c)) return 0;
    return c.state;
  }
};

}  // namespace

TEST_CASE("slow path: a call the server never answers expires after 30 s", "[pptp][slowpath]") {
  Rig r;
  auto a = r.conn(kA, 40000, 40000);
  r.request(a, 1000);
  uint64_t t0 = monotonic_ns();
  CHECK(r.sp.sweep(t0 + 29 * kSec).expired_unanswered == 0);
  CHECK(r.calls() == 1);
  CHECK(r.sp.sweep(t0 + 31 * kSec).expired_unanswered == 1);
  CHECK(r.calls() == 0);
}

TEST_CASE("slow path: an established call expires after 5 minutes without traffic", "[pptp][slowpath]") {
  Rig r;
  auto a = r.conn(kA, 40000, 40000);
  uint16_t x = r.request(a, 1000);
  r.answer(a, 0, x);
  uint64_t t0 = monotonic_ns();
  CHECK(r.sp.sweep(t0 + 299 * kSec).expired_idle == 0);
  CHECK(r.sp.sweep(t0 + 301 * kSec).expired_idle == 1);
  CHECK(r.calls() == 0);
  CHECK(r.dp.entries(VPNPT_MAP_PPTP_GRE_OUT) == 0);
}

TEST_CASE("slow path: a call without GRE lives while its control connection keeps echoing", "[pptp][slowpath]") {
  Rig r;
  auto a = r.conn(kA, 40000, 40000);
  uint16_t x = r.request(a, 1000);
  r.answer(a, 0, x);
  // The call's last GRE was 400 s ago ...
  uint32_t k = x;
  vpnpt_pptp_call c{};
  REQUIRE(bpf_map_lookup_elem(r.dp.map_fd(VPNPT_MAP_PPTP_CALLS), &k, &c) == 0);
  c.last_seen_ns -= 400 * kSec;
  REQUIRE(bpf_map_update_elem(r.dp.map_fd(VPNPT_MAP_PPTP_CALLS), &k, &c, BPF_EXIST) == 0);
  // ... but the server's Echo-Request and the client's reply crossed the connection just now.
  REQUIRE(run_xdp(r.dp.progs.wan_fd(), a.down.data(pptp::message(pptp::ECHORQ))).verdict == XDP_PASS);
  REQUIRE(run_xdp(r.dp.progs.lan_fd(), a.up.data(pptp::message(pptp::ECHORP))).verdict == XDP_PASS);
  uint64_t t0 = monotonic_ns();
  CHECK(r.sp.sweep(t0 + 200 * kSec).expired_idle == 0);
  CHECK(r.state(x) == VPNPT_PPTP_CALL_ESTABLISHED);
  // When the connection falls silent too, the call goes.
  CHECK(r.sp.sweep(t0 + 301 * kSec).expired_idle == 1);
  CHECK(r.calls() == 0);
}

TEST_CASE("slow path: an expired call's id is not given to another client toward that server at once",
          "[pptp][slowpath]") {
  Rig r;
  auto a = r.conn(kA, 40000, 40000);
  uint16_t xa = r.request(a, 1000);
  r.answer(a, 0, xa);
  REQUIRE(xa == 1000);  // a lone client keeps its own Call ID
  REQUIRE(r.sp.sweep(monotonic_ns() + 301 * kSec).expired_idle == 1);
  REQUIRE(r.calls() == 0);

  // The server may still send GRE for id 1000 (it has not noticed A is gone): B must not get it.
  auto b = r.conn(kB, 40000, 40001);
  uint16_t xb = r.request(b, 1000);
  CHECK(xb != 1000);
  // Toward another server, the id is free to use.
  pptp::TcpFlow up{kB, kSrv2, 40002, 1723, 10};
  REQUIRE(run_xdp(r.dp.progs.lan_fd(), up.syn()).verdict == XDP_PASS);
  auto o = run_xdp(r.dp.progs.lan_fd(), up.data(pptp::ocrq(1000)));
  REQUIRE(o.verdict == XDP_PASS);
  CHECK(pptp::be16_at(o.out, pptp::kTcpPayloadOffset + 12) == 1000);
}

TEST_CASE("slow path: closing the control connection ends its calls only", "[pptp][slowpath]") {
  Rig r;
  auto a = r.conn(kA, 40000, 40000);
  auto b = r.conn(kB, 40000, 40001);
  uint16_t xa = r.request(a, 1000), xb = r.request(b, 1000);
  r.answer(a, 0, xa);
  r.answer(b, 128, xb);
  REQUIRE(run_xdp(r.dp.progs.lan_fd(), a.up.fin()).verdict == XDP_PASS);
  uint64_t t0 = monotonic_ns();
  CHECK(r.sp.sweep(t0 + kSec).closed == 1);
  CHECK(r.state(xa) == VPNPT_PPTP_CALL_CLOSING);
  CHECK(r.state(xb) == VPNPT_PPTP_CALL_ESTABLISHED);
  // The closed call's id stays reserved for the grace period, then goes.
  CHECK(r.sp.sweep(t0 + 5 * kSec).reaped == 0);
  CHECK(r.sp.sweep(t0 + 12 * kSec).reaped == 1);
  CHECK(r.calls() == 1);
  CHECK(r.state(xb) == VPNPT_PPTP_CALL_ESTABLISHED);
}

TEST_CASE("slow path: 20 spoofed RSTs outside the window leave a live call alone", "[pptp][slowpath][edge]") {
  Rig r;
  auto a = r.conn(kA, 40000, 40000);
  uint16_t xa = r.request(a, 1000);
  r.answer(a, 0, xa);
  for (uint32_t i = 0; i < 20; ++i) {
    auto rst =
        pkt::frame(kSrv, kPub, pkt::kProtoTcp, pkt::tcp(1723, 40000, {}, 0x04, a.down.next + 100000 * (i + 1), 0));
    REQUIRE(run_xdp(r.dp.progs.wan_fd(), rst).verdict == XDP_PASS);
  }
  uint64_t t0 = monotonic_ns();
  CHECK(r.sp.sweep(t0 + kSec).closed == 0);
  CHECK(r.state(xa) == VPNPT_PPTP_CALL_ESTABLISHED);
  // The server's real RST (at its stream position) does end it.
  auto rst = pkt::frame(kSrv, kPub, pkt::kProtoTcp, pkt::tcp(1723, 40000, {}, 0x04, a.down.next, 0));
  REQUIRE(run_xdp(r.dp.progs.wan_fd(), rst).verdict == XDP_PASS);
  CHECK(r.sp.sweep(t0 + 2 * kSec).closed == 1);
  CHECK(r.state(xa) == VPNPT_PPTP_CALL_CLOSING);
}

TEST_CASE("slow path: Stop-Control-Connection from the server ends that connection's calls", "[pptp][slowpath]") {
  Rig r;
  auto a = r.conn(kA, 40000, 40000);
  auto b = r.conn(kB, 40000, 40001);
  uint16_t xa = r.request(a, 1000), xb = r.request(b, 1000);
  r.answer(a, 0, xa);
  r.answer(b, 128, xb);
  REQUIRE(run_xdp(r.dp.progs.wan_fd(), b.down.data(pptp::message(pptp::STOPCCRQ))).verdict == XDP_PASS);
  CHECK(r.sp.sweep(monotonic_ns()).closed == 1);
  CHECK(r.state(xb) == VPNPT_PPTP_CALL_CLOSING);
  CHECK(r.state(xa) == VPNPT_PPTP_CALL_ESTABLISHED);
}

TEST_CASE("slow path: Call-Disconnect-Notify closes exactly the named call", "[pptp][slowpath]") {
  Rig r;
  auto a = r.conn(kA, 40000, 40000);
  auto b = r.conn(kB, 40000, 40001);
  uint16_t xa = r.request(a, 1000), xb = r.request(b, 1000);
  // Both calls got server id 5 (a server that numbers per connection): the public port tells them apart.
  r.answer(a, 5, xa);
  r.answer(b, 5, xb);
  CHECK(r.sp.on_disconnect(kSrv, htons(5), htons(40001), monotonic_ns()) == 1);
  CHECK(r.state(xb) == VPNPT_PPTP_CALL_CLOSING);
  CHECK(r.state(xa) == VPNPT_PPTP_CALL_ESTABLISHED);
}

TEST_CASE("slow path: the server's Call-Disconnect-Notify closes an incoming call too", "[pptp][slowpath]") {
  Rig r;
  auto a = r.conn(kA, 40000, 40000);
  REQUIRE(run_xdp(r.dp.progs.wan_fd(), a.down.data(pptp::icrq(300))).verdict == XDP_PASS);
  auto o = run_xdp(r.dp.progs.lan_fd(), a.up.data(pptp::icrp(7, 300)));
  REQUIRE(o.verdict == XDP_PASS);
  uint16_t x = pptp::be16_at(o.out, pptp::kTcpPayloadOffset + 12);
  REQUIRE(run_xdp(r.dp.progs.wan_fd(), a.down.data(pptp::iccn(x))).verdict == XDP_PASS);
  REQUIRE(r.state(x) == VPNPT_PPTP_CALL_ESTABLISHED);
  CHECK(r.sp.on_disconnect(kSrv, htons(300), htons(40000), monotonic_ns()) == 1);
  CHECK(r.state(x) == VPNPT_PPTP_CALL_CLOSING);
}

TEST_CASE("slow path: reaping an old call leaves a newer call's index entries alone", "[pptp][slowpath]") {
  Rig r;
  auto a = r.conn(kA, 40000, 40000);
  uint16_t x1 = r.request(a, 1000);
  r.answer(a, 0, x1);
  REQUIRE(run_xdp(r.dp.progs.lan_fd(), a.up.data(pptp::ccrq(1000))).verdict == XDP_PASS);
  r.sp.on_disconnect(kSrv, htons(0), htons(40000), monotonic_ns());
  REQUIRE(r.state(x1) == VPNPT_PPTP_CALL_CLOSING);
  // The client's next call reuses Call ID 1000, and the server its id 0, before the old call
  // is reaped: a new translated id, and a second outbound GRE index slot in the same probe run.
  uint16_t x2 = r.request(a, 1000);
  CHECK(x2 != x1);
  r.answer(a, 0, x2);
  CHECK(r.state(x2) == VPNPT_PPTP_CALL_ESTABLISHED);
  CHECK(r.dp.entries(VPNPT_MAP_PPTP_GRE_OUT) == 2);

  CHECK(r.sp.sweep(monotonic_ns() + 20 * kSec).reaped == 1);
  CHECK(r.state(x1) == 0);  // free
  CHECK(r.state(x2) == VPNPT_PPTP_CALL_ESTABLISHED);
  CHECK(r.dp.entries(VPNPT_MAP_PPTP_GRE_OUT) == 1);
  // Outbound GRE with the server's id 0 still finds the newer call.
  uint64_t no_call = r.dp.reason(VPNPT_REASON_GRE_NO_CALL);
  run_xdp(r.dp.progs.lan_fd(), pkt::frame(kA, kSrv, 47, pkt::gre_v1(0, pkt::Bytes(32, 0x11), 1)));
  CHECK(r.dp.reason(VPNPT_REASON_GRE_NO_CALL) == no_call);
}

TEST_CASE("slow path: a call answered after the daemon's copy keeps its GRE index slot until freed",
          "[pptp][slowpath]") {
  Rig r;
  auto a = r.conn(kA, 40000, 40000);
  uint16_t x = r.request(a, 1000);
  auto table = PptpCallTable::map(r.dp.map_fd(VPNPT_MAP_PPTP_CALLS), r.dp.map_fd(VPNPT_MAP_PPTP_GRE_OUT));
  REQUIRE(table);
  PptpCall seen = table->read(x);  // REQUESTED, no GRE index slot yet
  REQUIRE(seen.call.gre_slot == 0);
  r.answer(a, 7, x);  // the hook establishes it and claims an index slot
  REQUIRE(r.dp.entries(VPNPT_MAP_PPTP_GRE_OUT) == 1);

  // A decision from the old copy finds the call moved on and changes nothing.
  CHECK_FALSE(table->close(seen, monotonic_ns()));
  CHECK_FALSE(table->free(seen, monotonic_ns()));
  CHECK(r.state(x) == VPNPT_PPTP_CALL_ESTABLISHED);
  CHECK(table->read(x).call.gre_slot != 0);

  // Closed and freed from a fresh read, the index slot it holds now goes with it.
  REQUIRE(table->close(table->read(x), monotonic_ns()));
  REQUIRE(table->free(table->read(x), monotonic_ns()));
  CHECK(r.calls() == 0);
  CHECK(r.dp.entries(VPNPT_MAP_PPTP_GRE_OUT) == 0);
}

TEST_CASE("slow path: flush removes every call and stream", "[pptp][slowpath]") {
  Rig r;
  auto a = r.conn(kA, 40000, 40000);
  r.request(a, 1);
  r.request(a, 2);
  CHECK(r.sp.flush() == 2);
  CHECK(r.calls() == 0);
  CHECK(r.dp.entries(VPNPT_MAP_PPTP_STREAMS) == 0);
  CHECK(r.dp.entries(VPNPT_MAP_PPTP_GRE_OUT) == 0);
}

// ---- Issue 17: idle and expiry timing as a property. Random timelines of GRE, control
// segments and silence over calls of several connections; after every sweep each call is
// where the rules put it, never freed early, never kept late.

namespace {

struct TimedCall {
  uint16_t xlat;
  size_t conn;
  bool answered;
  uint64_t created;
};

vpnpt_pptp_call read_call(const Dataplane& dp, uint16_t xlat) {
  uint32_t k = xlat;
  vpnpt_pptp_call c{};
  REQUIRE(bpf_map_lookup_elem(dp.map_fd(VPNPT_MAP_PPTP_CALLS), &k, &c) == 0);
  return c;
}

// Stamps @f's tracker as if a segment crossed at @t (the hooks stamp with the clock of the
// tick). False once the tracker was reaped: the connection stays gone.
bool stamp_stream(const Dataplane& dp, const pptp::TcpFlow& f, uint64_t t) {
  vpnpt_pptp_stream_key k{f.saddr, f.daddr, htons(f.sport), htons(f.dport)};
  vpnpt_pptp_stream s{};
  if (bpf_map_lookup_elem(dp.map_fd(VPNPT_MAP_PPTP_STREAMS), &k, &s) != 0) return false;
  s.last_seen_ns = t;
  REQUIRE(bpf_map_update_elem(dp.map_fd(VPNPT_MAP_PPTP_STREAMS), &k, &s, BPF_EXIST) == 0);
  return true;
}

}  // namespace

TEST_CASE("property: PPTP calls expire exactly when their GRE and connection fall silent",
          "[pptp][slowpath][property][timing]") {
  const uint64_t seed = property_seed();
  std::mt19937_64 rng(seed);
  auto u = [&](uint64_t n) { return rng() % n; };
  const PptpTimeouts t{};
  const uint64_t idle = t.idle.count() * kSec, unanswered = t.unanswered.count() * kSec,
                 grace = t.closing_grace.count() * kSec, stream_idle = t.stream_idle.count() * kSec;
  uint64_t steps = 0, freed_idle = 0, freed_unanswered = 0, closed_conn = 0, reaped = 0;

  for (int round = 0; round < 4; ++round) {
    Rig r;
    std::vector<Rig::Conn> conns;
    std::vector<uint64_t> conn_seen;  // last segment either way, as stamped
    std::vector<TimedCall> calls;
    for (size_t i = 0; i < 3; ++i) {
      conns.push_back(r.conn(i == 1 ? kB : kA, static_cast<uint16_t>(40000 + i), static_cast<uint16_t>(40000 + i)));
      for (uint16_t id = 1; id <= 2; ++id) {
        uint16_t x = r.request(conns[i], static_cast<uint16_t>(100 * i + id));
        bool answer = u(4) != 0;
        if (answer) r.answer(conns[i], static_cast<uint16_t>(500 + 10 * i + id), x);
        calls.push_back({x, i, answer, read_call(r.dp, x).created_ns});
      }
    }
    uint64_t now = monotonic_ns();
    for (size_t i = 0; i < conns.size(); ++i) {
      stamp_stream(r.dp, conns[i].up, now);
      stamp_stream(r.dp, conns[i].down, now);
      conn_seen.push_back(now);
    }
    std::map<uint16_t, uint64_t> closed_at;  // calls seen CLOSING, since when
    for (int s = 0; s < 60; ++s, ++steps) {
      now += std::vector<uint64_t>{kSec / 2,  10 * kSec,  29 * kSec,  31 * kSec,
                                   59 * kSec, 299 * kSec, 301 * kSec, stream_idle + kSec}[u(8)];
      // Activity at this instant: some calls' GRE, some connections' echoes.
      for (auto& c : calls)
        if (u(3) == 0) {
          vpnpt_pptp_call v = read_call(r.dp, c.xlat);
          if (v.state == VPNPT_PPTP_CALL_ESTABLISHED && v.client && v.last_seen_ns < now) {
            v.last_seen_ns = now;
            uint32_t k = c.xlat;
            REQUIRE(bpf_map_update_elem(r.dp.map_fd(VPNPT_MAP_PPTP_CALLS), &k, &v, BPF_EXIST) == 0);
          }
        }
      for (size_t i = 0; i < conns.size(); ++i)
        if (u(3) == 0 && stamp_stream(r.dp, conns[i].up, now) && stamp_stream(r.dp, conns[i].down, now))
          conn_seen[i] = now;

      // What each call looked like before the sweep, and what the rules say must become of it.
      std::vector<vpnpt_pptp_call> before;
      for (const auto& c : calls) before.push_back(read_call(r.dp, c.xlat));
      auto st = r.sp.sweep(now);
      freed_idle += st.expired_idle;
      freed_unanswered += st.expired_unanswered;
      closed_conn += st.closed;
      reaped += st.reaped;
      for (size_t i = 0; i < calls.size(); ++i) {
        const auto& b = before[i];
        vpnpt_pptp_call a = read_call(r.dp, calls[i].xlat);
        bool was_ours = b.state != VPNPT_PPTP_CALL_FREE && b.client;
        if (!was_ours) {
          CHECK((a.state == VPNPT_PPTP_CALL_FREE || a.client != b.client || a.created_ns != b.created_ns));
          continue;
        }
        uint64_t last = std::max<uint64_t>(b.last_seen_ns, conn_seen[calls[i].conn]);
        bool conn_dead = now - conn_seen[calls[i].conn] > stream_idle;
        INFO("seed " << seed << " round " << round << " step " << s << " call " << calls[i].xlat << " state " << b.state
                     << " silent " << (now - last) / kSec << " s, connection silent "
                     << (now - conn_seen[calls[i].conn]) / kSec << " s");
        if (b.state == VPNPT_PPTP_CALL_CLOSING) {
          bool due = now - b.closed_ns > grace;
          CHECK((a.state == VPNPT_PPTP_CALL_FREE) == due);  // reaped after the grace, not before
        } else if (conn_dead) {
          CHECK(a.state == VPNPT_PPTP_CALL_CLOSING);  // closed with its connection
          closed_at[calls[i].xlat] = now;
        } else if (b.state == VPNPT_PPTP_CALL_REQUESTED) {
          CHECK((a.state == VPNPT_PPTP_CALL_FREE) == (now - b.created_ns > unanswered));
        } else {
          // Never freed while its GRE or its connection spoke within the idle time; always after.
          CHECK((a.state == VPNPT_PPTP_CALL_FREE) == (now - last > idle));
        }
      }
    }
  }
  std::cout << "property pptp timing: seed " << seed << ", " << steps << " sweeps: " << freed_idle << " idle, "
            << freed_unanswered << " unanswered, " << closed_conn << " closed with their connection, " << reaped
            << " reaped after the grace\n";
  CHECK(freed_idle > 0);
  CHECK(freed_unanswered > 0);
  CHECK(closed_conn > 0);
  CHECK(reaped > 0);
}
