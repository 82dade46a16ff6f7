// Per-program cost of vpnpt's data plane: ns per packet for each program and
// path (translated hit, miss, slow-path report, classify only), measured with
// BPF_PROG_TEST_RUN in live-frames mode and a large repeat count inside a
// throwaway router namespace (so bpf_fib_lookup answers as on a router and
// redirects are transmitted). Prints a table and, with --json, JSON. A
// benchmark, not a test: it asserts nothing about speed.
//
//   build/tools/bench/vpnpt_bench_progs [--repeat N] [--json]
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "loader/log.h"
#include "pptp_builder.h"
#include "prog_runner.h"
#include "test_router.h"

using namespace vpnpt;
using namespace vpnpt::test;
using pkt::Bytes;
using pkt::ip;

namespace {

struct Row {
  std::string path;
  std::string verdict;
  double ns;
};

pkt::EthOpts eth(const std::array<uint8_t, 6>& src, const std::array<uint8_t, 6>& dst) {
  pkt::EthOpts e;
  std::copy(src.begin(), src.end(), e.src);
  std::copy(dst.begin(), dst.end(), e.dst);
  return e;
}

// Runs @in @repeat times in live-frames mode: every iteration starts from
// the original frame (a plain repeated test run would keep translating the
// already-translated packet), and redirects are really transmitted, as on a
// router. Returns ns per packet, or a negative errno.
double live_ns(int prog_fd, const Bytes& in, uint32_t repeat, uint32_t ifindex) {
  xdp_md ctx{};
  ctx.data_end = static_cast<__u32>(in.size());
  ctx.ingress_ifindex = ifindex;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_size_in = static_cast<__u32>(in.size()),
              .ctx_in = &ctx, .ctx_size_in = static_cast<__u32>(sizeof(ctx)), .repeat = static_cast<int>(repeat),
              .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
  if (bpf_prog_test_run_opts(prog_fd, &opts)) return -errno;
  return opts.duration;
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t repeat = 1000000;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json")) json = true;
    else if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = static_cast<uint32_t>(std::stoul(argv[++i]));
    else {
      std::fprintf(stderr, "usage: %s [--repeat N] [--json]\n", argv[0]);
      return 2;
    }
  }
  init_logging("warn", false);
  TestRouter rt;
  Dataplane dp;
  const uint32_t pub = ip("203.0.113.1"), srv = ip(TestRouter::kServer.ip), a = ip(TestRouter::kClient.ip);
  dp.configure(pub, rt.wan_ifindex);
  auto lan_eth = eth(TestRouter::kClient.mac, rt.lan_mac);
  auto wan_eth = eth(TestRouter::kServer.mac, rt.wan_mac);

  // One PPTP call (client Call ID 1000, server's 0) and one bound ESP SA.
  pptp::TcpFlow up{a, srv, 40000, 1723, 100}, down{srv, pub, 1723, 40000, 900};
  run_xdp(dp.progs.lan_fd(), up.syn());
  run_xdp(dp.progs.wan_fd(), down.syn(true));
  run_xdp(dp.progs.lan_fd(), up.data(pptp::ocrq(1000)));
  run_xdp(dp.progs.wan_fd(), down.data(pptp::ocrp(0, 1000)));
  vpnpt_esp_key k{srv, htonl(0x5151)};
  vpnpt_esp_sa sa{};
  sa.host = a;
  bpf_map_update_elem(dp.map_fd(VPNPT_MAP_ESP_IN), &k, &sa, BPF_ANY);

  Bytes payload(64, 0x5a);  // about a 64-byte-payload VPN packet
  struct Case {
    const char* path;
    bool lan;
    Bytes in;
  } cases[] = {
      {"classify only: UDP other, LAN", true, pkt::frame(a, srv, pkt::kProtoUdp, pkt::udp(1234, 9, payload), {}, lan_eth)},
      {"GRE out: translate + redirect", true,
       pkt::frame(a, srv, pkt::kProtoGre, pkt::gre_v1(0, payload, 1, 1), {}, lan_eth)},
      {"GRE in: translate + redirect", false,
       pkt::frame(srv, pub, pkt::kProtoGre, pkt::gre_v1(1000, payload, 1, 1), {}, wan_eth)},
      {"GRE in: no call (to the stack)", false,
       pkt::frame(srv, pub, pkt::kProtoGre, pkt::gre_v1(4242, payload, 1), {}, wan_eth)},
      {"ESP out: learn/SNAT + redirect", true, pkt::frame(a, srv, pkt::kProtoEsp, pkt::esp(0x7777, 1, payload), {}, lan_eth)},
      {"ESP in: bound SPI + redirect", false,
       pkt::frame(srv, pub, pkt::kProtoEsp, pkt::esp(0x5151, 1, payload), {}, wan_eth)},
      {"ESP in: unknown SPI (drop, report)", false,
       pkt::frame(srv, pub, pkt::kProtoEsp, pkt::esp(0x9999, 1, payload), {}, wan_eth)},
      {"PPTP control: Echo-Request (walked)", true, up.data_at(up.next, pptp::message(pptp::ECHORQ))},
  };

  std::vector<Row> rows;
  for (const auto& c : cases) {
    int fd = c.lan ? dp.progs.lan_fd() : dp.progs.wan_fd();
    uint32_t ifi = c.lan ? rt.lan_ifindex : rt.wan_ifindex;
    auto once = run_xdp(fd, c.in, 1, ifi);  // the verdict of one fresh packet
    double ns = live_ns(fd, c.in, repeat, ifi);
    if (once.err || ns < 0) {
      std::fprintf(stderr, "%s: test run failed (%d / %.0f)\n", c.path, once.err, ns);
      return 1;
    }
    rows.push_back({c.path, verdict_name(once.verdict), ns});
  }

  if (json) {
    std::printf("{\"repeat\": %u, \"results\": [", repeat);
    for (size_t i = 0; i < rows.size(); ++i)
      std::printf("%s{\"path\": \"%s\", \"verdict\": \"%s\", \"ns_per_packet\": %.0f}", i ? ", " : "",
                  rows[i].path.c_str(), rows[i].verdict.c_str(), rows[i].ns);
    std::printf("]}\n");
  } else {
    std::printf("%-40s %-14s %10s\n", "path (BPF_PROG_TEST_RUN)", "verdict", "ns/packet");
    for (const auto& r : rows) std::printf("%-40s %-14s %10.0f\n", r.path.c_str(), r.verdict.c_str(), r.ns);
    std::printf("(%u live frames each, one core; redirected frames are really transmitted on the test veths)\n",
                repeat);
  }
  return 0;
}
