// Property tests of the BPF PPTP control path (the control-message parser
// and rewriter live in BPF; userspace never parses PPTP control messages).
// Random PPTP sessions of several clients on colliding Call IDs, cut into
// random TCP segments, coalesced, retransmitted, sent ahead of a gap, fed
// through the LAN and WAN programs, with a simulated server (PAC) and
// clients (PNS) that react to what was actually delivered:
//
//   C1 a delivered byte never changes on retransmission (the same stream
//      position always comes out the same), unless the receiver had
//      acknowledged it: TCP discards those, and vpnpt forgets their rewrites;
//   C2 only Call ID fields change (outbound OCRQ/ICRP/CCRQ @12, inbound
//      OCRP @14, ICCN/WEN/SLI @12), headers are untouched, the TCP checksum
//      is valid;
//   C3 the server never sees two live calls with the same id, and every
//      OCRP or WEN a client receives names a call of that client;
//   C4 GRE of an answered call reaches only its client, with its own id;
//   C5 a held segment is delivered once TCP resends it with more data
//      (liveness), and drops only ever carry a drop reason;
//   C6 the call tables only ever hold calls of the client that asked
//      (checked against the model after every segment).
// Segments carry real ACK numbers (what the sender has received of the
// other direction) and receivers send pure ACKs, so the rewrites kept for
// retransmission are freed as in TCP; calls come in bursts, so segments
// carry more rewrites than the 8 the tracker once remembered.
// A second case corrupts segments at random (bits, sequence numbers, flags,
// data offsets) and checks the safety properties only (C2 headers and
// checksums, verdict/reason, C6).
#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <set>

#include "loader/core/names.h"
#include "pptp_builder.h"
#include "fixtures.h"
#include "prog_runner.h"
#include "property_util.h"
#include "ref_model.h"
#include "test_router.h"

using namespace vpnpt;
using namespace vpnpt::test;
using pkt::Bytes;
using pkt::ip;

namespace {

bool sabotaged(const char* what) {
  const char* s = std::getenv("VPNPT_PROPERTY_SABOTAGE");
  return s && std::string(s) == what;
}

uint16_t be16(const Bytes& b, size_t off) { return static_cast<uint16_t>(b[off] << 8 | b[off + 1]); }

// One direction of a control connection: the original stream, what was delivered.
struct Side {
  uint32_t saddr = 0, daddr = 0;
  uint16_t sport = 0, dport = 0;
  uint32_t isn = 0;                 // stream position 0 = sequence number isn
  Bytes orig;                       // every byte the sender queued
  std::map<size_t, uint16_t> msgs;  // message start -> type
  size_t sent = 0;                  // contiguous bytes delivered from position 0
  std::map<size_t, uint8_t> got;    // every delivered byte (after rewriting)
  size_t parsed = 0;                // receiver: messages handled up to here
  size_t held_len = 0;              // length of the last held attempt at `sent` (0: none)
  size_t acked = 0;                 // the most of this stream an ACK of the other side has claimed
  int held_tries = 0;

