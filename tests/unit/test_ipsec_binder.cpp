// The SPI binder on simulated timelines: who gets an unknown SPI, who
// waits, and that nothing is ever bound by guesswork.
#include <arpa/inet.h>

#include <catch2/catch.hpp>

#include "abi/vpnpt_abi.h"
#include "loader/proto/ipsec/ipsec_binder.h"
#include "packet_builder.h"

using namespace vpnpt;
using pkt::ip;

namespace {

constexpr uint64_t kMs = 1000000ull;
const uint32_t kS = ip("203.0.113.7"), kS2 = ip("203.0.113.8");
const uint32_t kA = ip("192.168.1.10"), kB = ip("192.168.1.11"), kC = ip("192.168.1.12");

IkeMessage v2(uint32_t host, uint32_t server, uint8_t exch, bool response, uint64_t ispi, uint32_t msgid = 1) {
  IkeMessage m;
  m.host = host;
  m.server = server;
  m.from_host = !response;
  m.version = 2;
  m.exchange = exch;
  m.response = response;
  m.ispi = ispi;
  m.msgid = msgid;
  return m;
}

IkeMessage qm(uint32_t host, uint32_t server, bool from_host, uint32_t msgid) {
  IkeMessage m;
  m.host = host;
  m.server = server;
  m.from_host = from_host;
  m.version = 1;
  m.exchange = kIkeV1QuickMode;
  m.ispi = host;
  m.msgid = msgid;
  return m;
}

// One host's IKE_AUTH request and response, the request not held.
void auth(IpsecBinder& b, uint32_t host, uint64_t t, uint64_t ispi) {
  REQUIRE(b.on_ike(v2(host, kS, 34, false, ispi, 0), 1, t) == IkeVerdict::Pass);  // IKE_SA_INIT never held
  REQUIRE(b.on_ike(v2(host, kS, kIkeV2Auth, false, ispi), 2, t) == IkeVerdict::Pass);
  REQUIRE(b.on_ike(v2(host, kS, kIkeV2Auth, true, ispi), 3, t + 5 * kMs) == IkeVerdict::Pass);
}

}  // namespace

TEST_CASE("binder: one host's new SA binds its first unknown SPI", "[ipsec][binder]") {
  IpsecBinder b;
  auth(b, kA, 0, 0xa);
  auto r = b.on_unknown_spi(kS, 0x1111, 20 * kMs);
  CHECK(r.bound);
  CHECK(r.host == kA);
  // The SA is bound: a further unknown SPI from that server has no owner.
  auto r2 = b.on_unknown_spi(kS, 0x2222, 30 * kMs);
  CHECK_FALSE(r2.bound);
  CHECK(r2.why.find("no LAN host") != std::string::npos);
}

TEST_CASE("binder: two hosts starting at the same instant are serialised", "[ipsec][binder]") {
  IpsecBinder b;
  CHECK(b.on_ike(v2(kA, kS, kIkeV2Auth, false, 0xa), 1, 0) == IkeVerdict::Pass);
  CHECK(b.on_ike(v2(kB, kS, kIkeV2Auth, false, 0xb), 2, 0) == IkeVerdict::Hold);          // same instant: B waits
  CHECK(b.on_ike(v2(kB, kS, kIkeV2Auth, false, 0xb), 3, 900 * kMs) == IkeVerdict::Hold);  // B retransmits: held too
  CHECK(b.tick(10 * kMs).empty());
  CHECK(b.on_ike(v2(kA, kS, kIkeV2Auth, true, 0xa), 4, 10 * kMs) == IkeVerdict::Pass);
  auto r = b.on_unknown_spi(kS, 0x1111, 15 * kMs);
  REQUIRE(r.bound);
  CHECK(r.host == kA);
  // A's binding done: B's held requests go, B owns the server's next SPI.
  auto rel = b.tick(16 * kMs);
  REQUIRE(rel.size() == 2);
  CHECK((rel[0].ticket == 2 && rel[0].accept));
  CHECK((rel[1].ticket == 3 && rel[1].accept));
  CHECK(b.owner_of(kS) == kB);
  // An unknown SPI before B's exchange finished is not B's yet: refused, not guessed.
  CHECK_FALSE(b.on_unknown_spi(kS, 0x2222, 17 * kMs).bound);
  CHECK(b.on_ike(v2(kB, kS, kIkeV2Auth, true, 0xb), 5, 20 * kMs) == IkeVerdict::Pass);
  auto rb = b.on_unknown_spi(kS, 0x2222, 25 * kMs);
  CHECK(rb.bound);
  CHECK(rb.host == kB);
  CHECK(b.stats().holds == 2);
}

