// PPTP control messages through the real programs: which Call IDs are
// rewritten in which direction, that TCP checksums stay exact, and that
// split, coalesced and retransmitted messages come out right. Expected
// frames are built independently (the builder recomputes checksums from
// scratch), so an incremental-checksum slip shows as a byte difference.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <catch2/catch.hpp>

#include "loader/proto/pptp/pptp_table.h"
#include "conntrack_util.h"
#include "pptp_builder.h"
#include "fixtures.h"
#include "prog_runner.h"

using namespace vpnpt;
using namespace vpnpt::test;
using pkt::Bytes;
using pkt::ip;

namespace {

struct Pptp {
  PrivateNetns ns;  // first: its conntrack holds the control connections
  Dataplane dp;
  Pptp() { dp.configure(kPub); }

  RunResult out(const Bytes& f) { return run_xdp(dp.progs.lan_fd(), f); }
  RunResult in(const Bytes& f) { return run_xdp(dp.progs.wan_fd(), f); }

  // A client's control connection: LAN side (client -> server) and WAN side (server -> public IP).
  struct Conn {
    pptp::TcpFlow up, down;
  };
  Conn connect(uint32_t client, uint16_t port, uint16_t public_port) {
    Conn c{{client, kSrv, port, 1723, 5000}, {kSrv, kPub, 1723, public_port, 9000}};
    REQUIRE(out(c.up.syn()).verdict == XDP_PASS);
    REQUIRE(0 == pptp::masquerade(c.up, c.down));
    REQUIRE(in(c.down.syn_ack(c.up)).verdict == XDP_PASS);
    INFO("unknown_conn " << dp.reason(VPNPT_REASON_PPTP_UNKNOWN_CONN) << ", out_of_window "
                         << dp.reason(VPNPT_REASON_PPTP_OUT_OF_WINDOW));
    REQUIRE(tracked(c.down));  // the SYN-ACK synced the WAN side
    return c;
  }

  bool tracked(const pptp::TcpFlow& f) {
    vpnpt_pptp_stream_key k{f.saddr, f.daddr, htons(f.sport), htons(f.dport)};
    vpnpt_pptp_stream s{};
    return bpf_map_lookup_elem(dp.map_fd(VPNPT_MAP_PPTP_STREAMS), &k, &s) == 0;
  }

  // The translated id the server sees for (client, call id), from the map.
  // (Whatever control connection it came on: these tests use one per client.)
  uint16_t xlat_of(uint32_t client, uint16_t call_id) {
    for (const auto& [xlat, c] : live_pptp_calls(dp.map_fd(VPNPT_MAP_PPTP_CALLS)))
      if (c.client == client && c.server == kSrv && c.client_call_id == htons(call_id) &&
          c.state != VPNPT_PPTP_CALL_CLOSING)
        return xlat;
    FAIL("no translated id for that client and Call ID");
    return 0;
  }

  bool call_state(uint16_t xlat, vpnpt_pptp_call* out) {
    uint32_t k = xlat;
    return bpf_map_lookup_elem(dp.map_fd(VPNPT_MAP_PPTP_CALLS), &k, out) == 0 && out->state != VPNPT_PPTP_CALL_FREE &&
           out->server == kSrv;
  }
};

// Sends @payload as one segment and requires it to pass rewritten into @expect.
void require_pass_as(Pptp& t, bool outbound, pptp::TcpFlow& f, const Bytes& payload, const Bytes& expect) {
  uint32_t seq = f.next;
  Bytes in = f.data(payload);
  auto r = outbound ? t.out(in) : t.in(in);
  REQUIRE(r.err == 0);
  REQUIRE(std::string(verdict_name(r.verdict)) == "XDP_PASS");
  Bytes want = f.data_at(seq, expect);
  INFO("got:\n" << pkt::hex(r.out) << "\nwant:\n" << pkt::hex(want));
  REQUIRE(pkt::ipv4_checksum_ok(r.out));
  REQUIRE(pkt::l4_checksum_ok(r.out));
  REQUIRE(r.out == want);
}

}  // namespace

TEST_CASE("PPTP: a lone client keeps its Call ID, nothing is rewritten", "[pptp][ctrl]") {
  Pptp t;
  auto a = t.connect(kA, 40000, 40000);
  require_pass_as(t, true, a.up, pptp::message(pptp::SCCRQ), pptp::message(pptp::SCCRQ));
  require_pass_as(t, true, a.up, pptp::ocrq(1000), pptp::ocrq(1000));
  CHECK(t.xlat_of(kA, 1000) == 1000);
  require_pass_as(t, false, a.down, pptp::ocrp(0, 1000), pptp::ocrp(0, 1000));
  vpnpt_pptp_call call{};
  REQUIRE(t.call_state(1000, &call));
  CHECK(call.state == VPNPT_PPTP_CALL_ESTABLISHED);
  CHECK(call.client == kA);
  CHECK(ntohs(call.server_call_id) == 0);  // pptpd's first id is 0: a valid id, not "unset"
  CHECK(ntohs(call.ctrl_public_port) == 40000);
}

