// Property tests of the data plane: thousands of random and mutated packets
// of every protocol vpnpt knows (PPTP control, enhanced and other GRE, raw
// ESP, AH, NAT-T, IKE, L2TP, other, non-IPv4), with VLAN stacks of 0-3
// tags, IP options, fragments, truncations and wrong lengths, through both
// XDP programs in a router namespace, next to the reference model of
// tests/support/ref_model.h holding the mappings the test installed. Per packet:
//
//   P1 no mis-delivery: a packet's destination changes only to the host the
//      model maps it to (inbound), and only the source changes, to the
//      public IP, outbound;
//   P2 every rewritten packet has a valid IPv4 checksum (and TCP/UDP
//      checksums stay valid); nothing but the translated fields changes;
//   P3 exactly the class counter the model predicts moves, by this packet,
//      and no counter ever goes backwards; xlat moves iff vpnpt forwarded or
//      rewrote it;
//   P4 the verdict is the model's, and every counted reason has its fixed
//      verdict (malformed ones: XDP_PASS, untouched).
//
// Seed: VPNPT_PROPERTY_SEED (printed); packets per hook:
// VPNPT_PROPERTY_PACKETS. VPNPT_PROPERTY_SABOTAGE=<property> breaks the
// model or the observation on purpose, to see that property fail.
#include <array>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>

#include "l2tp_builder.h"
#include "loader/core/names.h"
#include "loader/proto/pptp/pptp_slowpath.h"
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

const uint32_t kSrv2 = ip("203.0.113.8");  // no neighbour entry
const uint32_t kFar = ip("198.51.100.9");  // no route
const uint32_t kC = ip("192.168.1.12");    // a LAN host without neighbour entry

// The router, the programs, the installed mappings and the model of them.
struct Rig {
  TestRouter rt;  // first: the programs' FIB lookups happen in its namespace
  Dataplane dp;
  model::Model m;
  PptpSlowPath pptp{dp.pptp_maps(), PptpTimeouts{}};  // only its quote recount runs here (no call is ever reaped)
  uint16_t xlat_b = 0;                                // B's translated id for its Call ID 1000 (A kept 1000)

  Rig() {
    dp.configure(kPub, rt.wan_ifindex);
    m.public_ip = kPub;
    m.fib.public_ip = kPub;
    m.fib.resolves_neigh = test_hook() == Hook::Tc;
    // PPTP: A and B both chose Call ID 1000 (B's is translated), both answered;
    // A has a requested call 55, B a refused (closing) call 77.
    call(kA, 40000, 40000, 1000, 0, 1);
    xlat_b = call(kB, 40001, 40001, 1000, 128, 1);
    call(kA, 40002, 40002, 55, 0, 0);
    call(kB, 40003, 40003, 77, 300, 2);
    // ESP: SPIs bound as the daemon's binder would.
    bind(kSrv, 0x1a2b3c4d, kB);
    bind(kSrv, 0x99, kA);
    bind(kSrv2, 0x77, kA);
    sync_pptp(m, dp, std::nullopt, true);
    // The model holds what was installed, as the test meant it.
    REQUIRE(m.calls.at({kSrv, 1000}).client == kA);
    REQUIRE(m.calls.at({kSrv, xlat_b}).client == kB);
    REQUIRE(m.calls.at({kSrv, xlat_b}).state == VPNPT_PPTP_CALL_ESTABLISHED);
    REQUIRE(m.calls.size() == 4);
    REQUIRE(m.gre_out.size() == 2);
  }

  // A control connection and one call; answers with @result (0: no answer). Returns the translated id.
  uint16_t call(uint32_t client, uint16_t port, uint16_t pub_port, uint16_t id, uint16_t server_id, uint8_t result) {
    pptp::TcpFlow up{client, kSrv, port, 1723, 100}, down{kSrv, kPub, 1723, pub_port, 900};
    REQUIRE(run_xdp(dp.progs.lan_fd(), up.syn()).verdict == XDP_PASS);
    REQUIRE(0 == pptp::masquerade(up, down));
    REQUIRE(run_xdp(dp.progs.wan_fd(), down.syn_ack(up)).verdict == XDP_PASS);
    auto r = run_xdp(dp.progs.lan_fd(), up.data(pptp::ocrq(id)));
    REQUIRE(r.verdict == XDP_PASS);
    uint16_t x = pptp::be16_at(r.out, pptp::kTcpPayloadOffset + 12);
    if (result) REQUIRE(run_xdp(dp.progs.wan_fd(), down.data(pptp::ocrp(server_id, x, result))).verdict == XDP_PASS);
    return x;
  }

