// Malformed packets are reported to the diagnose ring when the load-time
// switch is on, and only counted when it is off.
#include <bpf/libbpf.h>

#include <catch2/catch.hpp>
#include <vector>

#include "prog_runner.h"

using namespace vpnpt;
using namespace vpnpt::test;
using namespace pkt;

namespace {

int collect(void* ctx, void* data, size_t size) {
  auto* out = static_cast<std::vector<vpnpt_event>*>(ctx);
  if (size >= sizeof(vpnpt_event)) out->push_back(*static_cast<vpnpt_event*>(data));
  return 0;
}

std::vector<vpnpt_event> drain(int fd) {
  std::vector<vpnpt_event> evs;
  ring_buffer* rb = ring_buffer__new(fd, collect, &evs, nullptr);
  REQUIRE(rb != nullptr);
  ring_buffer__consume(rb);
  ring_buffer__free(rb);
  return evs;
}

}  // namespace

TEST_CASE("malformed packets produce one diagnose event each", "[bpf][events]") {
  Dataplane dp(LoadConfig{2, true});
  Ipv4Opts bad;
  bad.tot_len = 1500;
  Bytes in = frame(ip("198.51.100.9"), ip("203.0.113.1"), kProtoUdp, udp(1, 2), bad);
  REQUIRE(run_xdp(dp.progs.wan_fd(), in).verdict == XDP_PASS);
  REQUIRE(run_xdp(dp.progs.wan_fd(), frame(ip("198.51.100.9"), ip("203.0.113.1"), kProtoEsp, esp(1, 1))).verdict ==
          XDP_PASS);  // well-formed: no event

  auto evs = drain(dp.progs.events_fd());
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].kind == VPNPT_EV_MALFORMED);
  CHECK(evs[0].reason == VPNPT_REASON_IP_TOTLEN);
  CHECK(evs[0].dir == VPNPT_DIR_INBOUND);
  CHECK(evs[0].saddr == ip("198.51.100.9"));
  CHECK(evs[0].daddr == ip("203.0.113.1"));
  CHECK(evs[0].ktime_ns > 0);
}

TEST_CASE("with events off, malformed packets are only counted", "[bpf][events]") {
  Dataplane dp(LoadConfig{2, false});
  Ipv4Opts bad;
  bad.ihl = 3;
  REQUIRE(run_xdp(dp.progs.lan_fd(), frame(ip("192.168.1.2"), ip("203.0.113.1"), kProtoUdp, udp(1, 2), bad)).verdict ==
          XDP_PASS);
  CHECK(drain(dp.progs.events_fd()).empty());
  auto s = snapshot(dp.progs);
  CHECK(s.reasons[vpnpt_reason_index(VPNPT_DIR_OUTBOUND, VPNPT_REASON_IP_IHL)].packets == 1);
}