TEST_CASE("PPTP: clients colliding on a Call ID are told apart by the server", "[pptp][ctrl]") {
  Pptp t;
  auto a = t.connect(kA, 40000, 40000);
  auto b = t.connect(kB, 40000, 40001);  // same client port: masquerade picks another public port
  require_pass_as(t, true, a.up, pptp::ocrq(1000), pptp::ocrq(1000));

  // B's 1000 is taken toward this server: it gets another id.
  uint32_t seq = b.up.next;
  auto r = t.out(b.up.data(pptp::ocrq(1000)));
  REQUIRE(r.verdict == XDP_PASS);
  uint16_t tb = pptp::be16_at(r.out, pptp::kTcpPayloadOffset + 12);
  CHECK(tb != 1000);
  CHECK(tb != 0);
  CHECK(t.xlat_of(kB, 1000) == tb);
  CHECK(r.out == b.up.data_at(seq, pptp::ocrq(tb)));
  CHECK(pkt::l4_checksum_ok(r.out));

  SECTION("every server-to-client message naming the call maps back") {
    require_pass_as(t, false, b.down, pptp::ocrp(128, tb), pptp::ocrp(128, 1000));
    require_pass_as(t, false, a.down, pptp::ocrp(0, 1000), pptp::ocrp(0, 1000));
    require_pass_as(t, false, b.down, pptp::iccn(tb), pptp::iccn(1000));
    require_pass_as(t, false, b.down, pptp::wen(tb), pptp::wen(1000));
    require_pass_as(t, false, b.down, pptp::sli(tb), pptp::sli(1000));
    vpnpt_pptp_call call{};
    REQUIRE(t.call_state(tb, &call));
    CHECK(call.client == kB);
    CHECK(ntohs(call.client_call_id) == 1000);
    CHECK(ntohs(call.server_call_id) == 128);
    CHECK(call.state == VPNPT_PPTP_CALL_ESTABLISHED);
  }
  SECTION("the client's Call-Clear-Request is translated, the server's CDN id is its own") {
    require_pass_as(t, false, b.down, pptp::ocrp(128, tb), pptp::ocrp(128, 1000));
    require_pass_as(t, true, b.up, pptp::ccrq(1000), pptp::ccrq(tb));
    require_pass_as(t, false, b.down, pptp::cdn(128), pptp::cdn(128));
  }
  SECTION("the client's Set-Link-Info carries the server's id: untouched") {
    require_pass_as(t, true, b.up, pptp::sli(128), pptp::sli(128));
  }
  SECTION("a failed call (result 2) is closed, later GRE for it is not delivered") {
    require_pass_as(t, false, b.down, pptp::ocrp(128, tb, 2), pptp::ocrp(128, 1000, 2));
    vpnpt_pptp_call call{};
    REQUIRE(t.call_state(tb, &call));
    CHECK(call.state == VPNPT_PPTP_CALL_CLOSING);
  }
}

TEST_CASE("PPTP: an incoming call is set up by the client's Incoming-Call-Reply", "[pptp][ctrl]") {
  Pptp t;
  auto a = t.connect(kA, 40000, 40000);
  auto b = t.connect(kB, 40000, 40001);
  require_pass_as(t, true, a.up, pptp::ocrq(7), pptp::ocrq(7));
  require_pass_as(t, false, b.down, pptp::icrq(300), pptp::icrq(300));  // server's id: untouched
  uint32_t seq = b.up.next;
  auto r = t.out(b.up.data(pptp::icrp(7, 300)));
  uint16_t tb = pptp::be16_at(r.out, pptp::kTcpPayloadOffset + 12);
  CHECK(tb != 7);
  CHECK(r.out == b.up.data_at(seq, pptp::icrp(tb, 300)));  // @14 (the server's id) untouched
  require_pass_as(t, false, b.down, pptp::iccn(tb), pptp::iccn(7));
  vpnpt_pptp_call call{};
  REQUIRE(t.call_state(tb, &call));
  CHECK(call.state == VPNPT_PPTP_CALL_ESTABLISHED);
  CHECK(ntohs(call.server_call_id) == 300);
  // The connection's public port, which the server's Call-Disconnect-Notify is matched by.
  CHECK(ntohs(call.ctrl_public_port) == 40001);
}

