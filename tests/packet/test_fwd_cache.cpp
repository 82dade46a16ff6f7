// The next-hop cache of bpf/lib/fwd.h: a FIB answer is reused for at most the
// load-time bound (cfg_fib_cache_ns), never after; failures are not cached;
// a packet longer than the one the FIB checked asks the FIB again (MTU).
// Through the real programs (raw ESP inbound, a bound SPI) in a router namespace.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <sched.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "prog_runner.h"
#include "test_router.h"

using namespace vpnpt;
using namespace vpnpt::test;
using pkt::Bytes;
using pkt::ip;
using Clock = std::chrono::steady_clock;

namespace {

const uint32_t kPub = ip("203.0.113.1");
const uint32_t kSrv = ip(TestRouter::kServer.ip);
const uint32_t kA = ip(TestRouter::kClient.ip);
const std::array<uint8_t, 6> kNewMac{0x02, 0xc1, 0, 0, 0, 0x99};

struct CacheRig {
  TestRouter rt;  // first: the FIB lookups happen in its namespace
  Dataplane dp;
  explicit CacheRig(uint64_t bound_ns) : dp(LoadConfig{2, true, bound_ns}) {
    dp.configure(kPub, rt.wan_ifindex);
    dp.bind_spi(kSrv, 0x5151, kA);
  }
  // The server's ESP to the public address, @payload bytes of it.
  RunResult in(size_t payload = 48) {
    pkt::EthOpts e;
    std::copy(TestRouter::kServer.mac.begin(), TestRouter::kServer.mac.end(), e.src);
    std::copy(rt.wan_mac.begin(), rt.wan_mac.end(), e.dst);
    return run_xdp(dp.progs.wan_fd(),
                   pkt::frame(kSrv, kPub, pkt::kProtoEsp, pkt::esp(0x5151, 1, Bytes(payload, 0x77)), {}, e), 1,
                   rt.wan_ifindex);
  }
};

std::array<uint8_t, 6> dmac(const RunResult& r) {
  std::array<uint8_t, 6> m{};
  std::copy(r.out.begin(), r.out.begin() + 6, m.begin());
  return m;
}

void sh(const std::string& cmd) { REQUIRE(std::system((cmd + " >/dev/null 2>&1").c_str()) == 0); }

// Keeps this thread on the CPU it runs on, for the test's lifetime: the cache
// is per CPU, and a packet run on another CPU would ask the FIB afresh.
struct StayOnThisCpu {
  cpu_set_t saved{};
  bool ok = false;
  StayOnThisCpu() {
    int cpu = sched_getcpu();
    if (cpu < 0 || sched_getaffinity(0, sizeof(saved), &saved) != 0) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    ok = sched_setaffinity(0, sizeof(one), &one) == 0;
  }
  ~StayOnThisCpu() {
    if (ok) sched_setaffinity(0, sizeof(saved), &saved);
  }
};

}  // namespace

