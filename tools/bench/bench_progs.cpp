// Per-program cost of vpnpt's data plane: ns per packet for each program and
// path (translated hit, miss, slow-path report, classify only), measured with
// BPF_PROG_TEST_RUN in live-frames mode and a large repeat count inside a
// throwaway router namespace (so bpf_fib_lookup answers as on a router and
// redirects are transmitted). Prints a table and, with --json, JSON. A
// benchmark, not a test: it asserts nothing about speed.
//
// It also measures the slow-path setup rates with a crafted load, one core:
// PPTP calls set up through the XDP control-message path (OCRQ through the
// LAN hook, OCRP through the WAN hook, on one control connection), raw-ESP
// SPIs learned by the LAN hook, and inbound ESP bindings end to end (the WAN
// hook drops and reports the unknown SPI, the daemon's binder decides after
// the host's IKE exchange, the binding is written into the map), and L2TP
// tunnels set up end to end (the LAN hook queues the SCCRQ, the daemon's
// slow path assigns the tunnel, writes the tables and sends the request on).
//
//   build/tools/bench/vpnpt_bench_progs [--repeat N] [--setups N] [--fib-cache-ns N] [--json]
//
// --fib-cache-ns sets the next-hop cache bound the programs are loaded with
// (default: the product's; 0 = every packet asks the FIB).
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "loader/proto/ipsec/esp_table.h"
#include "loader/proto/ipsec/ipsec_binder.h"
#include "l2tp_builder.h"
#include "loader/core/clock.h"
#include "loader/proto/l2tp/l2tp_slowpath.h"
#include "loader/proto/l2tp/l2tp_table.h"
#include "loader/core/log.h"
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