  void bind(uint32_t server, uint32_t spi, uint32_t host) {
    dp.bind_spi(server, spi, host);
    m.esp_in[{server, spi}] = host;
  }
};

// ---------------------------------------------------------------- generator

struct Gen {
  // The last 16 first fragments per direction (src, dst, protocol, IP ID), whose later ones come interleaved.
  std::array<std::tuple<uint32_t, uint32_t, uint8_t, uint16_t>, 16> recent_firsts[2];
  size_t n_firsts[2] = {0, 0};
  std::mt19937_64 rng;
  const Rig& rig;
  Gen(uint64_t seed, const Rig& r) : rng(seed), rig(r) {}

  uint32_t u(uint32_t n) { return n ? static_cast<uint32_t>(rng() % n) : 0; }
  bool chance(uint32_t percent) { return u(100) < percent; }
  template <class T>
  T pick(std::initializer_list<T> l) {
    return *(l.begin() + u(static_cast<uint32_t>(l.size())));
  }
  Bytes random_bytes(size_t n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    return b;
  }

  uint16_t call_id() { return pick<uint16_t>({1000, rig.xlat_b, 55, 77, 0, 128, 300, static_cast<uint16_t>(rng())}); }
  uint32_t spi() {
    return pick<uint32_t>({0x1a2b3c4d, 0x99, 0x77, 0xc0ffee01, 0xc0ffee02, 0, static_cast<uint32_t>(rng())});
  }

  Bytes pptp_payload() {
    switch (u(6)) {
      case 0: return {};
      case 1: return random_bytes(u(80));
      case 2: {  // one message, maybe cut
        Bytes m = pptp::message(static_cast<pptp::Type>(1 + u(15)), call_id(), call_id(), pick<uint8_t>({1, 2, 0}));
        return chance(30) ? pptp::slice(m, 0, u(static_cast<uint32_t>(m.size()))) : m;
      }
      case 3:
        return pptp::cat(pptp::message(pptp::OCRQ, call_id()),
                         pptp::message(static_cast<pptp::Type>(1 + u(15)), call_id()));
      default:
        return pptp::message(pick({pptp::OCRQ, pptp::OCRP, pptp::CCRQ, pptp::ICRP, pptp::ICCN, pptp::CDN, pptp::SLI}),
                             call_id(), call_id(), pick<uint8_t>({1, 2}));
    }
  }