  void queue(const Bytes& m) {
    msgs[orig.size()] = be16(m, 8);
    orig.insert(orig.end(), m.begin(), m.end());
  }
  // @ack: the ACK number, what this side's host has received of the other direction.
  Bytes frame(size_t from, size_t len, uint32_t ack) const {
    Bytes pay(orig.begin() + static_cast<long>(from), orig.begin() + static_cast<long>(from + len));
    return pkt::frame(saddr, daddr, pkt::kProtoTcp,
                      pkt::tcp(sport, dport, pay, 0x18, isn + static_cast<uint32_t>(from), ack));
  }
  // May the byte at stream position @i differ from the original? (@outbound: client -> server)
  bool rewritable(size_t i, bool outbound) const {
    if (sabotaged("pptp_rewrite")) return false;
    auto it = msgs.upper_bound(i);
    if (it == msgs.begin()) return false;
    --it;
    size_t off = i - it->first;
    uint16_t t = it->second;
    if (outbound) return (t == pptp::OCRQ || t == pptp::ICRP || t == pptp::CCRQ) && (off == 12 || off == 13);
    if (t == pptp::OCRP) return off == 14 || off == 15;
    return (t == pptp::ICCN || t == pptp::WEN || t == pptp::SLI) && (off == 12 || off == 13);
  }
};

struct ClientCall {
  uint16_t id;
  bool answered = false, connected = false;
  uint16_t server_id = 0;
};

struct Conn {
  uint32_t client = 0;
  Side up, down;                           // up: LAN hook, client -> server; down: WAN hook, server -> public IP
  std::map<uint16_t, ClientCall> calls;    // client's calls by its own id
  std::map<uint16_t, uint16_t> srv_calls;  // server: the id it knows the client's call by -> its own id
  uint16_t next_sid = 0;
  uint16_t id_base = 0;     // added to the client's Call IDs
  std::set<uint16_t> used;  // every Call ID the client used on this connection
};

constexpr uint16_t kIds = 20;  // Call IDs a burst uses: 1000..1019 (+ the connection's base)

struct PptpRig {
  TestRouter rt;
  Dataplane dp;
  model::Model m;  // its PPTP tables follow the maps, checked on every change
  std::mt19937_64 rng;
  std::vector<Conn> conns;
  std::map<uint16_t, size_t> live_at_server;  // server's view: live call id -> connection (C3)
  uint64_t segments = 0, held = 0, retransmits = 0, ahead = 0, gre_packets = 0, ocrps = 0, acks = 0;
  size_t most_rewrites = 0;  // the most rewritten fields one delivered segment carried
  bool corrupt = false;

  explicit PptpRig(uint64_t seed) : rng(seed) {
    dp.configure(kPub, rt.wan_ifindex);
    m.public_ip = kPub;
  }
  uint32_t u(uint32_t n) { return n ? static_cast<uint32_t>(rng() % n) : 0; }
  bool chance(uint32_t pct) { return u(100) < pct; }

  void connect(uint32_t client, uint16_t port, uint16_t pub_port, uint16_t id_base = 0) {
    Conn c;
    c.client = client;
    c.up.saddr = client, c.up.daddr = kSrv, c.up.sport = port, c.up.dport = 1723, c.up.isn = 1000u + u(1u << 30);
    c.down.saddr = kSrv, c.down.daddr = kPub, c.down.sport = 1723, c.down.dport = pub_port,
    c.down.isn = 5000u + u(1u << 30);
    c.next_sid = static_cast<uint16_t>(128 * conns.size());
    c.id_base = id_base;
    pptp::TcpFlow up{client, kSrv, port, 1723, c.up.isn - 1}, down{kSrv, kPub, 1723, pub_port, c.down.isn - 1};
    REQUIRE(run_xdp(dp.progs.lan_fd(), up.syn()).verdict == XDP_PASS);
    REQUIRE(0 == pptp::masquerade(up, down));
    REQUIRE(run_xdp(dp.progs.wan_fd(), down.syn_ack(up)).verdict == XDP_PASS);
    c.up.queue(pptp::message(pptp::SCCRQ));
    conns.push_back(std::move(c));
  }