TEST_CASE("PPTP: TCP may cut and glue messages anywhere", "[pptp][ctrl][tcp]") {
  Pptp t;
  auto a = t.connect(kA, 40000, 40000);
  auto b = t.connect(kB, 40000, 40001);
  require_pass_as(t, true, a.up, pptp::ocrq(1000), pptp::ocrq(1000));
  require_pass_as(t, true, a.up, pptp::ocrq(1001), pptp::ocrq(1001));

  SECTION("a Call ID field split across segments: held until its value is known") {
    Bytes msg = pptp::ocrq(1000);
    uint32_t s0 = b.up.next;
    Bytes part1 = pptp::slice(msg, 0, 13), part2 = pptp::slice(msg, 13, msg.size() - 13);
    auto r1 = t.out(b.up.data_at(s0, part1));
    CHECK(std::string(verdict_name(r1.verdict)) == "XDP_DROP");  // carries half a field of unknown value
    CHECK(t.dp.reason(VPNPT_REASON_PPTP_HELD) == 1);
    auto r2 = t.out(b.up.data_at(s0 + 13, part2));  // the rest arrives (TCP sent it already)
    REQUIRE(r2.verdict == XDP_PASS);
    uint16_t tb = t.xlat_of(kB, 1000);
    REQUIRE(tb != 1000);
    Bytes want = pptp::ocrq(tb);
    CHECK(r2.out == b.up.data_at(s0 + 13, pptp::slice(want, 13, want.size() - 13)));
    auto r3 = t.out(b.up.data_at(s0, part1));  // TCP resends the held part
    REQUIRE(r3.verdict == XDP_PASS);
    CHECK(r3.out == b.up.data_at(s0, pptp::slice(want, 0, 13)));
    CHECK(pkt::l4_checksum_ok(r2.out));
    CHECK(pkt::l4_checksum_ok(r3.out));
  }
  SECTION("a header split before the Call ID passes at once") {
    Bytes msg = pptp::ocrq(1000);
    uint32_t s0 = b.up.next;
    auto r1 = t.out(b.up.data_at(s0, pptp::slice(msg, 0, 10)));
    REQUIRE(r1.verdict == XDP_PASS);
    auto r2 = t.out(b.up.data_at(s0 + 10, pptp::slice(msg, 10, msg.size() - 10)));
    REQUIRE(r2.verdict == XDP_PASS);
    Bytes want = pptp::ocrq(t.xlat_of(kB, 1000));
    CHECK(r1.out == b.up.data_at(s0, pptp::slice(want, 0, 10)));
    CHECK(r2.out == b.up.data_at(s0 + 10, pptp::slice(want, 10, want.size() - 10)));
  }
  SECTION("two requests and a clear in one segment") {
    uint32_t s0 = b.up.next;
    Bytes three = pptp::cat(pptp::cat(pptp::ocrq(1000), pptp::ocrq(1001)), pptp::message(pptp::ECHORQ));
    auto r = t.out(b.up.data(three));
    REQUIRE(r.verdict == XDP_PASS);
    uint16_t t0 = t.xlat_of(kB, 1000), t1 = t.xlat_of(kB, 1001);
    CHECK(t0 != 1000);
    CHECK(t1 != 1001);
    CHECK(t0 != t1);
    Bytes want = pptp::cat(pptp::cat(pptp::ocrq(t0), pptp::ocrq(t1)), pptp::message(pptp::ECHORQ));
    CHECK(r.out == b.up.data_at(s0, want));
    require_pass_as(t, true, b.up, pptp::cat(pptp::ccrq(1000), pptp::ccrq(1001)),
                    pptp::cat(pptp::ccrq(t0), pptp::ccrq(t1)));
  }
  SECTION("retransmissions come out identical, also when cut differently") {
    uint32_t s0 = b.up.next;
    Bytes msg = pptp::cat(pptp::ocrq(1000), pptp::ccrq(1000));
    auto first = t.out(b.up.data(msg));
    REQUIRE(first.verdict == XDP_PASS);
    uint16_t tb = t.xlat_of(kB, 1000);
    Bytes want = pptp::cat(pptp::ocrq(tb), pptp::ccrq(tb));
    CHECK(first.out == b.up.data_at(s0, want));
    auto again = t.out(b.up.data_at(s0, msg));
    CHECK(again.out == first.out);
    // Re-segmented: pieces cutting through both Call ID fields.
    for (size_t cut : {size_t{5}, size_t{12}, size_t{13}, size_t{168 + 13}, size_t{170}}) {
      INFO("cut at " << cut);
      auto p1 = t.out(b.up.data_at(s0, pptp::slice(msg, 0, cut)));
      auto p2 = t.out(b.up.data_at(s0 + static_cast<uint32_t>(cut), pptp::slice(msg, cut, msg.size() - cut)));
      REQUIRE(p1.verdict == XDP_PASS);
      REQUIRE(p2.verdict == XDP_PASS);
      CHECK(p1.out == b.up.data_at(s0, pptp::slice(want, 0, cut)));
      CHECK(p2.out == b.up.data_at(s0 + static_cast<uint32_t>(cut), pptp::slice(want, cut, want.size() - cut)));
    }
    CHECK(t.dp.entries(VPNPT_MAP_PPTP_CALLS) == 3);  // no extra allocation by the retransmissions
  }
}