TEST_CASE("binder: a server that never sends ESP back blocks others only for the hold", "[ipsec][binder]") {
  using std::chrono::milliseconds;
  IpsecBinder b(BinderConfig{milliseconds(3000), milliseconds(6000), milliseconds(10000)});
  auth(b, kA, 0, 0xa);
  CHECK(b.on_ike(v2(kB, kS, kIkeV2Auth, false, 0xb), 7, 100 * kMs) == IkeVerdict::Hold);
  CHECK(b.tick(2900 * kMs).empty());
  auto rel = b.tick(3100 * kMs);  // A's window closed: B's exchange goes ahead
  REQUIRE(rel.size() == 1);
  CHECK(rel[0].ticket == 7);
  CHECK(rel[0].accept);
  CHECK(b.stats().windows_expired == 1);
  CHECK(b.on_ike(v2(kB, kS, kIkeV2Auth, true, 0xb), 8, 3150 * kMs) == IkeVerdict::Pass);
  // A stays a candidate for a while (its server might still speak): B's SPI is not yet B's for certain.
  auto r = b.on_unknown_spi(kS, 0x3333, 3200 * kMs);
  CHECK_FALSE(r.bound);
  CHECK(r.why.find("refused rather than guessed") != std::string::npos);
  // Only B's SA speaks; A's candidacy runs out, B keeps its window, and then B gets its SPI.
  for (uint64_t t = 3300; t < 13100; t += 100) {
    b.tick(t * kMs);
    if (t % 1000 == 0) CHECK_FALSE(b.on_unknown_spi(kS, 0x3333, t * kMs).bound);
  }
  b.tick(13200 * kMs);
  auto late = b.on_unknown_spi(kS, 0x3333, 13300 * kMs);
  CHECK(late.bound);
  CHECK(late.host == kB);
}

TEST_CASE("binder: a server that answers after its host's window never gets its SPI handed to another host",
          "[ipsec][binder]") {
  using std::chrono::milliseconds;
  IpsecBinder b(BinderConfig{milliseconds(3000), milliseconds(6000), milliseconds(10000)});
  auth(b, kA, 0, 0xa);
  b.tick(3100 * kMs);            // A's window closes unbound
  auth(b, kB, 3500 * kMs, 0xb);  // B finishes its exchange
  // Now both servers' SAs speak: A's (late) and B's. Neither may be guessed, for as long as both speak.
  for (uint64_t t = 4000; t < 60000; t += 100) {
    b.tick(t * kMs);
    auto ra = b.on_unknown_spi(kS, 0xaaaa, t * kMs);
    auto rb = b.on_unknown_spi(kS, 0xbbbb, t * kMs + 1);
    REQUIRE_FALSE((ra.bound && ra.host != kA));
    REQUIRE_FALSE((rb.bound && rb.host != kB));
  }
  CHECK(b.stats().refused_ambiguous > 0);
  // Without any other candidate left, A's late SPI alone would be A's.
  IpsecBinder c(BinderConfig{milliseconds(3000), milliseconds(6000), milliseconds(10000)});
  auth(c, kA, 0, 0xa);
  c.tick(3100 * kMs);
  auto r = c.on_unknown_spi(kS, 0xaaaa, 4000 * kMs);
  CHECK(r.bound);
  CHECK(r.host == kA);
}

TEST_CASE("binder: several CHILD_SAs set up back to back are all the owner's", "[ipsec][binder]") {
  IpsecBinder b;
  auth(b, kA, 0, 0xa);
  CHECK(b.on_ike(v2(kA, kS, kIkeV2CreateChildSa, false, 0xa, 2), 1, 6 * kMs) == IkeVerdict::Pass);
  CHECK(b.on_ike(v2(kB, kS, kIkeV2Auth, false, 0xb), 2, 7 * kMs) == IkeVerdict::Hold);
  CHECK(b.on_ike(v2(kA, kS, kIkeV2CreateChildSa, true, 0xa, 2), 3, 8 * kMs) == IkeVerdict::Pass);
  auto r1 = b.on_unknown_spi(kS, 0x1001, 20 * kMs);
  auto r2 = b.on_unknown_spi(kS, 0x1002, 21 * kMs);
  CHECK((r1.bound && r1.host == kA));
  CHECK((r2.bound && r2.host == kA));
  auto rel = b.tick(22 * kMs);  // only now B may go
  REQUIRE(rel.size() == 1);
  CHECK(rel[0].ticket == 2);
}