  // Sends [from, from+len) of one side through its hook; checks C1, C2, C5's drop rule and C6.
  bool send(size_t ci, bool outbound, size_t from, size_t len) {
    Conn& c = conns[ci];
    Side& s = outbound ? c.up : c.down;
    Side& other = outbound ? c.down : c.up;
    Bytes in = s.frame(from, len, other.isn + static_cast<uint32_t>(other.sent));
    other.acked = other.sent;
    if (corrupt && chance(30)) mutate(in);
    uint32_t dir = outbound ? VPNPT_DIR_OUTBOUND : VPNPT_DIR_INBOUND;
    Snapshot before = snapshot(dp.progs);
    auto r = run_xdp(dp.hook_fd(dir), in, 1, outbound ? rt.lan_ifindex : rt.wan_ifindex);
    Snapshot after = snapshot(dp.progs);
    segments++;
    INFO("segment " << segments << (outbound ? " outbound" : " inbound") << " [" << from << ", " << from + len
                    << ") of connection " << ci << "\nin:\n"
                    << pkt::hex(in) << "\nout (" << verdict_name(r.verdict) << "):\n"
                    << pkt::hex(r.out));
    REQUIRE(r.err == 0);
    REQUIRE(r.out.size() == in.size());
    uint32_t reason = VPNPT_REASON_NONE;
    for (uint32_t k = 0; k < VPNPT_REASON_MAX; ++k)
      if (after.reasons[vpnpt_reason_index(dir, k)].packets != before.reasons[vpnpt_reason_index(dir, k)].packets)
        reason = k;
    INFO("reason " << reason_name(reason));
    REQUIRE((r.verdict == XDP_PASS || r.verdict == XDP_DROP));
    REQUIRE((r.verdict == XDP_DROP) == (reason != VPNPT_REASON_NONE && reason_verdict(reason) == "drop"));
    if (!corrupt && r.verdict == XDP_DROP)  // nothing else in a clean session
      REQUIRE((reason == VPNPT_REASON_PPTP_HELD || reason == VPNPT_REASON_PPTP_UNACKED));
    // C2: nothing but the payload and the TCP checksum changes, and the checksum stays valid.
    model::Parsed p = model::parse(in, 2);
    size_t pay = p.cls == VPNPT_CLASS_PPTP_CTRL ? p.l4 + (in[p.l4 + 12] >> 4) * 4u : in.size();
    for (size_t i = 0; i < std::min(pay, in.size()); ++i) {
      INFO("header byte " << i);
      if (!(p.cls == VPNPT_CLASS_PPTP_CTRL && (i == p.l4 + 16 || i == p.l4 + 17))) REQUIRE(r.out[i] == in[i]);
    }
    if (pkt::l4_checksum_ok(in)) REQUIRE(pkt::l4_checksum_ok(r.out));
    if (p.cls == VPNPT_CLASS_PPTP_CTRL) sync_pptp(m, dp, outbound ? std::optional<uint32_t>(c.client) : std::nullopt);
    if (r.verdict != XDP_PASS || corrupt) return r.verdict == XDP_PASS;
    // C1 + C2: the delivered bytes.
    std::set<size_t> fields;
    for (size_t i = 0; i < len; ++i) {
      uint8_t b = r.out[pptp::kTcpPayloadOffset + i];
      size_t pos = from + i;
      INFO("stream position " << pos);
      if (b != s.orig[pos]) {
        REQUIRE(s.rewritable(pos, outbound));
        fields.insert(pos & ~size_t{1});  // Call ID fields sit at even offsets of messages at even offsets
      }
      auto [it, fresh] = s.got.emplace(pos, b);
      if (pos >= s.acked)
        REQUIRE(it->second == b);  // a retransmission delivers exactly what was delivered before
      else
        REQUIRE((b == it->second || b == s.orig[pos]));
    }
    most_rewrites = std::max(most_rewrites, fields.size());
    return true;
  }

  void mutate(Bytes& f) {
    switch (u(5)) {
      case 0: f[pptp::kTcpPayloadOffset - 20 + 4 + u(4)] ^= static_cast<uint8_t>(1 + u(255)); break;  // sequence number
      case 1: f[pptp::kTcpPayloadOffset - 20 + 13] = static_cast<uint8_t>(rng()); break;              // flags
      case 2: f[pptp::kTcpPayloadOffset - 20 + 12] = static_cast<uint8_t>(u(16) << 4); break;         // data offset
      default:
        if (f.size() > pptp::kTcpPayloadOffset)
          f[pptp::kTcpPayloadOffset + u(static_cast<uint32_t>(f.size() - pptp::kTcpPayloadOffset))] ^=
              static_cast<uint8_t>(1 + u(255));
    }
    // Keep the TCP checksum right: a corrupted segment is what a hostile host sends, not line noise.
    f = pkt::ether(pkt::ipv4(ip_at(f, 26), ip_at(f, 30), pkt::kProtoTcp, Bytes(f.begin() + 34, f.end())));
  }
  static uint32_t ip_at(const Bytes& f, size_t off) {
    uint32_t a;
    std::memcpy(&a, &f[off], 4);
    return a;
  }