TEST_CASE("PPTP: a client cannot name another client's call", "[pptp][ctrl]") {
  Pptp t;
  auto a = t.connect(kA, 40000, 40000);
  auto b = t.connect(kB, 40001, 40001);
  require_pass_as(t, true, a.up, pptp::ocrq(1000), pptp::ocrq(1000));
  // B clears "1000", which it never set up and which is A's id toward this server.
  auto r = t.out(b.up.data(pptp::ccrq(1000)));
  CHECK(std::string(verdict_name(r.verdict)) == "XDP_DROP");
  CHECK(t.dp.reason(VPNPT_REASON_PPTP_FOREIGN_ID) == 1);
  vpnpt_pptp_call call{};
  REQUIRE(t.call_state(1000, &call));
  CHECK(call.client == kA);
}

TEST_CASE("PPTP: a call whose every candidate id is taken fails alone", "[pptp][ctrl]") {
  Pptp t;
  // Every translated id the allocator may give (client A, port 40000, Call ID 1000)
  // is another client's: that call is refused, counted, and its segment held.
  int fd = t.dp.map_fd(VPNPT_MAP_PPTP_CALLS);
  vpnpt_pptp_call other{};
  other.client = ip("192.168.1.99");
  other.server = kSrv;
  other.state = VPNPT_PPTP_CALL_ESTABLISHED;
  for (uint32_t i = 0; i < VPNPT_PPTP_ALLOC_PROBES; ++i) {
    uint32_t idx = vpnpt_pptp_candidate(kA, kSrv, htons(40000), htons(1000), i);
    other.client_call_id = htons(static_cast<uint16_t>(idx));
    REQUIRE(bpf_map_update_elem(fd, &idx, &other, BPF_ANY) == 0);
  }

  auto a = t.connect(kA, 40000, 40000);
  auto r = t.out(a.up.data(pptp::ocrq(1000)));
  CHECK(std::string(verdict_name(r.verdict)) == "XDP_DROP");
  CHECK(t.dp.reason(VPNPT_REASON_PPTP_ID_EXHAUSTED) == 1);
  CHECK(live_pptp_calls(fd).size() == VPNPT_PPTP_ALLOC_PROBES);  // nothing was overwritten
  // Another call of the same client has other candidates and goes through.
  pptp::TcpFlow other_up{kA, ip("198.51.100.5"), 40002, 1723, 77};
  REQUIRE(t.out(other_up.syn()).verdict == XDP_PASS);
  auto r2 = t.out(other_up.data(pptp::ocrq(1000)));
  CHECK(r2.verdict == XDP_PASS);
  CHECK(live_pptp_calls(fd).size() == VPNPT_PPTP_ALLOC_PROBES + 1);
}

TEST_CASE("PPTP: streams that are not PPTP, and switched-off passthrough, pass untouched", "[pptp][ctrl]") {
  Pptp t;
  auto a = t.connect(kA, 40000, 40000);
  SECTION("bad magic cookie") {
    Bytes m = pptp::ocrq(1000);
    m[4] = 0;
    Bytes in = a.up.data(m);
    auto r = t.out(in);
    CHECK(r.verdict == XDP_PASS);
    CHECK(r.out == in);
    CHECK(t.dp.reason(VPNPT_REASON_PPTP_BAD_MSG) == 1);
    CHECK(t.dp.entries(VPNPT_MAP_PPTP_CALLS) == 0);
  }
  SECTION("PPTP switched off") {
    t.dp.configure(kPub, 0, VPNPT_SW_ALL & ~VPNPT_SW_PPTP);
    Bytes in = a.up.data(pptp::ocrq(1000));
    auto r = t.out(in);
    CHECK(r.verdict == XDP_PASS);
    CHECK(r.out == in);
    CHECK(t.dp.reason(VPNPT_REASON_PPTP_OFF) == 1);
    CHECK(t.dp.entries(VPNPT_MAP_PPTP_CALLS) == 0);
  }
}