TEST_CASE("next-hop cache: a neighbour change reaches the fast path within the bound", "[fwd][netns]") {
  if (test_hook() == Hook::Tc) {
    // At TC the neighbour layer writes the MACs after the program, from the neighbour table as it is
    // then: the frame leaves vpnpt with the addresses it came with, before the change and after it.
    CacheRig g(VPNPT_FIB_CACHE_NS_MAX);
    auto r = g.in();
    REQUIRE(r.verdict == XDP_REDIRECT);
    CHECK(dmac(r) == g.rt.wan_mac);
    sh("ip neigh replace " + std::string(TestRouter::kClient.ip) + " lladdr 02:c1:00:00:00:99 dev lan0 nud permanent");
    auto x = g.in();
    REQUIRE(x.verdict == XDP_REDIRECT);
    CHECK(dmac(x) == g.rt.wan_mac);
    return;
  }
  const auto bound = std::chrono::milliseconds(300);
  // Two ticks of slack for the data plane's clock (bpf/lib/clock.h; 20 ms at HZ=100), and a little for the test.
  const auto slack = std::chrono::milliseconds(25);
  StayOnThisCpu pin;
  REQUIRE(pin.ok);
  CacheRig g(std::chrono::nanoseconds(bound).count());
  auto r = g.in();
  REQUIRE(r.verdict == XDP_REDIRECT);
  REQUIRE(dmac(r) == TestRouter::kClient.mac);

  // The neighbour's MAC changes; the cached answer was obtained before the change.
  const auto changed = Clock::now();
  sh("ip neigh replace " + std::string(TestRouter::kClient.ip) + " lladdr 02:c1:00:00:00:99 dev lan0 nud permanent");
  bool served_old = false, seen_new = false;
  while (Clock::now() - changed < bound + bound / 2) {
    const auto t = Clock::now();
    auto x = g.in();
    REQUIRE(x.verdict == XDP_REDIRECT);
    REQUIRE(pkt::ipv4_checksum_ok(x.out));
    const bool old = dmac(x) == TestRouter::kClient.mac;
    if (!old) REQUIRE(dmac(x) == kNewMac);
    if (old) {
      // Never the old answer beyond the bound, and never again once the new one was seen.
      INFO("old MAC served " << std::chrono::duration_cast<std::chrono::milliseconds>(t - changed).count()
                             << " ms after the change");
      REQUIRE(t - changed < bound + slack);
      REQUIRE_FALSE(seen_new);
      served_old = true;
    } else {
      seen_new = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  CHECK(seen_new);
  // The cache is in use at all (the first packets after the change were served from it),
  // unless the machine was so slow that the change itself took longer than the bound.
  if (Clock::now() - changed < 10 * bound) CHECK(served_old);
}

TEST_CASE("next-hop cache: failures are not cached", "[fwd][netns]") {
  CacheRig g(VPNPT_FIB_CACHE_NS_MAX);
  sh("ip neigh del " + std::string(TestRouter::kClient.ip) + " dev lan0");
  auto r = g.in();
  if (test_hook() == Hook::Tc) {
    CHECK(r.verdict == XDP_REDIRECT);  // the neighbour layer resolves it
    CHECK(g.dp.reason(VPNPT_REASON_FIB_NO_NEIGH) == 0);
    return;
  }
  CHECK(r.verdict == XDP_PASS);  // translated, to the stack, which resolves the neighbour
  CHECK(g.dp.reason(VPNPT_REASON_FIB_NO_NEIGH) == 1);
  sh("ip neigh replace " + std::string(TestRouter::kClient.ip) + " lladdr 02:c1:00:00:00:99 dev lan0 nud permanent");
  auto r2 = g.in();  // at once: no negative answer was kept
  CHECK(r2.verdict == XDP_REDIRECT);
  CHECK(dmac(r2) == kNewMac);
}

TEST_CASE("next-hop cache: a longer packet than the cached one checked asks the FIB (MTU)", "[fwd][netns]") {
  CacheRig g(VPNPT_FIB_CACHE_NS_MAX);
  sh("ip link set lan0 mtu 1000");
  auto small = g.in(48);
  REQUIRE(small.verdict == XDP_REDIRECT);
  // 1100 bytes of IP packet > the LAN's MTU: the FIB refuses, even right after a cached answer.
  auto big = g.in(1100 - 20 - 8);
  CHECK(big.verdict == XDP_PASS);
  CHECK(g.dp.reason(VPNPT_REASON_FIB_OTHER) == 1);
  // Up to the MTU: redirected (the FIB checked it), then smaller ones from the cache.
  auto fits = g.in(1000 - 20 - 8);
  CHECK(fits.verdict == XDP_REDIRECT);
  CHECK(g.in(500).verdict == XDP_REDIRECT);
  CHECK(g.in(1100 - 20 - 8).verdict == XDP_PASS);
  CHECK(g.dp.reason(VPNPT_REASON_FIB_OTHER) == 2);
}