  // A pure ACK of what this side's host has received (TCP acks at least every second segment).
  void ack(size_t ci, bool outbound) {
    Side& s = outbound ? conns[ci].up : conns[ci].down;
    send(ci, outbound, s.sent, 0);
    acks++;
  }

  // One step of one side: a new segment, a retransmission, a segment ahead of a gap, or an ACK.
  void step(size_t ci, bool outbound) {
    Side& s = outbound ? conns[ci].up : conns[ci].down;
    size_t queued = s.orig.size();
    if (chance(s.sent >= queued ? 50 : 10)) {
      ack(ci, outbound);
      return;
    }
    if (s.sent > 0 && chance(10)) {  // retransmit something already delivered
      size_t from = s.sent - 1 - u(static_cast<uint32_t>(std::min<size_t>(s.sent, 300)));
      send(ci, outbound, from, 1 + u(static_cast<uint32_t>(s.sent - from)));
      retransmits++;
      return;
    }
    if (s.sent >= queued) return;
    size_t left = queued - s.sent;
    if (left > 2 && chance(5) && !s.held_len) {  // a later segment arrives first
      size_t from = s.sent + 1 + u(static_cast<uint32_t>(left - 1));
      if (send(ci, outbound, from, 1 + u(static_cast<uint32_t>(queued - from)))) ahead++;
      return;
    }
    size_t len;
    if (s.held_len) {
      len = std::min(left, s.held_len + 1 + u(40));  // TCP resends with more data
    } else {
      auto next_msg = s.msgs.upper_bound(s.sent);
      size_t to_msg_end = (next_msg == s.msgs.end() ? queued : next_msg->first) - s.sent;
      switch (u(4)) {
        case 0: len = to_msg_end; break;
        case 1: len = left; break;  // coalesced
        default: len = 1 + u(static_cast<uint32_t>(std::min<size_t>(left, 200)));
      }
    }
    if (send(ci, outbound, s.sent, len)) {
      s.sent += len;
      s.held_len = 0;
      s.held_tries = 0;
    } else {
      held++;
      s.held_len = len;
      INFO("held " << s.held_tries << " times at stream position " << s.sent << " with " << left << " bytes queued");
      REQUIRE((corrupt || ++s.held_tries < 64));  // C5
      if (corrupt && ++s.held_tries > 8) {        // a corrupted tracker may hold forever: give up on this connection
        s.sent = queued;
        s.held_len = 0;
      }
    }
    deliver(ci, outbound);
  }

  // The receiver handles the complete messages delivered so far.
  void deliver(size_t ci, bool outbound) {
    Conn& c = conns[ci];
    Side& s = outbound ? c.up : c.down;
    while (s.parsed + 16 <= s.sent) {
      size_t len = be16(s.orig, s.parsed);
      if (s.parsed + len > s.sent) break;
      Bytes msg;  // as delivered (corrupted runs: as sent, to keep both sides talking)
      for (size_t i = 0; i < len; ++i) msg.push_back(corrupt ? s.orig[s.parsed + i] : s.got.at(s.parsed + i));
      s.parsed += len;
      outbound ? server_gets(ci, msg) : client_gets(ci, msg);
    }
  }

