// Classification and counting: every class and every malformed reason, on
// both hooks, through the real programs. Each case asserts the verdict,
// that the frame left untouched, and that exactly one counter slot (and for
// malformed packets one reason slot) moved by exactly this packet.
#include <catch2/catch.hpp>

#include "loader/core/names.h"
#include "prog_runner.h"

using namespace vpnpt;
using namespace vpnpt::test;
using namespace pkt;

namespace {

const uint32_t kLan = ip("192.168.1.10");
const uint32_t kSrv = ip("203.0.113.7");

struct Case {
  const char* name;
  Bytes in;
  vpnpt_class cls;
  vpnpt_reason reason = VPNPT_REASON_NONE;
};

Bytes l2tp_hdr() { return Bytes{0x02, 0x02, 0x00, 0x01, 0x00, 0x02}; }  // T=0, ver 2, tunnel 1, session 2

std::vector<Case> cases() {
  Ipv4Opts frag_later;
  frag_later.frag = 0x2000 | 100;  // MF + offset 800
  Ipv4Opts frag_first;
  frag_first.frag = 0x2000;  // MF, offset 0
  Ipv4Opts with_opts;
  with_opts.options = {0x94, 0x04, 0x00, 0x00};  // router alert
  Ipv4Opts v6;
  v6.version = 6;
  Ipv4Opts ihl4;
  ihl4.ihl = 4;
  Ipv4Opts ihl15;
  ihl15.ihl = 15;
  Ipv4Opts long_tot;
  long_tot.tot_len = 1400;
  Ipv4Opts short_tot;
  short_tot.tot_len = 16;
  EthOpts one_vlan;
  one_vlan.vlans = {100};
  EthOpts two_vlans;
  two_vlans.vlans = {100, 200};
  two_vlans.qinq = true;
  EthOpts three_vlans;
  three_vlans.vlans = {1, 2, 3};

  Bytes ip_only = ipv4(kLan, kSrv, kProtoUdp, udp(1000, 500));
  return {
      {"TCP to 1723 is PPTP control", frame(kLan, kSrv, kProtoTcp, tcp(40000, 1723)), VPNPT_CLASS_PPTP_CTRL},
      {"TCP from 1723 is PPTP control", frame(kSrv, kLan, kProtoTcp, tcp(1723, 40000)), VPNPT_CLASS_PPTP_CTRL},
      {"TCP 80 is other", frame(kLan, kSrv, kProtoTcp, tcp(40000, 80)), VPNPT_CLASS_OTHER},
      {"enhanced GRE v1 with seq+ack", frame(kLan, kSrv, kProtoGre, gre_v1(7, Bytes(20, 1), 5, 4)), VPNPT_CLASS_GRE},
      {"enhanced GRE v1 ack only", frame(kLan, kSrv, kProtoGre, gre_v1(7, {}, std::nullopt, 4)), VPNPT_CLASS_GRE},
      {"GRE v0", frame(kLan, kSrv, kProtoGre, gre_v0(0x0800, Bytes(20, 1))), VPNPT_CLASS_GRE},
      {"UDP 500 is IKE", frame(kLan, kSrv, kProtoUdp, udp(500, 500, Bytes(28, 0))), VPNPT_CLASS_IKE},
      {"UDP 4500 is NAT-T", frame(kLan, kSrv, kProtoUdp, udp(4500, 4500, esp(0x1000, 1))), VPNPT_CLASS_NATT},
      {"UDP 500->4500 counts as NAT-T", frame(kLan, kSrv, kProtoUdp, udp(500, 4500)), VPNPT_CLASS_NATT},
      {"UDP 1701 is L2TP", frame(kLan, kSrv, kProtoUdp, udp(1701, 1701, l2tp_hdr())), VPNPT_CLASS_L2TP},
      {"UDP from LNS port 1701 to ephemeral", frame(kSrv, kLan, kProtoUdp, udp(1701, 33000, l2tp_hdr())),
       VPNPT_CLASS_L2TP},
      {"UDP 53 is other", frame(kLan, kSrv, kProtoUdp, udp(5353, 53)), VPNPT_CLASS_OTHER},
      {"ESP", frame(kLan, kSrv, kProtoEsp, esp(0xdeadbeef, 1)), VPNPT_CLASS_ESP},
      {"AH", frame(kLan, kSrv, kProtoAh, ah(0x100, 1)), VPNPT_CLASS_AH},
      {"ICMP is other", frame(kLan, kSrv, kProtoIcmp, icmp_echo(1, 1)), VPNPT_CLASS_OTHER},
      {"IPv6 is untouched non-IPv4", ether(Bytes(40, 0x60), kEthIpv6), VPNPT_CLASS_NON_IPV4},
      {"ARP is untouched non-IPv4", ether(Bytes(28, 0), kEthArp), VPNPT_CLASS_NON_IPV4},
      {"IP options are skipped", frame(kLan, kSrv, kProtoUdp, udp(500, 500), with_opts), VPNPT_CLASS_IKE},
      {"one VLAN tag", frame(kLan, kSrv, kProtoUdp, udp(1701, 1701, l2tp_hdr()), {}, one_vlan), VPNPT_CLASS_L2TP},
      {"QinQ (two tags)", frame(kLan, kSrv, kProtoEsp, esp(1, 1), {}, two_vlans), VPNPT_CLASS_ESP},
      {"Ethernet padding after a short datagram", pad_to(frame(kLan, kSrv, kProtoUdp, udp(500, 500)), 80),
       VPNPT_CLASS_IKE},
      {"first fragment is classified by ports", frame(kLan, kSrv, kProtoUdp, udp(500, 500, Bytes(64, 0)), frag_first),
       VPNPT_CLASS_IKE},
      {"later UDP fragment has no ports: other", frame(kLan, kSrv, kProtoUdp, Bytes(64, 0), frag_later),
       VPNPT_CLASS_OTHER},
      {"later ESP fragment is still ESP", frame(kLan, kSrv, kProtoEsp, Bytes(64, 0), frag_later), VPNPT_CLASS_ESP},
      {"later GRE fragment is still GRE", frame(kLan, kSrv, kProtoGre, Bytes(2, 0), frag_later), VPNPT_CLASS_GRE},

      {"VLAN tag cut off", truncate(frame(kLan, kSrv, kProtoUdp, udp(1, 2), {}, one_vlan), 16), VPNPT_CLASS_MALFORMED,
       VPNPT_REASON_VLAN_TRUNC},
      {"three VLAN tags", frame(kLan, kSrv, kProtoUdp, udp(1, 2), {}, three_vlans), VPNPT_CLASS_MALFORMED,
       VPNPT_REASON_VLAN_TOO_DEEP},
      {"IPv4 header cut off", truncate(frame(kLan, kSrv, kProtoUdp, udp(1, 2)), 14 + 12), VPNPT_CLASS_MALFORMED,
       VPNPT_REASON_IP_TRUNC},
      {"version 6 under EtherType IPv4", frame(kLan, kSrv, kProtoUdp, udp(1, 2), v6), VPNPT_CLASS_MALFORMED,
       VPNPT_REASON_IP_VERSION},
      {"IHL 4", frame(kLan, kSrv, kProtoUdp, udp(1, 2), ihl4), VPNPT_CLASS_MALFORMED, VPNPT_REASON_IP_IHL},
      {"IHL 15 beyond the frame", truncate(frame(kLan, kSrv, kProtoUdp, udp(1, 2), ihl15), 14 + 40),
       VPNPT_CLASS_MALFORMED, VPNPT_REASON_IP_IHL},
      {"total length beyond the frame", frame(kLan, kSrv, kProtoUdp, udp(1, 2), long_tot), VPNPT_CLASS_MALFORMED,
       VPNPT_REASON_IP_TOTLEN},
      {"total length below the header", frame(kLan, kSrv, kProtoUdp, udp(1, 2), short_tot), VPNPT_CLASS_MALFORMED,
       VPNPT_REASON_IP_TOTLEN},
      {"TCP header cut off, IP length cut too", ether(truncate(ipv4(kLan, kSrv, kProtoTcp, tcp(1, 1723)), 20 + 12)),
       VPNPT_CLASS_MALFORMED, VPNPT_REASON_IP_TOTLEN},
      {"TCP header cut off, length consistent", ether(ipv4(kLan, kSrv, kProtoTcp, Bytes(12, 0))), VPNPT_CLASS_MALFORMED,
       VPNPT_REASON_L4_TRUNC},
      {"UDP header cut off", ether(truncate(ip_only, 20 + 6)), VPNPT_CLASS_MALFORMED, VPNPT_REASON_IP_TOTLEN},
      {"UDP header cut off, length consistent", ether(ipv4(kLan, kSrv, kProtoUdp, Bytes(6, 0))), VPNPT_CLASS_MALFORMED,
       VPNPT_REASON_L4_TRUNC},
      {"GRE header cut off", ether(ipv4(kLan, kSrv, kProtoGre, Bytes(2, 0x20))), VPNPT_CLASS_MALFORMED,
       VPNPT_REASON_L4_TRUNC},
      {"ESP header cut off", ether(ipv4(kLan, kSrv, kProtoEsp, Bytes(4, 1))), VPNPT_CLASS_MALFORMED,
       VPNPT_REASON_L4_TRUNC},
  };
}

// Asserts that between @before and @after exactly slot @cls (and @reason) moved by one packet of @bytes.
void require_only(const Snapshot& before, const Snapshot& after, uint32_t dir, const Case& c, uint64_t bytes) {
  for (uint32_t d = 0; d < VPNPT_DIR_MAX; ++d)
    for (uint32_t k = 0; k < VPNPT_CLASS_MAX; ++k) {
      uint32_t i = vpnpt_counter_index(d, k);
      bool hit = d == dir && k == static_cast<uint32_t>(c.cls);
      INFO("counter " << dir_name(d) << "/" << class_name(k));
      REQUIRE(after.counters[i].packets - before.counters[i].packets == (hit ? 1u : 0u));
      REQUIRE(after.counters[i].bytes - before.counters[i].bytes == (hit ? bytes : 0u));
    }
  for (uint32_t d = 0; d < VPNPT_DIR_MAX; ++d)
    for (uint32_t r = 0; r < VPNPT_REASON_MAX; ++r) {
      uint32_t i = vpnpt_reason_index(d, r);
      bool hit = c.reason != VPNPT_REASON_NONE && d == dir && r == static_cast<uint32_t>(c.reason);
      INFO("reason " << dir_name(d) << "/" << reason_name(r));
      REQUIRE(after.reasons[i].packets - before.reasons[i].packets == (hit ? 1u : 0u));
    }
}

}  // namespace