  // One well-formed packet of a random protocol (addresses, l4 bytes, IP protocol).
  struct L4 {
    uint8_t proto;
    Bytes bytes;
  };
  L4 l4(uint32_t dir) {
    bool out = dir == VPNPT_DIR_OUTBOUND;
    switch (u(13)) {
      case 0:
      case 1: {  // PPTP control
        uint16_t eph = pick<uint16_t>({40000, 40001, 40002, static_cast<uint16_t>(1024 + u(60000))});
        bool toward = !chance(10);  // mostly the passthrough direction
        uint16_t sp = out == toward ? eph : 1723, dp = out == toward ? 1723 : eph;
        uint8_t flags = pick<uint8_t>({0x18, 0x18, 0x18, 0x10, 0x02, 0x12, 0x11, 0x04});
        Bytes t = pkt::tcp(sp, dp, pptp_payload(), flags, static_cast<uint32_t>(rng()), 1);
        if (chance(5)) t[12] = static_cast<uint8_t>(u(16) << 4);  // data offset
        return {pkt::kProtoTcp, t};
      }
      case 2:
      case 3: {  // enhanced GRE
        std::optional<uint32_t> seq, ack;
        if (chance(60)) seq = static_cast<uint32_t>(rng());
        if (chance(50)) ack = static_cast<uint32_t>(rng());
        Bytes g =
            pkt::gre_v1(out ? pick<uint16_t>({0, 128, 300, call_id()}) : call_id(), random_bytes(u(64)), seq, ack);
        if (chance(15)) g[0] ^= static_cast<uint8_t>(1u << u(8));  // C R K S s Recur
        if (chance(15)) g[1] ^= static_cast<uint8_t>(1u << u(8));  // A flags Ver
        if (chance(5)) g[2] ^= 0x01;                               // protocol
        return {pkt::kProtoGre, g};
      }
      case 4:  // other GRE
        return {pkt::kProtoGre, pkt::gre_v0(pick<uint16_t>({0x0800, 0x6558, 0x880B}), random_bytes(u(40)))};
      case 5:
      case 6: return {pkt::kProtoEsp, pkt::esp(spi(), static_cast<uint32_t>(rng()), random_bytes(u(64)))};
      case 7: return {pkt::kProtoAh, pkt::ah(spi(), 1)};
      case 8: {  // NAT-T: ESP, IKE (non-ESP marker), keepalive
        Bytes pl = pick({0, 1, 2}) == 0 ? Bytes{0xff} : pkt::esp(pick<uint32_t>({0, spi()}), 1, random_bytes(u(40)));
        uint16_t other = pick<uint16_t>({4500, 500, static_cast<uint16_t>(1024 + u(60000))});
        return {pkt::kProtoUdp, chance(50) ? pkt::udp(other, 4500, pl) : pkt::udp(4500, other, pl)};
      }
      case 9: return {pkt::kProtoUdp, pkt::udp(500, pick<uint16_t>({500, 4501}), random_bytes(28 + u(60)))};
      case 10:
        return {pkt::kProtoUdp,
                pkt::udp(pick<uint16_t>({1701, 33000}), 1701, pptp::cat({0xc8, 0x02}, random_bytes(u(40))))};
      case 11: {  // an ICMP error quoting what the gateway sent (ESP, PPTP GRE, L2TP, other; some cut short)
        pkt::Ipv4Opts q;
        q.ttl = 63;
        q.frag = 0x4000;
        if (chance(10)) q.options = random_bytes(4 * (1 + u(3)));
        uint8_t proto = pick<uint8_t>({pkt::kProtoEsp, pkt::kProtoEsp, pkt::kProtoGre, pkt::kProtoGre, pkt::kProtoUdp});
        Bytes l4 = pkt::esp(spi(), static_cast<uint32_t>(rng()), random_bytes(u(64)));
        if (proto == pkt::kProtoGre && chance(80))  // the servers' Call IDs of the rig's calls, or others
          l4 = pkt::gre_v1(pick<uint16_t>({0, 128, 300, call_id()}), random_bytes(u(64)), 7, 3);
        if (proto == pkt::kProtoUdp && chance(70))  // L2TP data (the rig has no tunnels), or other UDP
          l4 = pkt::udp(pick<uint16_t>({1701, 1701, 61000, 4000}), pick<uint16_t>({1701, 53}),
                        pkt::l2tp::data(call_id(), 1, random_bytes(u(64))));
        Bytes full = pkt::ipv4(pick({kPub, kPub, kPub, kA}), pick({kSrv, kSrv, kSrv2}), proto, l4, q);
        size_t keep = std::min(full.size(), pick<size_t>({full.size(), 28, 20 + u(8), 20 + u(80)}));
        return {pkt::kProtoIcmp, pkt::icmp_error(pick<uint8_t>({3, 3, 3, 11, 12, 0, 8}), pick<uint8_t>({4, 1, 3}), 1400,
                                                 Bytes(full.begin(), full.begin() + static_cast<long>(keep)))};
      }
      default: {
        uint8_t proto =
            pick<uint8_t>({pkt::kProtoTcp, pkt::kProtoUdp, pkt::kProtoIcmp, 4, 41, 132, static_cast<uint8_t>(rng())});
        if (proto == pkt::kProtoTcp) return {proto, pkt::tcp(static_cast<uint16_t>(rng()), 80, random_bytes(u(40)))};
        if (proto == pkt::kProtoUdp) return {proto, pkt::udp(static_cast<uint16_t>(rng()), 53, random_bytes(u(40)))};
        return {proto, random_bytes(u(64))};
      }
    }
  }