  void server_gets(size_t ci, const Bytes& msg) {
    Conn& c = conns[ci];
    uint16_t type = be16(msg, 8), id = be16(msg, 12);
    switch (type) {
      case pptp::SCCRQ: c.down.queue(pptp::message(pptp::SCCRP)); break;
      case pptp::OCRQ: {
        // C3: the server never sees an id that names another live call.
        INFO("OCRQ for id " << id << " on connection " << ci);
        auto live = live_at_server.find(id);
        if (!corrupt) {
          REQUIRE((live == live_at_server.end() || live->second == ci));
          REQUIRE(c.srv_calls.count(id) == 0);
        }
        uint8_t result = chance(85) ? 1 : 2;
        uint16_t sid = c.next_sid++;
        if (result == 1) {
          c.srv_calls[id] = sid;
          live_at_server[id] = ci;
        }
        c.down.queue(pptp::ocrp(sid, id, result));
        if (result == 1 && chance(30)) c.down.queue(pptp::wen(id));
        break;
      }
      case pptp::CCRQ: {
        auto it = c.srv_calls.find(id);
        INFO("CCRQ for id " << id << " on connection " << ci);
        if (corrupt && it == c.srv_calls.end()) break;
        REQUIRE(it != c.srv_calls.end());  // the client cleared a call the server knows on this connection
        c.down.queue(pptp::cdn(it->second));
        live_at_server.erase(id);
        c.srv_calls.erase(it);
        break;
      }
      case pptp::ECHORQ: c.down.queue(pptp::message(pptp::ECHORP)); break;
      default: break;
    }
  }

  void client_gets(size_t ci, const Bytes& msg) {
    Conn& c = conns[ci];
    uint16_t type = be16(msg, 8);
    if (type == pptp::OCRP || type == pptp::WEN) {
      uint16_t peer = be16(msg, type == pptp::OCRP ? 14 : 12);
      auto it = c.calls.find(peer);
      INFO("client " << ci << " got message type " << type << " naming its call " << peer);
      if (corrupt && (it == c.calls.end() || it->second.answered)) return;
      REQUIRE(c.used.count(peer) == 1);  // C3: only ever a call of this client (a WEN may cross its CCRQ)
      if (type == pptp::WEN) return;
      REQUIRE(it != c.calls.end());
      if (type == pptp::OCRP) {
        ocrps++;
        REQUIRE(!it->second.answered);
        it->second.answered = true;
        it->second.server_id = be16(msg, 12);
        it->second.connected = msg[16] == 1;
        if (!it->second.connected) c.calls.erase(it);
      }
    }
  }

  // C4: GRE of a connected call, both ways.
  void gre(size_t ci) {
    Conn& c = conns[ci];
    for (auto& [id, call] : c.calls) {
      if (!call.connected) continue;
      uint16_t x = 0;
      for (auto& [sx, sid] : c.srv_calls)
        if (sid == call.server_id) x = sx;
      pkt::Ipv4Opts o;
      Bytes in = pkt::frame(kSrv, kPub, pkt::kProtoGre, pkt::gre_v1(x, Bytes(24, 0x5a), 1), o);
      auto r = run_xdp(dp.progs.wan_fd(), in, 1, rt.wan_ifindex);
      INFO("GRE for call " << id << " (server knows it as " << x << ") of connection " << ci);
      REQUIRE(r.verdict == XDP_REDIRECT);
      uint32_t dst;
      std::memcpy(&dst, &r.out[30], 4);
      REQUIRE(dst == c.client);
      REQUIRE(be16(r.out, 34 + 6) == (sabotaged("pptp_gre") ? id + 1 : id));
      Bytes out = pkt::frame(c.client, kSrv, pkt::kProtoGre, pkt::gre_v1(call.server_id, Bytes(24, 0x5b), 1), o);
      auto r2 = run_xdp(dp.progs.lan_fd(), out, 1, rt.lan_ifindex);
      REQUIRE(r2.verdict == XDP_REDIRECT);
      gre_packets += 2;
    }
  }