struct Setup {
  std::string what;
  uint32_t count;
  double per_second;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

pkt::EthOpts eth(const std::array<uint8_t, 6>& src, const std::array<uint8_t, 6>& dst) {
  pkt::EthOpts e;
  std::copy(src.begin(), src.end(), e.src);
  std::copy(dst.begin(), dst.end(), e.dst);
  return e;
}

// bench_reset (tools/bench/bench_xdp.bpf.c) around the program under test: live
// frames are recycled with whatever the last run wrote into them, so without it
// every frame after the first pass of the page pool would be the translated packet
// (outbound: from the public IP, no session; inbound: not for the gateway), not the
// path being measured. It writes the first 64 bytes back, then tail-calls the program.
struct Reset {
  bpf_object* o = nullptr;
  int prog = -1, next = -1, cfg = -1;
  Reset() {
    o = bpf_object__open_file(VPNPT_BPF_DIR "/bench_xdp.bpf.o", nullptr);
    if (!o || bpf_object__load(o)) throw std::runtime_error("cannot load bench_xdp.bpf.o");
    prog = bpf_program__fd(bpf_object__find_program_by_name(o, "bench_reset"));
    next = bpf_map__fd(bpf_object__find_map_by_name(o, "reset_next"));
    cfg = bpf_map__fd(bpf_object__find_map_by_name(o, "gen_cfg_map"));
  }
  ~Reset() { bpf_object__close(o); }
  Reset(const Reset&) = delete;
  Reset& operator=(const Reset&) = delete;
  // The next runs of prog() restore @frame's header and run @target.
  void arm(int target, const Bytes& frame) const {
    struct {
      uint32_t gen[8];  // gen_cfg's flow fields, unused here
      uint8_t hdr[64];
    } c{};
    std::copy(frame.begin(), frame.begin() + std::min<size_t>(64, frame.size()), c.hdr);
    uint32_t k = 0;
    if (bpf_map_update_elem(cfg, &k, &c, BPF_ANY) || bpf_map_update_elem(next, &k, &target, BPF_ANY))
      throw std::runtime_error("cannot arm bench_reset");
  }
};

// Runs @in @repeat times in live-frames mode (through bench_reset, so every
// iteration sees the original header); redirects are really attempted, as on
// a router. Returns ns per packet, or a negative errno.
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
  uint32_t setups = 20000;
  bool json = false;
  LoadConfig load;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json"))
      json = true;
    else if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc)
      repeat = static_cast<uint32_t>(std::stoul(argv[++i]));
    else if (!std::strcmp(argv[i], "--setups") && i + 1 < argc)
      setups = static_cast<uint32_t>(std::stoul(argv[++i]));
    else if (!std::strcmp(argv[i], "--fib-cache-ns") && i + 1 < argc)
      load.fib_cache_ns = std::stoull(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--repeat N] [--setups N] [--fib-cache-ns N] [--json]\n", argv[0]);
      return 2;
    }
  }
  init_logging("warn", false);
  TestRouter rt;
  Dataplane dp(load);
  const uint32_t pub = ip("203.0.113.1"), srv = ip(TestRouter::kServer.ip), a = ip(TestRouter::kClient.ip);
  dp.configure(pub, rt.wan_ifindex);
  auto lan_eth = eth(TestRouter::kClient.mac, rt.lan_mac);
  auto wan_eth = eth(TestRouter::kServer.mac, rt.wan_mac);

  Bytes payload(64, 0x5a);  // about a 64-byte-payload VPN packet

  // One PPTP call (client Call ID 1000, server's 0) and one bound ESP SA.
  pptp::TcpFlow up{a, srv, 40000, 1723, 100}, down{srv, pub, 1723, 40000, 900};
  run_xdp(dp.progs.lan_fd(), up.syn());
  if (pptp::masquerade(up, down) != 0) throw std::runtime_error("cannot add the control connection to conntrack");
  run_xdp(dp.progs.wan_fd(), down.syn_ack(up));
  run_xdp(dp.progs.lan_fd(), up.data(pptp::ocrq(1000)));
  run_xdp(dp.progs.wan_fd(), down.data(pptp::ocrp(0, 1000)));
  dp.bind_spi(srv, 0x5151, a);
  // One L2TP tunnel: the client's port 1701 kept, its Tunnel ID 7 known to the server as 8.
  vpnpt_l2tp_tunnel tv{};
  tv.state = VPNPT_L2TP_ESTABLISHED;
  tv.server = srv;
  tv.client = a;
  tv.client_port = tv.public_port = htons(1701);
  tv.client_tunnel_id = htons(7);
  auto l2tp = L2tpTable::map(
      {dp.map_fd(VPNPT_MAP_L2TP_TUNNELS), dp.map_fd(VPNPT_MAP_L2TP_OUT), dp.map_fd(VPNPT_MAP_L2TP_PORTS)});
  if (!l2tp || !l2tp->insert(8, tv)) throw std::runtime_error("cannot install the L2TP tunnel");
  auto l2tp_data = [&](uint16_t tunnel) {  // L2TPv2 data header without length: flags, tunnel, session
    Bytes b(6 + payload.size(), 0);
    b[1] = 0x02, b[2] = static_cast<uint8_t>(tunnel >> 8), b[3] = static_cast<uint8_t>(tunnel), b[5] = 1;
    std::copy(payload.begin(), payload.end(), b.begin() + 6);
    return b;
  };

  struct Case {
    const char* path;
    bool lan;
    Bytes in;
  } cases[] = {
      {"classify only: UDP other, LAN", true,
       pkt::frame(a, srv, pkt::kProtoUdp, pkt::udp(1234, 9, payload), {}, lan_eth)},
      {"GRE out: translate + redirect", true,
       pkt::frame(a, srv, pkt::kProtoGre, pkt::gre_v1(0, payload, 1, 1), {}, lan_eth)},
      {"GRE in: translate + redirect", false,
       pkt::frame(srv, pub, pkt::kProtoGre, pkt::gre_v1(1000, payload, 1, 1), {}, wan_eth)},
      {"GRE out: no call (to the stack)", true,
       pkt::frame(a, srv, pkt::kProtoGre, pkt::gre_v1(4242, payload, 1, 1), {}, lan_eth)},
      {"GRE in: no call (to the stack)", false,
       pkt::frame(srv, pub, pkt::kProtoGre, pkt::gre_v1(4242, payload, 1), {}, wan_eth)},
      {"ESP out: learn/SNAT + redirect", true,
       pkt::frame(a, srv, pkt::kProtoEsp, pkt::esp(0x7777, 1, payload), {}, lan_eth)},
      {"ESP in: bound SPI + redirect", false,
       pkt::frame(srv, pub, pkt::kProtoEsp, pkt::esp(0x5151, 1, payload), {}, wan_eth)},
      {"ESP in: unknown SPI (drop, report)", false,
       pkt::frame(srv, pub, pkt::kProtoEsp, pkt::esp(0x9999, 1, payload), {}, wan_eth)},
      {"NAT-T out: no conntrack (to the stack)", true,
       pkt::frame(a, srv, pkt::kProtoUdp, pkt::udp(40000, 4500, pkt::esp(0x4444, 1, payload)), {}, lan_eth)},
      {"L2TP out: not L2TPv2 (to the stack)", true,
       pkt::frame(a, srv, pkt::kProtoUdp, pkt::udp(1701, 1701, payload), {}, lan_eth)},
      {"L2TP out: translate + redirect", true,
       pkt::frame(a, srv, pkt::kProtoUdp, pkt::udp(1701, 1701, l2tp_data(8)), {}, lan_eth)},
      {"L2TP in: translate + redirect", false,
       pkt::frame(srv, pub, pkt::kProtoUdp, pkt::udp(1701, 1701, l2tp_data(8)), {}, wan_eth)},
      {"PPTP control: Echo-Request (walked)", true, up.data_at(up.next, pptp::message(pptp::ECHORQ))},
  };

  std::vector<Row> rows;
  Reset reset;
  for (const auto& c : cases) {
    int fd = c.lan ? dp.progs.lan_fd() : dp.progs.wan_fd();
    uint32_t ifi = c.lan ? rt.lan_ifindex : rt.wan_ifindex;
    auto once = run_xdp(fd, c.in, 1, ifi);  // the verdict of one fresh packet
    reset.arm(fd, c.in);
    double ns = live_ns(reset.prog, c.in, repeat, ifi);
    if (once.err || ns < 0) {
      std::fprintf(stderr, "%s: test run failed (%d / %.0f)\n", c.path, once.err, ns);
      return 1;
    }
    rows.push_back({c.path, verdict_name(once.verdict), ns});
  }

  // Slow-path setup rates. Each test run is one syscall, as a real packet is one
  // trip through the hook; the figures include that overhead.
  std::vector<Setup> rates;
  constexpr uint32_t kPerHost = 1000;  // setups per LAN host: under its quota (abi/vpnpt_abi.h)
  {
    // PPTP: `setups` calls, 1,000 per LAN host (under the per-host quota of 1,024, which
    // would otherwise refuse all but the first), one control connection per host;
    // client Call IDs 1.., server ids 30000...
    const uint32_t n = std::min<uint32_t>(setups, 60000);
    const size_t before = dp.entries(VPNPT_MAP_PPTP_CALLS);
    std::vector<std::pair<pptp::TcpFlow, pptp::TcpFlow>> conns;
    for (uint32_t h = 0; h * kPerHost < n; ++h) {
      const uint32_t host = htonl(ntohl(a) + 1 + h);
      conns.push_back({{host, srv, 40001, 1723, 100}, {srv, pub, 1723, static_cast<uint16_t>(40001 + h), 900}});
      run_xdp(dp.progs.lan_fd(), conns.back().first.syn(), 1, rt.lan_ifindex);
      if (pptp::masquerade(conns.back().first, conns.back().second) != 0)
        throw std::runtime_error("cannot add a control connection to conntrack");
      run_xdp(dp.progs.wan_fd(), conns.back().second.syn_ack(conns.back().first), 1, rt.wan_ifindex);
    }
    auto t0 = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < n; ++i) {
      auto& [cup, cdown] = conns[i / kPerHost];
      const uint16_t cid = static_cast<uint16_t>(1 + i % kPerHost);
      auto r1 = run_xdp(dp.progs.lan_fd(), cup.data(pptp::ocrq(cid)), 1, rt.lan_ifindex);
      // The server answers to the translated id it saw; read it back from the rewritten OCRQ.
      const uint16_t xid = pptp::be16_at(r1.out, pptp::kTcpPayloadOffset + 12);
      run_xdp(dp.progs.wan_fd(), cdown.data(pptp::ocrp(static_cast<uint16_t>(30000 + i), xid)), 1, rt.wan_ifindex);
    }
    const double secs = seconds_since(t0);
    const size_t made = dp.entries(VPNPT_MAP_PPTP_CALLS) - before;
    rates.push_back(
        {"PPTP calls set up through the XDP control path (OCRQ + OCRP)", static_cast<uint32_t>(made), made / secs});
  }
  {
    // Raw ESP outbound: every packet a new SPI the LAN hook learns, 1,000 per LAN host.
    std::vector<Bytes> frames;
    for (uint32_t i = 0; i < setups; ++i)
      frames.push_back(pkt::frame(htonl(ntohl(a) + 1 + i / kPerHost), srv, pkt::kProtoEsp,
                                  pkt::esp(0x100000 + i, 1, payload), {}, lan_eth));
    auto t0 = std::chrono::steady_clock::now();
    const size_t before = dp.entries(VPNPT_MAP_ESP_OUT);
    for (const auto& f : frames) run_xdp(dp.progs.lan_fd(), f, 1, rt.lan_ifindex);
    const double secs = seconds_since(t0);
    const size_t made = dp.entries(VPNPT_MAP_ESP_OUT) - before;
    rates.push_back({"raw-ESP SPIs learned outbound by the LAN hook", static_cast<uint32_t>(made), made / secs});
  }
  {
    // Raw ESP inbound bindings, end to end as the daemon does them: the host's IKE
    // exchange seen by the binder, the server's first ESP dropped and reported by
    // the WAN hook, the binder's decision, the map write. One server per binding
    // (the binder serialises bindings per server).
    IpsecBinder binder;
    auto esp_in = EspTable::map(dp.map_fd(VPNPT_MAP_ESP_IN));
    if (!esp_in) throw std::runtime_error(esp_in.error().message());
    uint64_t now = 1000000000ull;
    uint32_t bound = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < setups; ++i, now += 1000) {
      const uint32_t server = htonl(0xc6336400u + 16 + (i % 200));  // 198.51.100.16..
      IkeMessage m;
      m.host = a, m.server = server, m.version = 2, m.exchange = kIkeV2CreateChildSa, m.ispi = 0x1000 + i, m.msgid = 1;
      m.from_host = true, m.response = false;
      binder.on_ike(m, 2 * i, now);
      m.from_host = false, m.response = true;
      binder.on_ike(m, 2 * i + 1, now + 500);
      const uint32_t spi = 0x200000 + i;
      run_xdp(dp.progs.wan_fd(), pkt::frame(server, pub, pkt::kProtoEsp, pkt::esp(spi, 1, payload), {}, wan_eth), 1,
              rt.wan_ifindex);
      BindResult br = binder.on_unknown_spi(server, htonl(spi), now + 800);
      if (br.bound) {
        vpnpt_esp_sa v{};
        v.server = server;
        v.spi = htonl(spi);
        v.host = br.host;
        if (esp_in->insert(v) == EspTable::Put::added) ++bound;
      }
      binder.tick(now + 900);
    }
    const double secs = seconds_since(t0);
    rates.push_back({"raw-ESP inbound bindings (WAN hook report + binder + map write)", bound, bound / secs});
  }
  {
    // L2TP: SCCRQs from port 1701, 200 per LAN host (its share is 256), Assigned Tunnel IDs 1..200
    // on every host, so most collide and get a random free id; the frame the daemon sends goes
    // nowhere (the send is counted, not transmitted).
    auto heartbeat = [&dp] {  // as the daemon writes it every 100 ms
      uint32_t zero = 0;
      vpnpt_daemon d{};
      d.heartbeat_ns = monotonic_ns();
      bpf_map_update_elem(dp.map_fd(VPNPT_MAP_DAEMON), &zero, &d, BPF_ANY);
    };
    uint32_t sent = 0;
    L2tpSlowPath sp({dp.map_fd(VPNPT_MAP_L2TP_TUNNELS), dp.map_fd(VPNPT_MAP_L2TP_OUT), dp.map_fd(VPNPT_MAP_L2TP_PORTS)},
                    L2tpTimeouts{}, [&sent](uint32_t, const uint8_t*, size_t) { return ++sent, true; });
    struct Feed {
      L2tpSlowPath* sp;
      uint32_t pub;
    } feed{&sp, pub};
    auto on_punt = [](void* ctx, void* data, size_t size) -> int {
      auto* f = static_cast<Feed*>(ctx);
      f->sp->on_punt(*static_cast<const vpnpt_l2tp_punt*>(data), size, f->pub, monotonic_ns());
      return 0;
    };
    ring_buffer* rb = ring_buffer__new(dp.map_fd(VPNPT_MAP_L2TP_PUNT), on_punt, &feed, nullptr);
    const uint32_t n = std::min<uint32_t>(setups, 60000);
    std::vector<Bytes> frames;
    for (uint32_t i = 0; i < n; ++i)
      frames.push_back(pkt::frame(htonl(ntohl(a) + 1 + i / 200), srv, pkt::kProtoUdp,
                                  pkt::udp(1701, 1701, pkt::l2tp::sccrq(static_cast<uint16_t>(1 + i % 200))), {},
                                  lan_eth));
    const size_t before = dp.entries(VPNPT_MAP_L2TP_TUNNELS);
    auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < frames.size(); ++i) {
      if (i % 1000 == 0) heartbeat();
      run_xdp(dp.progs.lan_fd(), frames[i], 1, rt.lan_ifindex);
      if (rb) ring_buffer__consume(rb);
    }
    const double secs = seconds_since(t0);
    ring_buffer__free(rb);
    const size_t made = dp.entries(VPNPT_MAP_L2TP_TUNNELS) - before;
    rates.push_back({"L2TP tunnels set up (LAN hook queue + daemon slow path + send)",
                     static_cast<uint32_t>(std::min<size_t>(made, sent)), std::min<size_t>(made, sent) / secs});
  }

  if (json) {
    std::printf("{\"repeat\": %u, \"results\": [", repeat);
    for (size_t i = 0; i < rows.size(); ++i)
      std::printf("%s{\"path\": \"%s\", \"verdict\": \"%s\", \"ns_per_packet\": %.0f}", i ? ", " : "",
                  rows[i].path.c_str(), rows[i].verdict.c_str(), rows[i].ns);
    std::printf("], \"setup\": [");
    for (size_t i = 0; i < rates.size(); ++i)
      std::printf("%s{\"what\": \"%s\", \"count\": %u, \"per_second\": %.0f}", i ? ", " : "", rates[i].what.c_str(),
                  rates[i].count, rates[i].per_second);
    std::printf("]}\n");
  } else {
    std::printf("%-40s %-14s %10s\n", "path (BPF_PROG_TEST_RUN)", "verdict", "ns/packet");
    for (const auto& r : rows) std::printf("%-40s %-14s %10.0f\n", r.path.c_str(), r.verdict.c_str(), r.ns);
    std::printf("(%u live frames each, one core; redirected frames are really transmitted on the test veths)\n",
                repeat);
    std::printf("\n%-66s %8s %12s\n", "slow-path setup (crafted load, one core)", "setups", "per second");
    for (const auto& r : rates) std::printf("%-66s %8u %12.0f\n", r.what.c_str(), r.count, r.per_second);
  }
  return 0;
}