TEST_CASE("PPTP: a connection older than vpnpt is picked up at a message boundary", "[pptp][ctrl]") {
  Pptp t;
  pptp::TcpFlow up{kA, kSrv, 40000, 1723, 123456};
  up.next = 123456 + 500;                                   // no SYN seen
  Bytes mid = up.data(pptp::slice(pptp::ocrq(5), 20, 30));  // middle of a message: cannot sync here
  auto r0 = t.out(mid);
  CHECK(r0.verdict == XDP_PASS);
  CHECK(r0.out == mid);
  require_pass_as(t, true, up, pptp::ocrq(1000), pptp::ocrq(1000));  // starts with a header: tracked
  CHECK(t.dp.entries(VPNPT_MAP_PPTP_CALLS) == 1);
}

TEST_CASE("PPTP: a Call ID reused while its old call is closing starts a new call", "[pptp][ctrl]") {
  Pptp t;
  auto b = t.connect(kB, 40000, 40001);
  SECTION("after the server refused the first request") {
    uint16_t t1 = [&] {
      auto r = t.out(b.up.data(pptp::ocrq(1000)));
      return pptp::be16_at(r.out, pptp::kTcpPayloadOffset + 12);
    }();
    require_pass_as(t, false, b.down, pptp::ocrp(128, t1, 2), pptp::ocrp(128, 1000, 2));  // refused
    uint32_t seq = b.up.next;
    auto r = t.out(b.up.data(pptp::ocrq(1000)));  // the client retries with the same id
    uint16_t t2 = pptp::be16_at(r.out, pptp::kTcpPayloadOffset + 12);
    CHECK(t2 != t1);  // the refused call keeps its id reserved for the grace period
    CHECK(r.out == b.up.data_at(seq, pptp::ocrq(t2)));
    require_pass_as(t, false, b.down, pptp::ocrp(129, t2), pptp::ocrp(129, 1000));
    vpnpt_pptp_call call{};
    REQUIRE(t.call_state(t2, &call));
    CHECK(call.state == VPNPT_PPTP_CALL_ESTABLISHED);
    REQUIRE(t.call_state(t1, &call));
    CHECK(call.state == VPNPT_PPTP_CALL_CLOSING);
    CHECK(t.xlat_of(kB, 1000) == t2);
  }
  SECTION("a duplicate request for a live call still gets the same id") {
    auto r1 = t.out(b.up.data(pptp::ocrq(1000)));
    auto r2 = t.out(b.up.data(pptp::ocrq(1000)));
    CHECK(pptp::be16_at(r1.out, pptp::kTcpPayloadOffset + 12) == pptp::be16_at(r2.out, pptp::kTcpPayloadOffset + 12));
    CHECK(t.dp.entries(VPNPT_MAP_PPTP_CALLS) == 1);
  }
}

TEST_CASE("PPTP: 18000 calls of 30 hosts that all number their calls 1, 2, 3... each get an id", "[pptp][ctrl]") {
  // Every host's own ids collide with every other host's: all but the first host's
  // calls are translated, through the hashed candidates. At 27 % of the table no
  // call may be refused (a stride sequence through the dense low ids once was).
  Pptp t;
  constexpr uint32_t kHosts = 30, kCalls = 600;
  for (uint32_t h = 0; h < kHosts; ++h) {
    const uint32_t host = htonl(ntohl(ip("192.168.2.10")) + h);
    pptp::TcpFlow up{host, kSrv, 40000, 1723, 100};
    REQUIRE(t.out(up.syn()).verdict == XDP_PASS);
    for (uint32_t c = 1; c <= kCalls; ++c) {
      auto r = t.out(up.data(pptp::ocrq(static_cast<uint16_t>(c))));
      REQUIRE(r.verdict == XDP_PASS);
    }
  }
  CHECK(t.dp.reason(VPNPT_REASON_PPTP_ID_EXHAUSTED) == 0);
  auto calls = live_pptp_calls(t.dp.map_fd(VPNPT_MAP_PPTP_CALLS));
  CHECK(calls.size() == kHosts * kCalls);
  size_t own = 0;
  for (const auto& [xlat, c] : calls) own += xlat == ntohs(c.client_call_id);
  CHECK(own == kCalls);  // the first host to use an id keeps it
}

// ---- The WAN edge: anyone on the internet can send TCP "from" a server's port 1723.