TEST_CASE("binder: requests held longer than max_wait are dropped, never released into ambiguity", "[ipsec][binder]") {
  IpsecBinder b(
      BinderConfig{std::chrono::milliseconds(3000), std::chrono::milliseconds(4000), std::chrono::milliseconds(1000)});
  auth(b, kA, 0, 0xa);
  CHECK(b.on_ike(v2(kB, kS, kIkeV2Auth, false, 0xb), 1, 0) == IkeVerdict::Hold);
  CHECK(b.on_ike(v2(kC, kS, kIkeV2Auth, false, 0xc), 2, 2000 * kMs) == IkeVerdict::Hold);
  auto rel = b.tick(3100 * kMs);  // A refused; B released
  REQUIRE(rel.size() == 1);
  CHECK(rel[0].ticket == 1);
  // B's exchange never completes; when B's window closes C has waited 6.2 s > 4 s: dropped (C retransmits).
  auto rel2 = b.tick(6200 * kMs);
  REQUIRE(rel2.size() == 1);
  CHECK(rel2[0].ticket == 2);
  CHECK_FALSE(rel2[0].accept);
  CHECK(b.stats().hold_expired == 1);
  CHECK(b.held_count() == 0);
  // C's retransmission now goes straight through.
  CHECK(b.on_ike(v2(kC, kS, kIkeV2Auth, false, 0xc), 3, 6300 * kMs) == IkeVerdict::Pass);
}

TEST_CASE("binder: rekeys bind their new SPI to the same host", "[ipsec][binder]") {
  IpsecBinder b;
  auth(b, kA, 0, 0xa);
  REQUIRE(b.on_unknown_spi(kS, 0x1111, 10 * kMs).bound);
  CHECK(b.on_ike(v2(kA, kS, kIkeV2CreateChildSa, false, 0xa, 2), 1, 60000 * kMs) == IkeVerdict::Pass);
  CHECK(b.on_ike(v2(kA, kS, kIkeV2CreateChildSa, true, 0xa, 2), 2, 60010 * kMs) == IkeVerdict::Pass);
  auto r = b.on_unknown_spi(kS, 0x1112, 60020 * kMs);
  CHECK(r.bound);
  CHECK(r.host == kA);
}

TEST_CASE("binder: a rekey started by the server is ordered like any other", "[ipsec][binder]") {
  IpsecBinder b;
  // Server-initiated CREATE_CHILD_SA toward A: request from the server, response from A.
  IkeMessage req = v2(kA, kS, kIkeV2CreateChildSa, false, 0xa, 7);
  req.from_host = false;
  IkeMessage resp = v2(kA, kS, kIkeV2CreateChildSa, true, 0xa, 7);
  resp.from_host = true;
  CHECK(b.on_ike(req, 1, 0) == IkeVerdict::Pass);
  CHECK(b.on_ike(v2(kB, kS, kIkeV2Auth, false, 0xb), 2, 1 * kMs) == IkeVerdict::Hold);
  CHECK(b.on_ike(resp, 3, 5 * kMs) == IkeVerdict::Pass);
  CHECK(b.on_unknown_spi(kS, 0x4444, 6 * kMs).host == kA);
}

TEST_CASE("binder: IKEv1 Quick Mode owns the next SPI once its second message passed", "[ipsec][binder]") {
  IpsecBinder b;
  CHECK(b.on_ike(qm(kA, kS, true, 0x77), 1, 0) == IkeVerdict::Pass);
  CHECK(b.on_ike(qm(kB, kS, true, 0x88), 2, 1 * kMs) == IkeVerdict::Hold);
  CHECK_FALSE(b.on_unknown_spi(kS, 0x5555, 2 * kMs).bound);  // QM1 only: not yet
  CHECK(b.on_ike(qm(kA, kS, false, 0x77), 3, 3 * kMs) == IkeVerdict::Pass);
  CHECK(b.on_ike(qm(kA, kS, true, 0x77), 4, 4 * kMs) == IkeVerdict::Pass);
  CHECK(b.on_unknown_spi(kS, 0x5555, 5 * kMs).host == kA);
  auto rel = b.tick(6 * kMs);
  REQUIRE(rel.size() == 1);
  CHECK(rel[0].ticket == 2);
  CHECK(b.on_ike(qm(kB, kS, false, 0x88), 5, 7 * kMs) == IkeVerdict::Pass);
  CHECK(b.on_unknown_spi(kS, 0x6666, 8 * kMs).host == kB);
}