  // The client's next move: a call, a clear, an echo.
  void client_acts(size_t ci) {
    Conn& c = conns[ci];
    uint32_t what = u(10);
    if (what == 9 && chance(30)) {
      // A burst: a call on every id not in use, queued at once (a dialer retrying after an outage).
      for (uint16_t k = 0; k < kIds; ++k) {
        uint16_t id = static_cast<uint16_t>(1000 + k + c.id_base);
        if (c.calls.count(id)) continue;
        c.calls[id] = ClientCall{id};
        c.used.insert(id);
        c.up.queue(pptp::ocrq(id));
      }
    } else if (what < 4 && c.calls.size() < 4) {
      // Every host on the same ids; a host's second connection on others (see the known issue below).
      uint16_t id =
          static_cast<uint16_t>(std::initializer_list<uint16_t>{1000, 1001, 0, 1002}.begin()[u(4)] + c.id_base);
      if (c.calls.count(id)) return;
      c.calls[id] = ClientCall{id};
      c.used.insert(id);
      c.up.queue(pptp::ocrq(id));
    } else if (what < 6) {
      for (auto it = c.calls.begin(); it != c.calls.end(); ++it)
        if (it->second.connected) {
          c.up.queue(pptp::ccrq(it->first));
          c.calls.erase(it);
          return;
        }
    } else if (what < 7) {
      c.up.queue(pptp::message(pptp::ECHORQ));
    }
  }

  void run(uint64_t steps) {
    for (uint64_t i = 0; i < steps; ++i) {
      size_t ci = u(static_cast<uint32_t>(conns.size()));
      switch (u(6)) {
        case 0: client_acts(ci); break;
        case 1:
          if (!corrupt) gre(ci);
          break;
        case 2:
        case 3: step(ci, true); break;
        default: step(ci, false);
      }
    }
  }

  // C5: every queued byte gets through once TCP keeps resending.
  void drain() {
    for (int round = 0; round < 400; ++round) {
      bool busy = false;
      for (size_t ci = 0; ci < conns.size(); ++ci)
        for (bool out : {true, false}) {
          Side& s = out ? conns[ci].up : conns[ci].down;
          if (s.sent < s.orig.size()) {
            busy = true;
            ack(ci, !out);  // the receiver acknowledges what it has
            step(ci, out);
          }
        }
      if (!busy) return;
    }
    FAIL("control streams still not delivered after 400 rounds");
  }
};

void setup(PptpRig& g) {
  const uint32_t a = ip(TestRouter::kClient.ip), b = ip(TestRouter::kClient2.ip);
  // Two clients, two connections each, all on the same Call IDs (1000, 1001, 0, 1002).
  g.connect(a, 40000, 40000);
  g.connect(b, 40000, 40001);
  g.connect(a, 40001, 40002, 5000);
  g.connect(b, 40002, 40003, 5000);
}

}  // namespace

TEST_CASE("property: random PPTP control sessions, cut and resent at random, translate exactly",
          "[property][pptp][netns]") {
  uint64_t seed = property_seed();
  uint64_t steps = property_packets(4000);
  std::cout << "property pptp control: seed " << seed << " (VPNPT_PROPERTY_SEED), " << steps
            << " steps (VPNPT_PROPERTY_PACKETS)" << std::endl;
  PptpRig g(seed);
  setup(g);
  g.run(steps);
  g.drain();
  for (size_t ci = 0; ci < g.conns.size(); ++ci) g.gre(ci);
  std::cout << "property pptp control: " << g.segments << " segments (" << g.held << " held, " << g.retransmits
            << " retransmissions, " << g.ahead << " ahead of a gap passed), " << g.ocrps << " OCRPs, " << g.gre_packets
            << " GRE packets, " << g.m.calls.size() << " calls in the table, " << g.acks << " pure ACKs, up to "
            << g.most_rewrites << " rewrites in one segment" << std::endl;
  CHECK(g.ocrps > 10);
  CHECK(g.most_rewrites > 8);
  CHECK(g.gre_packets > 10);
}

TEST_CASE("property: corrupted PPTP control segments never break the safety rules", "[property][pptp][netns]") {
  uint64_t seed = property_seed() + 1;
  uint64_t steps = property_packets(4000);
  std::cout << "property pptp control (corrupted): seed " << seed << ", " << steps << " steps" << std::endl;
  PptpRig g(seed);
  g.corrupt = true;
  setup(g);
  g.run(steps);
  std::cout << "property pptp control (corrupted): " << g.segments << " segments, " << g.held << " held, "
            << g.m.calls.size() << " calls in the table" << std::endl;
}