namespace {

// A TCP segment server:1723 -> public address, any flags and numbers.
Bytes from_server(uint16_t public_port, uint8_t flags, uint32_t seq, uint32_t ack, const Bytes& payload = {}) {
  return pkt::frame(kSrv, kPub, pkt::kProtoTcp, pkt::tcp(1723, public_port, payload, flags, seq, ack));
}

}  // namespace

TEST_CASE("PPTP WAN edge: 20,000 spoofed SYNs from a server's port do not lock the LAN out", "[pptp][ctrl][edge]") {
  Pptp t;
  const int streams_before = static_cast<int>(t.dp.entries(VPNPT_MAP_PPTP_STREAMS));
  // About 1 MB of pure SYNs "from" the server's 1723 to every public port, then SYN-ACKs and
  // segments that start with a PPTP header: none belongs to a connection a LAN host opened.
  for (uint32_t i = 0; i < 20000; ++i)
    REQUIRE(t.in(from_server(static_cast<uint16_t>(1024 + i), 0x02, i * 7919u, 0)).verdict == XDP_PASS);
  for (uint32_t i = 0; i < 2000; ++i) {
    REQUIRE(t.in(from_server(static_cast<uint16_t>(1024 + i), 0x12, i, i + 1)).verdict == XDP_PASS);
    REQUIRE(t.in(from_server(static_cast<uint16_t>(30000 + i), 0x18, i, 1, pptp::message(pptp::SCCRP))).verdict ==
            XDP_PASS);
  }
  CHECK(static_cast<int>(t.dp.entries(VPNPT_MAP_PPTP_STREAMS)) == streams_before);
  CHECK(t.dp.reason(VPNPT_REASON_PPTP_UNKNOWN_CONN) == 24000);
  CHECK(t.dp.reason(VPNPT_REASON_PPTP_STREAM_FULL) == 0);

  // Five LAN hosts still open control connections and place calls.
  for (uint32_t h = 0; h < 5; ++h) {
    uint32_t host = htonl(ntohl(kA) + 10 + h);
    auto c = t.connect(host, static_cast<uint16_t>(41000 + h), static_cast<uint16_t>(41000 + h));
    REQUIRE(t.out(c.up.data(pptp::ocrq(7))).verdict == XDP_PASS);
    uint16_t x = t.xlat_of(host, 7);
    require_pass_as(t, false, c.down, pptp::ocrp(static_cast<uint16_t>(h), x), pptp::ocrp(static_cast<uint16_t>(h), 7));
  }
  CHECK(t.dp.entries(VPNPT_MAP_PPTP_CALLS) == 5);
}

TEST_CASE("PPTP WAN edge: a SYN-ACK syncs the WAN side only if it answers the client's SYN", "[pptp][ctrl][edge]") {
  Pptp t;
  pptp::TcpFlow up{kA, kSrv, 40000, 1723, 5000}, down{kSrv, kPub, 1723, 40000, 9000};
  REQUIRE(t.out(up.syn()).verdict == XDP_PASS);
  REQUIRE(0 == pptp::masquerade(up, down));

  SECTION("a SYN-ACK acknowledging another sequence number, or a pure SYN, is ignored") {
    CHECK(t.in(from_server(40000, 0x12, 777, up.isn + 2)).verdict == XDP_PASS);
    CHECK(t.in(from_server(40000, 0x02, 777, 0)).verdict == XDP_PASS);
    CHECK_FALSE(t.tracked(down));
    CHECK(t.dp.reason(VPNPT_REASON_PPTP_OUT_OF_WINDOW) == 2);
    // The real answer still syncs it.
    CHECK(t.in(down.syn_ack(up)).verdict == XDP_PASS);
    CHECK(t.tracked(down));
  }
  SECTION("once the client spoke, a SYN-ACK cannot resync the server's stream") {
    REQUIRE(t.in(down.syn_ack(up)).verdict == XDP_PASS);
    require_pass_as(t, true, up, pptp::ocrq(1000), pptp::ocrq(1000));
    // A spoofed SYN-ACK at another sequence number (acking the old SYN) would move the tracker
    // away from the server's real stream; the real OCRP must still be rewritten.
    CHECK(t.in(from_server(40000, 0x12, 123456789, up.isn + 1)).verdict == XDP_PASS);
    CHECK(t.dp.reason(VPNPT_REASON_PPTP_OUT_OF_WINDOW) == 1);
    require_pass_as(t, false, down, pptp::ocrp(3, 1000), pptp::ocrp(3, 1000));
    vpnpt_pptp_call call{};
    REQUIRE(t.call_state(1000, &call));
    CHECK(call.state == VPNPT_PPTP_CALL_ESTABLISHED);
  }
}