TEST_CASE("every packet is classified, counted once, and passed untouched", "[bpf][classify]") {
  Dataplane dp;
  for (uint32_t dir : {uint32_t{VPNPT_DIR_OUTBOUND}, uint32_t{VPNPT_DIR_INBOUND}}) {
    for (const auto& c : cases()) {
      DYNAMIC_SECTION(dir_name(dir) << ": " << c.name) {
        auto before = snapshot(dp.progs);
        auto r = run_xdp(dp.hook_fd(dir), c.in);
        if (test_hook() == Hook::Tc && tc_harness_refuses(c.in)) {
          CHECK(r.err == -EINVAL);
          return;
        }
        REQUIRE(r.err == 0);
        INFO("input:\n" << hex(c.in));
        CHECK(std::string(verdict_name(r.verdict)) == "XDP_PASS");
        CHECK(r.out == c.in);
        require_only(before, snapshot(dp.progs), dir, c, c.in.size());
      }
    }
  }
}

TEST_CASE("VLAN depth is a load-time setting", "[bpf][classify][config]") {
  EthOpts one;
  one.vlans = {42};
  EthOpts two;
  two.vlans = {42, 43};
  Bytes untagged = frame(kLan, kSrv, kProtoEsp, esp(1, 1));
  Bytes tagged1 = frame(kLan, kSrv, kProtoEsp, esp(1, 1), {}, one);
  Bytes tagged2 = frame(kLan, kSrv, kProtoEsp, esp(1, 1), {}, two);

  for (uint32_t depth = 0; depth <= VPNPT_VLAN_DEPTH_MAX; ++depth) {
    DYNAMIC_SECTION("depth " << depth) {
      Dataplane dp(LoadConfig{depth, true});
      for (auto [in, tags] : {std::pair{&untagged, 0u}, std::pair{&tagged1, 1u}, std::pair{&tagged2, 2u}}) {
        auto before = snapshot(dp.progs);
        auto r = run_xdp(dp.progs.lan_fd(), *in);
        REQUIRE(r.err == 0);
        REQUIRE(r.verdict == XDP_PASS);
        auto after = snapshot(dp.progs);
        uint32_t esp_i = vpnpt_counter_index(VPNPT_DIR_OUTBOUND, VPNPT_CLASS_ESP);
        uint32_t deep_i = vpnpt_reason_index(VPNPT_DIR_OUTBOUND, VPNPT_REASON_VLAN_TOO_DEEP);
        INFO(tags << " tags");
        CHECK(after.counters[esp_i].packets - before.counters[esp_i].packets == (tags <= depth ? 1u : 0u));
        CHECK(after.reasons[deep_i].packets - before.reasons[deep_i].packets == (tags <= depth ? 0u : 1u));
      }
    }
  }
}

TEST_CASE("counters accumulate per packet and bytes are whole frames", "[bpf][classify]") {
  Dataplane dp;
  Bytes gre = frame(kSrv, ip("198.51.100.1"), kProtoGre, gre_v1(9, Bytes(100, 7), 1));
  auto before = snapshot(dp.progs);
  for (int i = 0; i < 10; ++i) REQUIRE(run_xdp(dp.progs.wan_fd(), gre).verdict == XDP_PASS);
  auto r = run_xdp(dp.progs.wan_fd(), gre, 1000);  // repeat also counts every run
  REQUIRE(r.err == 0);
  auto after = snapshot(dp.progs);
  uint32_t i = vpnpt_counter_index(VPNPT_DIR_INBOUND, VPNPT_CLASS_GRE);
  CHECK(after.counters[i].packets - before.counters[i].packets == 1010u);
  CHECK(after.counters[i].bytes - before.counters[i].bytes == 1010u * gre.size());
}