  // A random, often mutated, frame arriving at the hook of @dir.
  Bytes frame(uint32_t dir) {
    bool out = dir == VPNPT_DIR_OUTBOUND;
    if (chance(3)) {  // not IPv4
      uint16_t type = pick<uint16_t>({pkt::kEthIpv6, pkt::kEthArp, 0x8847, static_cast<uint16_t>(rng())});
      return pkt::ether(random_bytes(u(80)), type);
    }
    uint32_t src = out ? pick({kA, kA, kB, kC, static_cast<uint32_t>(rng())}) : pick({kSrv, kSrv, kSrv2, kFar});
    uint32_t dst = out ? pick({kSrv, kSrv, kSrv2, kFar, kPub}) : pick({kPub, kPub, kPub, kA, kSrv});
    L4 l = l4(dir);
    pkt::Ipv4Opts o;
    o.ttl = pick<uint8_t>({64, 64, 64, 2, 1, 0});
    o.id = static_cast<uint16_t>(rng());
    if (chance(10)) o.options = random_bytes(4 * (1 + u(10)));
    if (chance(8))
      o.frag = 0x2000;  // first fragment
    else if (chance(8))
      o.frag = static_cast<uint16_t>((chance(50) ? 0x2000 : 0) | (1 + u(0x1ffe)));  // later
    else if (chance(3))
      o.frag = 0x4000;  // DF
    // Later fragments of the datagram whose first fragment came last in this direction (vpnpt
    // translates them as it did the first, bpf/lib/frag.h), interleaved with everything else.
    auto& firsts = recent_firsts[out];
    if (o.frag == 0x2000) {
      firsts[n_firsts[out]++ % firsts.size()] = std::make_tuple(src, dst, l.proto, o.id);
    } else if ((o.frag & 0x1fff) && n_firsts[out] && chance(60)) {
      size_t have = std::min<size_t>(n_firsts[out], firsts.size());
      std::tie(src, dst, l.proto, o.id) = firsts[u(static_cast<uint32_t>(have))];
      l.bytes = random_bytes(8 + u(64));
    }
    if (chance(3)) o.version = static_cast<uint8_t>(u(16));
    if (chance(3)) o.ihl = static_cast<uint8_t>(u(16));
    if (chance(4)) {
      size_t hl = 20 + o.options.size() + (o.options.size() % 4 ? 4 - o.options.size() % 4 : 0);
      size_t real = hl + l.bytes.size();
      o.tot_len = static_cast<uint16_t>(pick<size_t>(
          {real - std::min<size_t>(real, 1 + u(12)), real + 1 + u(20), u(static_cast<uint32_t>(real) + 1), hl + u(9)}));
    }
    pkt::EthOpts e;
    uint32_t tags = pick<uint32_t>({0, 0, 0, 0, 1, 2, 3});
    for (uint32_t i = 0; i < tags; ++i) e.vlans.push_back(static_cast<uint16_t>(u(4096)));
    e.qinq = chance(50);
    Bytes f = pkt::frame(src, dst, l.proto, l.bytes, o, e);
    if (chance(8)) f = pkt::truncate(f, 14 + u(static_cast<uint32_t>(f.size() - 13)));  // cut anywhere after Ethernet
    if (chance(8)) f = pkt::pad_to(f, f.size() + 1 + u(40));                            // Ethernet padding / trailer
    if (chance(5)) {
      for (uint32_t i = 1 + u(3); i > 0; --i)
        f[14 + u(static_cast<uint32_t>(f.size() - 14))] ^= static_cast<uint8_t>(1 + u(255));
    }
    return f;
  }
};

const char* kSabotage = std::getenv("VPNPT_PROPERTY_SABOTAGE");
bool sabotage(const char* what) { return kSabotage && std::string(kSabotage) == what; }

// ---------------------------------------------------------------- checks

// Offsets a translation may change: MACs, TTL, IP checksum, addresses, and the GRE key.
bool may_change(const model::Parsed& p, const model::Expect& e, size_t i) {
  if (i < 12) return e.redirect;         // MACs
  if (i == p.l3 + 8) return e.redirect;  // TTL
  if (i == p.l3 + 10 || i == p.l3 + 11) return true;
  if (e.rewrite == model::Rewrite::kSnat) return i >= p.l3 + 12 && i < p.l3 + 16;
  if (e.rewrite == model::Rewrite::kDnat) {
    if (e.icmp_quote && i >= *e.icmp_quote + 10 && i < *e.icmp_quote + 16) return true;  // its checksum, source
    return (i >= p.l3 + 16 && i < p.l3 + 20) || (e.gre_key && (i == p.l4 + 6 || i == p.l4 + 7));
  }
  return false;
}