TEST_CASE("PPTP WAN edge: FIN and RST count only inside the window", "[pptp][ctrl][edge]") {
  Pptp t;
  auto a = t.connect(kA, 40000, 40000);
  require_pass_as(t, true, a.up, pptp::ocrq(1000), pptp::ocrq(1000));
  require_pass_as(t, false, a.down, pptp::ocrp(0, 1000), pptp::ocrp(0, 1000));
  auto flags = [&](const pptp::TcpFlow& f) {
    vpnpt_pptp_stream_key k{f.saddr, f.daddr, htons(f.sport), htons(f.dport)};
    vpnpt_pptp_stream s{};
    REQUIRE(bpf_map_lookup_elem(t.dp.map_fd(VPNPT_MAP_PPTP_STREAMS), &k, &s) == 0);
    return s.t.flags;
  };

  // 20 RSTs and 20 FINs at sequence numbers beyond the window, and behind it.
  for (uint32_t i = 0; i < 20; ++i) {
    CHECK(t.in(from_server(40000, 0x04, a.down.next + 70000 + i * 100000, 0)).verdict == XDP_PASS);
    CHECK(t.in(from_server(40000, 0x11, a.down.next - 1 - i * 1000, 1)).verdict == XDP_PASS);
  }
  CHECK(t.dp.reason(VPNPT_REASON_PPTP_OUT_OF_WINDOW) == 40);
  CHECK_FALSE(flags(a.down) & VPNPT_PPTP_STREAM_FIN);
  // The call still translates.
  require_pass_as(t, false, a.down, pptp::sli(1000), pptp::sli(1000));

  SECTION("a RST at the stream's position ends the connection") {
    CHECK(t.in(from_server(40000, 0x04, a.down.next, 0)).verdict == XDP_PASS);
    CHECK(flags(a.down) & VPNPT_PPTP_STREAM_FIN);
  }
  SECTION("a RST a little ahead (in window) ends it too, as the kernel's conntrack would") {
    CHECK(t.in(from_server(40000, 0x04, a.down.next + 1000, 0)).verdict == XDP_PASS);
    CHECK(flags(a.down) & VPNPT_PPTP_STREAM_FIN);
  }
  SECTION("the client's FIN after its data, and a retransmission of it, end it") {
    CHECK(t.out(a.up.fin()).verdict == XDP_PASS);
    CHECK(flags(a.up) & VPNPT_PPTP_STREAM_FIN);
  }
}

// ---- Issue 17, finding 9: a ring of 8 remembered rewrites once held every retransmission
// after 8 newer ones, and any segment carrying more than 8, forever.