TEST_CASE("binder: a host's own two Quick Mode messages do not finish the exchange", "[ipsec][binder]") {
  IpsecBinder b;
  // Two junk (or retransmitted) messages from the host with one message ID: the server has not
  // answered, so no SA is up and no unknown SPI of that server may be given to this host.
  CHECK(b.on_ike(qm(kA, kS, true, 0x77), 1, 0) == IkeVerdict::Pass);
  CHECK(b.on_ike(qm(kA, kS, true, 0x77), 2, 1 * kMs) == IkeVerdict::Pass);
  auto r = b.on_unknown_spi(kS, 0x5555, 2 * kMs);
  CHECK_FALSE(r.bound);
  CHECK(r.refusal == VPNPT_REFUSE_IN_FLIGHT);
  // The server's answer finishes it.
  CHECK(b.on_ike(qm(kA, kS, false, 0x77), 3, 3 * kMs) == IkeVerdict::Pass);
  CHECK(b.on_unknown_spi(kS, 0x5555, 4 * kMs).host == kA);
}

TEST_CASE("binder: servers are independent; other exchanges are never held", "[ipsec][binder]") {
  IpsecBinder b;
  CHECK(b.on_ike(v2(kA, kS, kIkeV2Auth, false, 0xa), 1, 0) == IkeVerdict::Pass);
  CHECK(b.on_ike(v2(kB, kS2, kIkeV2Auth, false, 0xb), 2, 0) == IkeVerdict::Pass);       // another server
  CHECK(b.on_ike(v2(kB, kS, 34, false, 0xb, 0), 3, 0) == IkeVerdict::Pass);             // IKE_SA_INIT
  CHECK(b.on_ike(v2(kB, kS, 37, false, 0xb, 2), 4, 0) == IkeVerdict::Pass);             // INFORMATIONAL
  CHECK(b.on_ike(v2(kA, kS, kIkeV2Auth, false, 0xa), 5, 1 * kMs) == IkeVerdict::Pass);  // owner's retransmission
}

// Issue 17, finding 2: one host's requests filled the queue (fail-open at 4,096 held
// packets), after which every host's IKE bypassed the ordering that binding relies on.
TEST_CASE("binder: one host's flood of requests cannot crowd out the others", "[ipsec][binder]") {
  const uint32_t kX = ip("192.168.1.66");
  IpsecBinder b;
  auth(b, kA, 0, 0xa);  // A's exchange is under way: everyone else's request waits
  int held = 0, dropped = 0;
  for (uint32_t i = 0; i < 200; ++i) {
    auto v = b.on_ike(v2(kX, kS, kIkeV2Auth, false, 0x1000 + i), 100 + i, (1 + i) * kMs);
    held += v == IkeVerdict::Hold;
    dropped += v == IkeVerdict::Drop;
  }
  CHECK(held == kHeldPerHostServer);
  CHECK(dropped == 200 - kHeldPerHostServer);
  // Toward other servers (each busy with C's exchange) X may hold more, up to its share of the whole queue.
  for (uint32_t s = 0; s < 10; ++s) {
    const uint32_t server = htonl(ntohl(kS2) + s);
    REQUIRE(b.on_ike(v2(kC, server, kIkeV2Auth, false, 0xc0 + s), 900 + s, 300 * kMs) == IkeVerdict::Pass);
    for (uint32_t i = 0; i < 10; ++i) {
      auto v = b.on_ike(v2(kX, server, kIkeV2Auth, false, 0x9000 + s * 100 + i), 1000 + s * 100 + i, 300 * kMs);
      held += v == IkeVerdict::Hold;
      dropped += v == IkeVerdict::Drop;
    }
  }
  CHECK(held == kHeldPerHost);
  CHECK(dropped == 300 - kHeldPerHost);
  CHECK(b.stats().held_over_share == static_cast<uint64_t>(dropped));
  CHECK(b.held_count() == kHeldPerHost);
  // B is still held in its turn and gets the server after A, ahead of X's later requests.
  CHECK(b.on_ike(v2(kB, kS, kIkeV2Auth, false, 0xb), 5000, 400 * kMs) == IkeVerdict::Hold);
  CHECK(b.on_ike(v2(kA, kS, kIkeV2Auth, true, 0xa), 5001, 410 * kMs) == IkeVerdict::Pass);
  REQUIRE(b.on_unknown_spi(kS, 0x1111, 420 * kMs).bound);
  auto rel = b.tick(430 * kMs);
  CHECK(b.owner_of(kS) == kX);  // X's oldest request came first: its turn, all 16 at once
  CHECK(rel.size() == kHeldPerHostServer);
  // X's SPI binds, then B's turn.
  CHECK(b.on_ike(v2(kX, kS, kIkeV2Auth, true, 0x1000), 5002, 440 * kMs) == IkeVerdict::Pass);
}