struct Stats {
  uint64_t packets = 0, redirected = 0, dropped = 0, rewritten = 0, delivered_in = 0;
  uint64_t icmp_relayed = 0;  // ICMP errors about a host's ESP, relayed to it
  uint64_t followed = 0;      // later fragments translated as their first fragment was
  std::map<uint32_t, uint64_t> per_class, per_reason;
  std::map<std::pair<uint32_t, bool>, uint64_t> fragments;  // (class, later fragment) of GRE/ESP/TCP/UDP
  std::map<unsigned, uint64_t> vlan_stacks;                 // IPv4 frames by VLAN tags in front
};

void check_packet(Rig& g, uint32_t dir, const Bytes& in, Stats& st) {
  model::Parsed p = model::parse(in, g.m.vlan_depth);
  // The daemon recounts the ICMP quote index every second: a Call ID a second call carried
  // stays shared until then. Recounted before each ICMP packet, the index is what the model
  // counts from the calls.
  if (p.l3 && in.size() > p.l3 + 9 && in[p.l3 + 9] == pkt::kProtoIcmp) g.pptp.recount_quotes();
  model::Expect e = g.m.expect(dir, in);
  if (sabotage("class") && e.cls == VPNPT_CLASS_ESP) e.cls = VPNPT_CLASS_AH;
  if (sabotage("verdict") && e.reason == VPNPT_REASON_ESP_UNBOUND) e.verdicts = {XDP_PASS};
  if (sabotage("host") && e.rewrite == model::Rewrite::kDnat) e.host = e.host == kA ? kB : kA;
  if (sabotage("reason") && e.reason == VPNPT_REASON_GRE_NOT_PPTP) e.reason = VPNPT_REASON_GRE_NO_CALL;

  Snapshot before = snapshot(g.dp.progs);
  CounterTable xb = read_xlat(g.dp);
  auto r = run_xdp(g.dp.hook_fd(dir), in, 1, dir == VPNPT_DIR_OUTBOUND ? g.rt.lan_ifindex : g.rt.wan_ifindex);
  Snapshot after = snapshot(g.dp.progs);
  CounterTable xa = read_xlat(g.dp);
  if (sabotage("csum") && r.out != in && r.out.size() > 30) r.out[25] ^= 1;

  INFO("packet " << st.packets << " " << dir_name(dir) << ", model: " << class_name(e.cls) << " / "
                 << (e.reason ? std::string(reason_name(*e.reason)) : "any reason") << " (" << e.why << ")\n"
                 << "in:\n"
                 << pkt::hex(in) << "\nout (" << verdict_name(r.verdict) << "):\n"
                 << pkt::hex(r.out));
  if (test_hook() == Hook::Tc && tc_harness_refuses(in)) {
    REQUIRE(r.err == -EINVAL);
    return;
  }
  REQUIRE(r.err == 0);
  REQUIRE(r.out.size() == in.size());

  // P3: counters.
  for (uint32_t i = 0; i < VPNPT_COUNTER_SLOTS; ++i) {
    REQUIRE(after.counters[i].packets >= before.counters[i].packets);  // never backwards
    REQUIRE(xa[i].packets >= xb[i].packets);
    bool hit = i == vpnpt_counter_index(dir, e.cls);
    INFO("counter " << dir_name(i / VPNPT_CLASS_MAX) << "/" << class_name(i % VPNPT_CLASS_MAX));
    REQUIRE(after.counters[i].packets - before.counters[i].packets == (hit ? 1u : 0u));
    REQUIRE(after.counters[i].bytes - before.counters[i].bytes == (hit ? in.size() : 0u));
  }
  uint32_t got_reason = VPNPT_REASON_NONE;
  for (uint32_t i = 0; i < VPNPT_REASON_SLOTS; ++i) {
    REQUIRE(after.reasons[i].packets >= before.reasons[i].packets);
    uint64_t d = after.reasons[i].packets - before.reasons[i].packets;
    if (!d) continue;
    INFO("reason moved: " << dir_name(i / VPNPT_REASON_MAX) << "/" << reason_name(i % VPNPT_REASON_MAX));
    REQUIRE(d == 1);
    REQUIRE(i / VPNPT_REASON_MAX == dir);
    REQUIRE(got_reason == VPNPT_REASON_NONE);  // one reason per packet
    got_reason = i % VPNPT_REASON_MAX;
  }
  if (e.reason) {
    INFO("counted reason: " << reason_name(got_reason));
    REQUIRE(got_reason == *e.reason);
  }

  // P4: verdicts.
  REQUIRE(e.verdicts.count(r.verdict) == 1);
  {
    INFO("counted reason: " << reason_name(got_reason) << " has the fixed verdict " << reason_verdict(got_reason));
    if (got_reason) REQUIRE((r.verdict == XDP_DROP) == (reason_verdict(got_reason) == "drop"));
    if (VPNPT_REASON_IS_MALFORMED(got_reason) && e.cls == VPNPT_CLASS_MALFORMED) REQUIRE(r.out == in);
    if (r.verdict == XDP_DROP) REQUIRE(got_reason != VPNPT_REASON_NONE);  // never dropped silently
  }

  // xlat: moves iff vpnpt forwarded the packet itself or rewrote a control segment it passed.
  bool xlat_expected =
      r.verdict == XDP_REDIRECT || (e.cls == VPNPT_CLASS_PPTP_CTRL && r.verdict == XDP_PASS && r.out != in);
  if (sabotage("xlat") && e.cls == VPNPT_CLASS_GRE) xlat_expected = !xlat_expected;
  for (uint32_t i = 0; i < VPNPT_COUNTER_SLOTS; ++i) {
    bool hit = xlat_expected && i == vpnpt_counter_index(dir, e.cls);
    INFO("xlat " << dir_name(i / VPNPT_CLASS_MAX) << "/" << class_name(i % VPNPT_CLASS_MAX));
    REQUIRE(xa[i].packets - xb[i].packets == (hit ? 1u : 0u));
  }

  // P1 + P2: what changed.
  if (r.out != in) {
    REQUIRE(e.rewrite != model::Rewrite::kNone);
    st.rewritten++;
    if (p.later_fragment) st.followed++;
    if (pkt::ipv4_checksum_ok(in)) REQUIRE(pkt::ipv4_checksum_ok(r.out));
    if (pkt::l4_checksum_ok(in)) REQUIRE(pkt::l4_checksum_ok(r.out));
    uint32_t in_src, in_dst, out_src, out_dst;
    std::memcpy(&in_src, &in[p.l3 + 12], 4);
    std::memcpy(&in_dst, &in[p.l3 + 16], 4);
    std::memcpy(&out_src, &r.out[p.l3 + 12], 4);
    std::memcpy(&out_dst, &r.out[p.l3 + 16], 4);
    if (e.rewrite == model::Rewrite::kPptpPayload) {
      size_t pay = p.l4 + (in[p.l4 + 12] >> 4) * 4u;
      for (size_t i = 0; i < pay; ++i) {
        INFO("byte " << i << " of a control segment's headers changed");
        if (i != p.l4 + 16 && i != p.l4 + 17) REQUIRE(r.out[i] == in[i]);
      }
      REQUIRE(pkt::l4_checksum_ok(r.out) == pkt::l4_checksum_ok(in));
    } else {
      for (size_t i = 0; i < in.size(); ++i) {
        INFO("byte " << i << " changed");
        if (!may_change(p, e, i)) REQUIRE(r.out[i] == in[i]);
      }
      if (e.redirect) REQUIRE(r.out[p.l3 + 8] == in[p.l3 + 8] - 1);
      if (e.rewrite == model::Rewrite::kSnat) {
        REQUIRE(out_src == kPub);
        REQUIRE(out_dst == in_dst);
      } else {
        // The unforgivable one: only ever toward the host the mapping names.
        REQUIRE(out_dst == e.host);
        REQUIRE(out_src == in_src);
        if (e.gre_key) REQUIRE(pptp::be16_at(r.out, p.l4 + 6) == *e.gre_key);
        if (e.icmp_quote) {  // the quoted packet now comes from the host, and every checksum still adds up
          uint32_t quoted_src;
          std::memcpy(&quoted_src, &r.out[*e.icmp_quote + 12], 4);
          REQUIRE(quoted_src == e.host);
          size_t qlen = (in[*e.icmp_quote] & 0x0f) * 4u;
          REQUIRE(pkt::sum_ok(in, *e.icmp_quote, qlen) == pkt::sum_ok(r.out, *e.icmp_quote, qlen));
          size_t icmp = p.l3 + p.ihl, icmp_len = std::min(in.size(), p.l3 + p.tot) - icmp;
          REQUIRE(pkt::sum_ok(in, icmp, icmp_len) == pkt::sum_ok(r.out, icmp, icmp_len));
          st.icmp_relayed++;
        }
        st.delivered_in++;
      }
    }
  } else {
    // Only kNone and PPTP control, or forwarding that left nothing to change (never: TTL drops by one).
    REQUIRE((e.rewrite == model::Rewrite::kNone || e.rewrite == model::Rewrite::kPptpPayload));
  }
  st.packets++;
  if (p.fragmented && p.cls != VPNPT_CLASS_MALFORMED) st.fragments[{p.cls, p.later_fragment}]++;
  if (p.l3) st.vlan_stacks[p.vlans]++;
  if (p.cls == VPNPT_CLASS_MALFORMED && p.reason == VPNPT_REASON_VLAN_TOO_DEEP) st.vlan_stacks[3]++;
  st.per_class[e.cls]++;
  if (got_reason) st.per_reason[got_reason]++;
  if (r.verdict == XDP_REDIRECT) st.redirected++;
  if (r.verdict == XDP_DROP) st.dropped++;
}

}  // namespace