TEST_CASE("PPTP: more than 8 rewrites in flight never stall a connection", "[pptp][ctrl][tcp]") {
  Pptp t;
  auto a = t.connect(kA, 40000, 40000);
  auto b = t.connect(kB, 40000, 40001);
  constexpr uint16_t kN = 70;
  // A holds ids 1..kN toward the server, so every message naming one of B's calls 1..kN is a rewrite.
  for (uint16_t i = 1; i <= kN; ++i) REQUIRE(t.out(a.up.data(pptp::ocrq(i))).verdict == XDP_PASS);
  auto server_acks = [&] {  // the server acknowledges all of B's stream it got
    b.down.ack = b.up.next;
    REQUIRE(t.in(b.down.ack_only()).verdict == XDP_PASS);
  };

  SECTION("20 requests in one segment, and the server's 20 answers in one") {
    Bytes reqs, want_reqs, answers, want_answers;
    for (uint16_t i = 1; i <= 20; ++i) reqs = pptp::cat(reqs, pptp::ocrq(i));
    uint32_t s0 = b.up.next;
    auto r = t.out(b.up.data(reqs));
    REQUIRE(std::string(verdict_name(r.verdict)) == "XDP_PASS");
    for (uint16_t i = 1; i <= 20; ++i) {
      uint16_t x = t.xlat_of(kB, i);
      CHECK(x != i);
      want_reqs = pptp::cat(want_reqs, pptp::ocrq(x));
      answers = pptp::cat(answers, pptp::ocrp(static_cast<uint16_t>(100 + i), x));
      want_answers = pptp::cat(want_answers, pptp::ocrp(static_cast<uint16_t>(100 + i), i));
    }
    CHECK(r.out == b.up.data_at(s0, want_reqs));
    require_pass_as(t, false, b.down, answers, want_answers);
    auto again = t.out(b.up.data_at(s0, reqs));
    CHECK(again.out == r.out);
  }
  SECTION("a retransmission after 40 newer rewrites comes out identical") {
    uint32_t s0 = b.up.next;
    auto first = t.out(b.up.data(pptp::ocrq(1)));
    REQUIRE(first.verdict == XDP_PASS);
    for (uint16_t i = 2; i <= 41; ++i) REQUIRE(t.out(b.up.data(pptp::ocrq(i))).verdict == XDP_PASS);
    auto again = t.out(b.up.data_at(s0, pptp::ocrq(1)));
    REQUIRE(std::string(verdict_name(again.verdict)) == "XDP_PASS");
    CHECK(again.out == first.out);
    CHECK(t.dp.reason(VPNPT_REASON_PPTP_HELD) == 0);
  }
  SECTION("with the receiver's ACKs seen, no rewrite in flight is forgotten") {
    server_acks();
    uint32_t s0 = b.up.next;
    auto first = t.out(b.up.data(pptp::ocrq(1)));
    REQUIRE(first.verdict == XDP_PASS);
    for (uint16_t i = 2; i <= VPNPT_PPTP_PATCHES; ++i) REQUIRE(t.out(b.up.data(pptp::ocrq(i))).verdict == XDP_PASS);
    // A 65th rewrite needs a slot, and every slot's bytes are unacknowledged: held, nothing allocated.
    const auto calls = t.dp.entries(VPNPT_MAP_PPTP_CALLS);
    const uint32_t s65 = b.up.next;
    const Bytes m65 = pptp::ocrq(VPNPT_PPTP_PATCHES + 1);
    CHECK(std::string(verdict_name(t.out(b.up.data(m65)).verdict)) == "XDP_DROP");
    CHECK(t.dp.reason(VPNPT_REASON_PPTP_UNACKED) == 1);
    CHECK(t.dp.entries(VPNPT_MAP_PPTP_CALLS) == calls);
    // The oldest is still remembered: its retransmission comes out identical.
    auto again = t.out(b.up.data_at(s0, pptp::ocrq(1)));
    REQUIRE(again.verdict == XDP_PASS);
    CHECK(again.out == first.out);
    // An ACK of bytes vpnpt never delivered (forged, or the held segment's) frees nothing.
    b.down.ack = s65 + 5000;
    REQUIRE(t.in(b.down.ack_only()).verdict == XDP_PASS);
    b.down.ack = s65 + 10;
    REQUIRE(t.in(b.down.ack_only()).verdict == XDP_PASS);
    CHECK(std::string(verdict_name(t.out(b.up.data_at(s65, m65)).verdict)) == "XDP_DROP");
    CHECK(t.dp.reason(VPNPT_REASON_PPTP_UNACKED) == 2);
    // The server acknowledges what it got: TCP resends the 65th, and it goes through rewritten.
    b.down.ack = s65;
    REQUIRE(t.in(b.down.ack_only()).verdict == XDP_PASS);
    auto resent = t.out(b.up.data_at(s65, m65));
    REQUIRE(std::string(verdict_name(resent.verdict)) == "XDP_PASS");
    CHECK(resent.out == b.up.data_at(s65, pptp::ocrq(t.xlat_of(kB, VPNPT_PPTP_PATCHES + 1))));
    CHECK(pkt::l4_checksum_ok(resent.out));
  }
  SECTION("the client's ACKs free the server's side the same way") {
    for (uint16_t i = 1; i <= VPNPT_PPTP_PATCHES + 1; ++i) {
      REQUIRE(t.out(b.up.data(pptp::ocrq(i))).verdict == XDP_PASS);
      server_acks();
    }
    b.up.ack = b.down.next;
    REQUIRE(t.out(b.up.ack_only()).verdict == XDP_PASS);
    for (uint16_t i = 1; i <= VPNPT_PPTP_PATCHES; ++i)
      REQUIRE(t.in(b.down.data(pptp::ocrp(static_cast<uint16_t>(200 + i), t.xlat_of(kB, i)))).verdict == XDP_PASS);
    const uint16_t x65 = t.xlat_of(kB, VPNPT_PPTP_PATCHES + 1);
    const uint32_t s65 = b.down.next;
    const Bytes m65 = pptp::ocrp(300, x65);
    CHECK(std::string(verdict_name(t.in(b.down.data(m65)).verdict)) == "XDP_DROP");
    CHECK(t.dp.reason(VPNPT_REASON_PPTP_UNACKED) == 1);
    b.up.ack = s65;
    REQUIRE(t.out(b.up.ack_only()).verdict == XDP_PASS);
    auto resent = t.in(b.down.data_at(s65, m65));
    REQUIRE(std::string(verdict_name(resent.verdict)) == "XDP_PASS");
    CHECK(resent.out == b.down.data_at(s65, pptp::ocrp(300, VPNPT_PPTP_PATCHES + 1)));
  }
}
