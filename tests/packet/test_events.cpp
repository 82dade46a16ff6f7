// Malformed packets are reported to the diagnostic ring when the load-time
// switch is on, and only counted when it is off; the events the daemon acts
// on have a ring of their own.
#include <arpa/inet.h>
#include <bpf/libbpf.h>

#include <catch2/catch.hpp>
#include <chrono>
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

  CHECK(drain(dp.progs.events_fd()).empty());  // nothing for the daemon to act on
  auto evs = drain(dp.progs.diag_events_fd());
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
  CHECK(drain(dp.progs.diag_events_fd()).empty());
  auto s = snapshot(dp.progs);
  CHECK(s.reasons[vpnpt_reason_index(VPNPT_DIR_OUTBOUND, VPNPT_REASON_IP_IHL)].packets == 1);
}

TEST_CASE("a flood of junk cannot starve the events the daemon acts on", "[bpf][events]") {
  Dataplane dp(LoadConfig{2, true});
  dp.configure(ip("203.0.113.1"));
  // 50,000 malformed packets from many sources, nobody draining the rings: far more than
  // they hold (256 KiB, 40-byte events).
  Ipv4Opts bad;
  bad.tot_len = 1500;
  auto t0 = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < 50000; ++i) {
    Bytes junk = frame(htonl(0xC6336400u + (i % 200)), ip("203.0.113.1"), kProtoUdp, udp(1, 2), bad);
    REQUIRE(run_xdp(dp.progs.wan_fd(), junk).verdict == XDP_PASS);
  }
  // Then a server's ESP with an SPI no host is bound to: the binder must hear of it.
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(run_xdp(dp.progs.wan_fd(), frame(ip("198.51.100.7"), ip("203.0.113.1"), kProtoEsp, esp(0x5151, 1))).verdict ==
          XDP_DROP);
  bool heard = false;
  for (const auto& e : drain(dp.progs.events_fd()))
    heard = heard || (e.kind == VPNPT_EV_ESP_UNKNOWN && e.id == 0x5151 && e.saddr == ip("198.51.100.7"));
  CHECK(heard);
  // Every malformed packet is still counted; reports of them are limited per source.
  auto s = snapshot(dp.progs);
  CHECK(s.reasons[vpnpt_reason_index(VPNPT_DIR_INBOUND, VPNPT_REASON_IP_TOTLEN)].packets == 50000);
  auto diag = drain(dp.progs.diag_events_fd());
  INFO(diag.size() << " reports in " << ms << " ms");
  CHECK(diag.size() >= 200);                                        // each source reported ...
  CHECK(diag.size() <= 200 * (static_cast<size_t>(ms) / 100 + 2));  // ... at most once per 100 ms each
}