TEST_CASE("property: random and mutated packets through both hooks agree with the reference model",
          "[property][netns]") {
  uint64_t seed = property_seed();
  uint64_t n = property_packets(4000);
  std::cout << "property dataplane: seed " << seed << " (VPNPT_PROPERTY_SEED), " << n
            << " packets per hook (VPNPT_PROPERTY_PACKETS)" << std::endl;
  Rig g;
  Gen gen(seed, g);
  Stats st;
  for (uint64_t i = 0; i < 2 * n; ++i) {
    uint32_t dir = gen.chance(50) ? VPNPT_DIR_OUTBOUND : VPNPT_DIR_INBOUND;
    Bytes f = gen.frame(dir);
    model::Parsed p = model::parse(f, g.m.vlan_depth);
    std::optional<uint32_t> creator;  // an outbound control segment may set up a call of its sender
    if (p.cls == VPNPT_CLASS_PPTP_CTRL && dir == VPNPT_DIR_OUTBOUND) creator = p.saddr;
    if (sabotage("creator") && creator) creator = *creator ^ htonl(1);
    check_packet(g, dir, f, st);
    if (p.cls == VPNPT_CLASS_PPTP_CTRL) sync_pptp(g.m, g.dp, creator);
    if (i % 500 == 499) {
      check_esp_out(g.m, g.dp);
      drain_events(g.dp);  // the ring keeps working; a full ring would only lose events
    }
  }
  check_esp_out(g.m, g.dp);
  std::cout << "property dataplane: " << st.packets << " packets, " << st.redirected << " redirected, " << st.dropped
            << " dropped, " << st.rewritten << " rewritten (" << st.delivered_in << " delivered inbound, "
            << st.followed << " later fragments after their first, " << st.icmp_relayed << " ICMP errors relayed), "
            << g.m.calls.size() << " PPTP calls and " << g.m.esp_out.size() << " outbound SPIs at the end\n  classes:";
  for (auto [c, k] : st.per_class) std::cout << " " << class_name(c) << "=" << k;
  std::cout << "\n  reasons:";
  for (auto [r, k] : st.per_reason) std::cout << " " << reason_name(r) << "=" << k;
  std::cout << std::endl;
  // Every class, first and later fragments of GRE and ESP, and VLAN stacks of 0-3 tags were exercised.
  CHECK(st.per_class.size() == VPNPT_CLASS_MAX);
  for (uint32_t c : {uint32_t{VPNPT_CLASS_GRE}, uint32_t{VPNPT_CLASS_ESP}})
    for (bool later : {false, true}) CHECK(st.fragments[{c, later}] > 0);
  CHECK(st.fragments[{VPNPT_CLASS_OTHER, true}] > 0);  // later TCP/UDP fragments carry no ports
  CHECK(st.followed > 0);                              // ... and some followed a translated first fragment
  for (unsigned v = 0; v <= 3; ++v) CHECK(st.vlan_stacks[v] > 0);
  CHECK(st.redirected > 0);
  CHECK(st.delivered_in > 0);
  CHECK(st.icmp_relayed > 0);
}
