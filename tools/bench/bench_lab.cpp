// Throughput measurements in the benchmark lab that tools/bench.sh builds:
//
//   client ns: c0 ---- lan0 [router ns] wan0 ---- s0 :server ns
//
// One invocation measures one configuration: it attaches what the router
// needs for the mode (vpnpt's two XDP programs with unpinned maps and
// pre-filled sessions, or its two TC programs the same way, or the bare XDP
// rewrite; nothing for the kernel modes, whose nft rules the script sets),
// attaches the counting sink to the receiving host's veth, primes conntrack
// for inbound runs, then drives the live-frames generator (BPF_PROG_TEST_RUN +
// BPF_F_TEST_XDP_LIVE_FRAMES, one pinned thread per core) and prints one JSON
// line per run. Every XDP attachment is a BPF link owned by this process: it
// disappears when the process exits, also on a crash. The TC filters
// (vpnpt-tc) are not: they are removed on exit, on die() and on SIGINT,
// SIGTERM and SIGHUP, and tools/bench.sh checks after every measurement that
// nothing is left on the router's devices (a crash leaves them to the
// script, which deletes the namespaces).
//
// vpnpt is loaded from the same BPF objects the daemon attaches
// (build/bpf/xdp_{lan,wan}.bpf.o, tc_{lan,wan}.bpf.o for vpnpt-tc), without
// pins, with the session maps' max_entries raised at load time when more
// sessions are pre-filled than the compile-time size allows (a bench-only
// path: the daemon is not involved in the fast path). vpnpt-tc attaches with
// the daemon's own helper (loader/dataplane/tc_attach.cpp: clsact ingress, handle
// 0x7670, priority 1) and no XDP program on the router.
//
//   vpnpt_bench_lab --client-ns C --router-ns R --server-ns S --mode vpnpt[-tc|-noatomic|-fineclock|-nofibcache]|bare|kernel
//                   --proto gre|esp|natt|l2tp --dir out|in [--nat 0|1] [--size 64] [--flows 1]
//                   [--cpus 0[,1]] [--seconds 1] [--runs 1] [--sessions N] [--flow-split interleave|block]
//
// A benchmark: it reports, it asserts nothing about speed.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "abi/vpnpt_abi.h"
#include "loader/dataplane/tc_attach.h"
#include "loader/session/probe.h"
#include "packet_builder.h"
#include "pptp_builder.h"
#include "test_router.h"

#ifndef VPNPT_BPF_DIR
#define VPNPT_BPF_DIR "build/bpf"
#endif

using pkt::Bytes;
using Clock = std::chrono::steady_clock;

namespace {

// Lab addresses (tools/bench.sh uses the same).
const char* kClient = "192.168.77.2";
const char* kServer = "198.51.100.2";
const char* kPublic = "198.51.100.1";

// Flow-id bases: the generator writes base + (packet counter % flows).
constexpr uint32_t kGreServerIdBase = 3000;       // outbound Key: the server's Call ID
constexpr uint32_t kGreXlatIdBase = 2000;         // inbound Key: the translated Call ID the server knows
constexpr uint32_t kGreClientIdBase = 1000;       // inbound Key after vpnpt: the client's own Call ID
constexpr uint32_t kEspOutSpiBase = 0x10000;      // SPIs the host sends with
constexpr uint32_t kEspInSpiBase = 0x20000;       // SPIs the server sends with
constexpr uint32_t kNattPortBase = 40000;         // client UDP source port toward 4500
constexpr uint32_t kL2tpPortBase = 41000;         // client UDP source port toward 1701 (kept on the public side)
constexpr uint32_t kL2tpXlatTunnelBase = 2000;    // inbound Tunnel ID: the translated id the server knows
constexpr uint32_t kL2tpClientTunnelBase = 1000;  // inbound Tunnel ID after vpnpt: the client's own
constexpr uint32_t kL2tpTunnelOff = 44;           // Tunnel ID in an L2TP data frame without length field

void tc_remove_all();

[[noreturn]] void die(const std::string& m) {
  std::fprintf(stderr, "vpnpt_bench_lab: %s\n", m.c_str());
  tc_remove_all();  // TC filters outlive the process: never leave one on a failure
  std::exit(1);
}

uint32_t ip(const char* s) {
  in_addr a{};
  if (inet_pton(AF_INET, s, &a) != 1) die(std::string("bad address ") + s);
  return a.s_addr;
}

// Runs @f inside network namespace /run/netns/@ns (this thread only), then returns.
template <class F>
auto in_ns(const std::string& ns, F f) {
  int home = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (home < 0 || fd < 0 || ::setns(fd, CLONE_NEWNET)) die("cannot enter namespace " + ns);
  ::close(fd);
  struct Back {
    int home;
    ~Back() {
      (void)::setns(home, CLONE_NEWNET);
      ::close(home);
    }
  } back{home};
  return f();
}

struct If {
  uint32_t index = 0;
  uint8_t mac[6]{};
};

If lookup_if(const std::string& ns, const char* name) {
  return in_ns(ns, [&] {
    If r;
    r.index = if_nametoindex(name);
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq q{};
    std::snprintf(q.ifr_name, sizeof(q.ifr_name), "%s", name);
    if (!r.index || s < 0 || ::ioctl(s, SIOCGIFHWADDR, &q)) die(std::string("no interface ") + name + " in " + ns);
    std::memcpy(r.mac, q.ifr_hwaddr.sa_data, 6);
    ::close(s);
    return r;
  });
}

// ------------------------------------------------------------ BPF objects

struct Obj {
  bpf_object* o = nullptr;
  Obj() = default;
  explicit Obj(const std::string& path) {
    o = bpf_object__open_file(path.c_str(), nullptr);
    if (!o) die("cannot open " + path);
  }
  Obj(Obj&& x) noexcept : o(std::exchange(x.o, nullptr)) {}
  Obj& operator=(Obj&& x) noexcept {
    std::swap(o, x.o);
    return *this;
  }
  ~Obj() {
    if (o) bpf_object__close(o);
  }
  bpf_map* map(const char* n) const {
    bpf_map* m = bpf_object__find_map_by_name(o, n);
    if (!m) die(std::string("no map ") + n);
    return m;
  }
  int map_fd(const char* n) const { return bpf_map__fd(map(n)); }
  int prog_fd(const char* n) const {
    bpf_program* p = bpf_object__find_program_by_name(o, n);
    if (!p) die(std::string("no program ") + n);
    return bpf_program__fd(p);
  }
  void load(const char* what) {
    if (int err = bpf_object__load(o)) die(std::string("cannot load ") + what + ": " + std::strerror(-err));
  }
};

struct Link {
  bpf_link* l = nullptr;
  Link(const Obj& obj, const char* prog, const std::string& ns, uint32_t ifindex) {
    bpf_program* p = bpf_object__find_program_by_name(obj.o, prog);
    l = in_ns(ns, [&] { return bpf_program__attach_xdp(p, static_cast<int>(ifindex)); });
    if (!l) die(std::string("cannot attach ") + prog + " in " + ns + ": " + std::strerror(errno));
  }
  Link(Link&& x) noexcept : l(std::exchange(x.l, nullptr)) {}
  ~Link() {
    if (l) bpf_link__destroy(l);
  }
};

// vpnpt's TC filters this process attached (vpnpt-tc), each with whether it created the
// device's clsact qdisc. Unlike XDP links they stay when the process exits, so every
// way out removes them: the guard in main(), die(), and the signal thread of
// tc_cleanup_on_signals(). The lock is held from attach to registration, so a signal
// never finds a filter attached but not yet listed; it is recursive because die() may
// run under it.
struct TcFilter {
  std::string ns;
  uint32_t ifindex, prog_id;
  bool created_qdisc;
};
std::recursive_mutex g_tc_mu;
std::vector<TcFilter> g_tc;

bpf_tc_hook ingress_hook(uint32_t ifindex) {
  bpf_tc_hook h{};
  h.sz = sizeof(h);
  h.ifindex = static_cast<int>(ifindex);
  h.attach_point = BPF_TC_INGRESS;
  return h;
}

// Attaches @prog at clsact ingress of @ifindex in @ns as the daemon does (vpnpt::tc_attach:
// handle 0x7670, priority 1, clsact created if missing).
void tc_attach_filter(const Obj& obj, const char* prog, const std::string& ns, uint32_t ifindex, const char* ifname) {
  std::lock_guard<std::recursive_mutex> lock(g_tc_mu);
  bpf_program* p = bpf_object__find_program_by_name(obj.o, prog);
  if (!p) die(std::string("no program ") + prog);
  in_ns(ns, [&] {
    // Whether the qdisc is ours to remove: tc_attach accepts an existing clsact silently.
    bpf_tc_hook h = ingress_hook(ifindex);
    const int err = bpf_tc_hook_create(&h);
    if (err && err != -EEXIST) die(std::string("cannot add clsact to ") + ifname + ": " + std::strerror(-err));
    g_tc.push_back({ns, ifindex, 0, err == 0});
    auto id = vpnpt::tc_attach(ifindex, ifname, bpf_program__fd(p));
    if (!id) die(id.error().message());
    g_tc.back().prog_id = *id;
    return 0;
  });
}

// Removes every TC filter of g_tc (and the clsact qdiscs this process created). Reports,
// never dies: it runs on the way out.
void tc_remove_all() {
  std::vector<TcFilter> all;
  {
    std::lock_guard<std::recursive_mutex> lock(g_tc_mu);
    all.swap(g_tc);
  }
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const std::string path = "/run/netns/" + it->ns;
    int home = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (home < 0 || fd < 0 || ::setns(fd, CLONE_NEWNET)) {
      std::fprintf(stderr, "vpnpt_bench_lab: cannot enter %s to remove a TC filter\n", it->ns.c_str());
    } else {
      if (it->prog_id) {
        auto st = vpnpt::tc_detach_prog(it->ifindex, it->prog_id);
        if (!st) std::fprintf(stderr, "vpnpt_bench_lab: %s\n", st.error().message().c_str());
      }
      if (it->created_qdisc) {
        bpf_tc_hook h = ingress_hook(it->ifindex);
        h.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);  // the qdisc itself
        if (int err = bpf_tc_hook_destroy(&h); err && err != -ENOENT)
          std::fprintf(stderr, "vpnpt_bench_lab: cannot remove clsact: %s\n", std::strerror(-err));
      }
      (void)::setns(home, CLONE_NEWNET);
    }
    if (fd >= 0) ::close(fd);
    if (home >= 0) ::close(home);
  }
}

// SIGINT, SIGTERM and SIGHUP go to one thread (blocked in every other), which removes the
// TC filters and exits; called before any other thread starts.
void tc_cleanup_on_signals() {
  static sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr)) die("cannot block signals");
  std::thread([] {
    int sig = 0;
    if (sigwait(&set, &sig)) return;
    tc_remove_all();
    std::_Exit(128 + sig);
  }).detach();
}

template <class T>
void put0(int fd, const T& v) {
  uint32_t k = 0;
  if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) die("cannot write a config map");
}

// Mirrors of tools/bench/bench_xdp.bpf.c's config structs.
struct GenCfg {
  uint32_t flow_off, flow_size, flows, flow_base, stride, block, flow2_off, flow2_base;
  uint8_t hdr[64];
};
struct SinkCfg {
  uint32_t saddr, daddr, id_off, id_size, id_lo, id_hi, proto, id2_off, id2_lo;
};
struct BareCfg {
  uint32_t ifindex;
  uint8_t smac[6], dmac[6];
  uint32_t saddr, daddr;
};

uint64_t percpu_sum(int fd, uint32_t key) {
  static const int ncpu = libbpf_num_possible_cpus();
  std::vector<uint64_t> v(static_cast<size_t>(ncpu));
  if (bpf_map_lookup_elem(fd, &key, v.data())) return 0;
  uint64_t s = 0;
  for (auto x : v) s += x;
  return s;
}

uint64_t memlock_of(int fd) {
  std::ifstream f("/proc/self/fdinfo/" + std::to_string(fd));
  std::string k;
  uint64_t v;
  while (f >> k) {
    if (k == "memlock:" && f >> v) return v;
  }
  return 0;
}

// ------------------------------------------------------------ options

struct Opts {
  std::string cns, rns, sns, mode, proto = "gre", dir = "out", cpus = "0";
  bool nat = true, block = false;
  uint32_t size = 64, flows = 1, runs = 1;
  double seconds = 1.0;
  uint64_t sessions = 0;
};

Opts parse(int argc, char** argv) {
  Opts o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--client-ns")
      o.cns = val();
    else if (a == "--router-ns")
      o.rns = val();
    else if (a == "--server-ns")
      o.sns = val();
    else if (a == "--mode")
      o.mode = val();
    else if (a == "--proto")
      o.proto = val();
    else if (a == "--dir")
      o.dir = val();
    else if (a == "--nat")
      o.nat = val() != "0";
    else if (a == "--size")
      o.size = static_cast<uint32_t>(std::stoul(val()));
    else if (a == "--flows")
      o.flows = static_cast<uint32_t>(std::stoul(val()));
    else if (a == "--cpus")
      o.cpus = val();
    else if (a == "--seconds")
      o.seconds = std::stod(val());
    else if (a == "--runs")
      o.runs = static_cast<uint32_t>(std::stoul(val()));
    else if (a == "--sessions")
      o.sessions = std::stoull(val());
    else if (a == "--flow-split")
      o.block = val() == "block";
    else
      die("unknown option " + a + " (see the header of tools/bench/bench_lab.cpp)");
  }
  if (o.cns.empty() || o.rns.empty() || o.sns.empty() || o.mode.empty())
    die("--client-ns, --router-ns, --server-ns, --mode are required");
  if (o.mode != "vpnpt" && o.mode != "vpnpt-tc" && o.mode != "vpnpt-noatomic" && o.mode != "vpnpt-fineclock" &&
      o.mode != "vpnpt-nofibcache" && o.mode != "bare" && o.mode != "kernel")
    die("bad --mode");
  if (o.proto != "gre" && o.proto != "esp" && o.proto != "natt" && o.proto != "l2tp") die("bad --proto");
  if (o.dir != "out" && o.dir != "in") die("bad --dir");
  if (o.size < 64 || o.size > 1500 || o.flows < 1 || o.flows > 30000 || o.runs < 1 || o.runs > 100 || o.seconds <= 0 ||
      o.seconds > 30 || o.sessions > 4000000)
    die("option out of range");
  return o;
}

// ------------------------------------------------------------ frames

struct Traffic {
  Bytes frame;  // template
  uint32_t flow_off, flow_size, flow_base;
  uint32_t flow2_off = 0, flow2_base = 0;  // second field written with the same flow index (0: none)
  SinkCfg sink;                            // what must arrive
};

uint8_t proto_num(const std::string& p) { return p == "gre" ? 47 : p == "esp" ? 50 : 17; }

// The frame the generator sends in direction @dir, and what the sink expects.
Traffic traffic(const Opts& o, const std::string& dir, const If& src_if, const If& dst_if, bool vpnpt_xlat) {
  const uint32_t c = ip(kClient), s = ip(kServer), p = ip(kPublic);
  const bool out = dir == "out";
  const uint32_t saddr = out ? c : s, daddr = out ? s : (o.nat ? p : c);
  const size_t l4_hdr = o.proto == "gre" ? 12 : o.proto == "esp" ? 8 : o.proto == "natt" ? 16 : 14;
  const size_t room = o.size - 14 - 20 - l4_hdr;
  Bytes payload(room, 0x5a);
  Bytes l4;
  Traffic t{};
  if (o.proto == "gre") {
    l4 = pkt::gre_v1(0, payload, 1);
    t.flow_off = 40, t.flow_size = 2, t.flow_base = out ? kGreServerIdBase : kGreXlatIdBase;
  } else if (o.proto == "esp") {
    l4 = pkt::esp(1, 1, payload);
    t.flow_off = 34, t.flow_size = 4, t.flow_base = out ? kEspOutSpiBase : kEspInSpiBase;
  } else {
    const bool natt = o.proto == "natt";
    const uint16_t port = natt ? 4500 : 1701;
    Bytes inner =
        natt ? Bytes{0, 0, 0x77, 0x77, 0, 0, 0, 1} : Bytes{0x00, 0x02, 0, 1, 0, 1};  // ESP SPI+seq / L2TP data hdr
    inner.insert(inner.end(), payload.begin(), payload.end());
    const uint16_t base = static_cast<uint16_t>(natt ? kNattPortBase : kL2tpPortBase);
    l4 = out ? pkt::udp(base, port, inner) : pkt::udp(port, base, inner);
    t.flow_off = out ? 34 : 36, t.flow_size = 2, t.flow_base = base;
    // L2TP inbound: flow i is public port 41000+i carrying the translated Tunnel ID 2000+i
    // (the server's name for the tunnel, which vpnpt rewrites to the client's own 1000+i).
    if (!natt && !out) t.flow2_off = kL2tpTunnelOff, t.flow2_base = kL2tpXlatTunnelBase;
  }
  pkt::EthOpts e;
  std::copy(src_if.mac, src_if.mac + 6, e.src);
  std::copy(dst_if.mac, dst_if.mac + 6, e.dst);
  t.frame = pkt::frame(saddr, daddr, proto_num(o.proto), l4, {}, e);
  if (proto_num(o.proto) == 17) t.frame[40] = t.frame[41] = 0;  // no UDP checksum: the generator rewrites ports
  t.frame.resize(o.size, 0);

  // Expected at the far end: source NAT out, destination NAT in (unless plain forwarding).
  t.sink.proto = proto_num(o.proto);
  t.sink.saddr = out ? (o.nat ? p : c) : s;
  t.sink.daddr = out ? s : c;
  t.sink.id_off = t.flow_off;
  t.sink.id_size = t.flow_size;
  t.sink.id_lo = (!out && o.proto == "gre" && vpnpt_xlat) ? kGreClientIdBase : t.flow_base;
  t.sink.id_hi = t.sink.id_lo + o.flows;
  // L2TP inbound: flow i's Tunnel ID must be the client's own (vpnpt) or untouched (kernel NAT).
  if (t.flow2_off) {
    t.sink.id2_off = t.flow2_off;
    t.sink.id2_lo = o.mode.rfind("vpnpt", 0) == 0 ? kL2tpClientTunnelBase : kL2tpXlatTunnelBase;
  }
  return t;
}

// ------------------------------------------------------------ vpnpt sessions

struct Vpnpt {
  Obj lan, wan;
  std::map<std::string, uint32_t> max_entries;
  std::string hook;  // "xdp" or "tc": the programs are <hook>_lan and <hook>_wan
};

// The PPTP and L2TP tables are arrays indexed by a 16-bit id vpnpt chooses (abi/vpnpt_abi.h):
// their size is fixed, never raised. The ESP tables are raised to twice the SAs.
const char* kSessionMaps[] = {VPNPT_MAP_PPTP_CALLS,   VPNPT_MAP_PPTP_GRE_OUT, VPNPT_MAP_ESP_IN,    VPNPT_MAP_ESP_OUT,
                              VPNPT_MAP_L2TP_TUNNELS, VPNPT_MAP_L2TP_OUT,     VPNPT_MAP_L2TP_PORTS};
bool fixed_size(const char* map) {
  for (const char* f :
       {VPNPT_MAP_PPTP_CALLS, VPNPT_MAP_PPTP_GRE_OUT, VPNPT_MAP_L2TP_TUNNELS, VPNPT_MAP_L2TP_OUT, VPNPT_MAP_L2TP_PORTS})
    if (std::strcmp(map, f) == 0) return true;
  return false;
}

// @variant: vpnpt (XDP as built), vpnpt-tc (the TC objects as built) or vpnpt-<variant> (a
// bench-only XDP build, tools/bench/CMakeLists.txt). No .rodata is set for either hook: the
// compiled defaults (Ethernet devices, VLAN depth 2, events on, the default next-hop cache
// bound), which are the daemon's too, except the NAT-T conntrack timeout it reads from sysctl.
Vpnpt load_vpnpt(const std::string& variant, uint64_t sessions, uint32_t flows) {
  const std::string dir = VPNPT_BPF_DIR;
  const bool tc = variant == "vpnpt-tc";
  const std::string hook = tc ? "tc" : "xdp";
  const std::string sfx = variant == "vpnpt" || tc ? "" : "_" + variant.substr(6);  // vpnpt-<variant>
  Vpnpt v{Obj(dir + "/" + hook + "_lan" + sfx + ".bpf.o"), Obj(dir + "/" + hook + "_wan" + sfx + ".bpf.o"), {}, hook};
  const uint64_t want = sessions + flows + 1024;
  for (bpf_object* o : {v.lan.o, v.wan.o}) {
    bpf_map* m;
    bpf_object__for_each_map(m, o) bpf_map__set_pin_path(m, nullptr);
    for (const char* n : kSessionMaps) {
      bpf_map* sm = bpf_object__find_map_by_name(o, n);
      if (!sm || fixed_size(n)) continue;
      uint64_t slots = VPNPT_ESP_SLOTS;  // the ESP tables: twice the SAs, a power of two
      while (slots < 2 * want) slots <<= 1;
      bpf_map__set_max_entries(sm, static_cast<uint32_t>(slots));
    }
  }
  v.lan.load((hook + "_lan").c_str());
  bpf_map* m;
  bpf_object__for_each_map(m, v.wan.o) {
    const char* n = bpf_map__name(m);
    if (n[0] == '.' || std::strchr(n, '.')) continue;  // .rodata/.bss are per object
    bpf_map* s = bpf_object__find_map_by_name(v.lan.o, n);
    if (s && bpf_map__reuse_fd(m, bpf_map__fd(s))) die(std::string("cannot share map ") + n);
  }
  v.wan.load((hook + "_wan").c_str());
  for (const char* n : kSessionMaps) v.max_entries[n] = bpf_map__max_entries(v.lan.map(n));
  return v;
}

template <class K, class V>
void batch_put(int fd, std::vector<K>& ks, std::vector<V>& vs) {
  if (ks.empty()) return;
  uint32_t n = static_cast<uint32_t>(ks.size());
  LIBBPF_OPTS(bpf_map_batch_opts, bo);
  if (bpf_map_update_batch(fd, ks.data(), vs.data(), &n, &bo) || n != ks.size()) {
    for (size_t i = 0; i < ks.size(); ++i)
      if (bpf_map_update_elem(fd, &ks[i], &vs[i], BPF_ANY))
        die("cannot fill a session map: " + std::string(std::strerror(errno)));
  }
  ks.clear();
  vs.clear();
}

// The first free slot (tag 0) of run @r gets @s, as the daemon or the data plane would fill it.
// Returns its index + 1, 0 if the run is full.
template <class Slot>
uint32_t index_put(std::vector<Slot>& index, const vpnpt_run& r, uint32_t probes, const Slot& s) {
  auto at = vpnpt::probe_first(r, probes, [&](uint32_t i) { return index[i].tag == 0; });
  if (!at) return 0;
  index[*at] = s;
  return *at + 1;
}

// Writes every slot of an array map from @vals (keys 0 .. n-1).
template <class V>
void put_array(int fd, std::vector<V>& vals) {
  std::vector<uint32_t> keys(vals.size());
  for (uint32_t i = 0; i < keys.size(); ++i) keys[i] = i;
  batch_put(fd, keys, vals);
}

// The slots of a table indexed by an id vpnpt chooses, from @first below @slots: the @flows
// active ones at @base.. get @fn(id, true, k) with k = id - base, then up to @extra idle ones
// elsewhere get @fn(id, false, n) with n = 0, 1, ...
template <class Fn>
void for_session_slots(uint32_t first, uint32_t slots, uint32_t base, uint32_t flows, uint64_t extra, Fn fn) {
  uint64_t idle = 0;
  for (uint32_t id = first; id < slots; ++id) {
    const bool active = id >= base && id < base + flows;
    if (!active && idle >= extra) continue;
    fn(id, active, active ? id - base : idle++);
  }
}

// PPTP calls: the @flows active ones (translated ids kGreXlatIdBase + k) and idle ones on
// other servers in the remaining ids, up to the table's 65,536; every established call
// gets its outbound GRE index slot as the data plane would (linear probing from home).
void fill_pptp(const Vpnpt& v, uint32_t flows, uint64_t extra, uint32_t lan_ifindex) {
  const uint32_t c = ip(kClient), s = ip(kServer);
  std::vector<uint32_t> ck;
  std::vector<vpnpt_pptp_call> cv;
  std::vector<vpnpt_pptp_gre_slot> index(VPNPT_PPTP_GRE_SLOTS);
  for_session_slots(0, VPNPT_PPTP_MAX_CALLS, kGreXlatIdBase, flows, extra, [&](uint32_t xid, bool active, uint64_t n) {
    vpnpt_pptp_call call{};
    call.state = VPNPT_PPTP_CALL_ESTABLISHED;
    call.server = active ? s : htonl(0x64400000u + static_cast<uint32_t>(n >> 10));  // 1,024 calls per server
    call.client = c;
    call.client_call_id = htons(static_cast<uint16_t>(active ? kGreClientIdBase + n : xid));
    call.server_call_id = htons(static_cast<uint16_t>(active ? kGreServerIdBase + n : xid));
    call.lan_ifindex = lan_ifindex;
    const vpnpt_run r = vpnpt_pptp_gre_run(call.client, call.server, call.server_call_id);
    call.gre_slot =
        index_put(index, r, VPNPT_PPTP_GRE_PROBES, {r.tag, call.server_call_id, htons(static_cast<uint16_t>(xid))});
    if (!call.gre_slot && active) die("the outbound GRE index has no slot for an active call");
    ck.push_back(xid);
    cv.push_back(call);
  });
  batch_put(v.lan.map_fd(VPNPT_MAP_PPTP_CALLS), ck, cv);
  put_array(v.lan.map_fd(VPNPT_MAP_PPTP_GRE_OUT), index);
}

// L2TP tunnels, like fill_pptp: the slots are the translated ids, so at most 65,535 tunnels.
// Active flow k is client port 41000+k (kept public), Tunnel ID 1000+k translated to 2000+k.
void fill_l2tp(const Vpnpt& v, uint32_t flows, uint64_t extra, uint32_t lan_ifindex) {
  const uint32_t c = ip(kClient), s = ip(kServer);
  std::vector<uint32_t> tk;
  std::vector<vpnpt_l2tp_tunnel> tv;
  std::vector<vpnpt_l2tp_out_slot> index(VPNPT_L2TP_OUT_SLOTS);
  // Slot 0 is never a tunnel (Tunnel ID 0 means "none").
  for_session_slots(
      1, VPNPT_L2TP_MAX_TUNNELS, kL2tpXlatTunnelBase, flows, extra, [&](uint32_t xid, bool active, uint64_t n) {
        vpnpt_l2tp_tunnel t{};
        t.state = VPNPT_L2TP_ESTABLISHED;
        t.server = active ? s : htonl(0x64400000u + static_cast<uint32_t>(n >> 10));  // 1,024 tunnels per server
        t.client = c;
        t.client_port = t.public_port = htons(static_cast<uint16_t>(active ? kL2tpPortBase + n : 1 + (n & 1023)));
        t.client_tunnel_id = htons(static_cast<uint16_t>(active ? kL2tpClientTunnelBase + n : xid));
        t.server_port = htons(1701);
        t.lan_ifindex = lan_ifindex;
        const vpnpt_run r = vpnpt_l2tp_out_run(t.client, t.server, t.client_port);
        t.out_slot = index_put(index, r, VPNPT_L2TP_OUT_PROBES, {r.tag, static_cast<uint16_t>(xid), 0});
        if (!t.out_slot && active) die("the outbound L2TP index has no slot for an active tunnel");
        tk.push_back(xid);
        tv.push_back(t);
      });
  batch_put(v.lan.map_fd(VPNPT_MAP_L2TP_TUNNELS), tk, tv);
  put_array(v.lan.map_fd(VPNPT_MAP_L2TP_OUT), index);
}

// Raw-ESP SAs in one table of @slots slots: the @flows active ones (SPIs @spi_base + k) and
// @extra idle ones on other (never used) servers, 32,768 each. The idle ones are placed
// first, so the active ones find their runs as crowded as the fill makes them. Near half
// full a few SAs find all 16 slots of their run taken, as in the product (esp_table_full):
// an idle one is then left out; an active one (which the generator needs) takes the home
// slot of an idle one instead, which then is left out.
void fill_esp(int fd, uint32_t slots, uint32_t flows, uint64_t extra, uint32_t spi_base, uint32_t lan_ifindex) {
  const uint32_t c = ip(kClient), s = ip(kServer);
  std::vector<vpnpt_esp_sa> table(slots);
  const uint64_t total = flows + extra;
  uint32_t left_out = 0;
  for (uint64_t n = 0; n < total; ++n) {
    const uint64_t k = (n + flows) % total;  // k >= flows: idle ones first
    const bool active = k < flows;
    const uint64_t j = k - flows;
    vpnpt_esp_sa sa{};
    sa.server = active ? s : htonl(0x64400000u + static_cast<uint32_t>(j >> 15));
    sa.spi = htonl(active ? spi_base + static_cast<uint32_t>(k) : static_cast<uint32_t>(j) + 0x1000000u);
    sa.host = c;
    sa.lan_ifindex = lan_ifindex;
    const vpnpt_run r = vpnpt_esp_run(sa.server, sa.spi, slots);
    uint32_t i = 0;
    while (i < VPNPT_ESP_PROBES && table[vpnpt_run_slot(&r, i)].host) ++i;
    if (i == VPNPT_ESP_PROBES && active) {  // an idle SA of the run goes (active ones are on server s)
      i = 0;
      while (i < VPNPT_ESP_PROBES && table[vpnpt_run_slot(&r, i)].server == s) ++i;
      if (i == VPNPT_ESP_PROBES) die("the ESP table's run has only active SAs");
      ++left_out;
    }
    if (i < VPNPT_ESP_PROBES)
      table[vpnpt_run_slot(&r, i)] = sa;
    else
      ++left_out;
  }
  put_array(fd, table);
  if (left_out) std::fprintf(stderr, "fill: %u idle ESP SAs left out (their runs were full)\n", left_out);
}

// Sessions: the @flows active ones the generator hits, plus @extra idle ones, in every table.
void fill_sessions(const Vpnpt& v, uint32_t flows, uint64_t extra, uint32_t lan_ifindex) {
  fill_pptp(v, flows, extra, lan_ifindex);
  fill_l2tp(v, flows, extra, lan_ifindex);
  for (auto [name, base] : {std::pair{VPNPT_MAP_ESP_IN, kEspInSpiBase}, std::pair{VPNPT_MAP_ESP_OUT, kEspOutSpiBase}})
    fill_esp(v.lan.map_fd(name), v.max_entries.at(name), flows, extra, base, lan_ifindex);
}

// ------------------------------------------------------------ generator

struct Gen {
  Obj obj;
  int prog = -1;
};

// Sends @t's frame from @ns (ingress_ifindex @ifindex: XDP_TX goes to the veth's peer)
// on each CPU in @cpus for @seconds (or @count packets in all when count > 0). Returns
// the packets sent and the elapsed seconds.
std::pair<uint64_t, double> generate(const Gen& g, const std::string& ns, uint32_t ifindex, const Bytes& frame,
                                     const std::vector<int>& cpus, double seconds, uint64_t count = 0) {
  std::atomic<uint64_t> sent{0};
  std::atomic<bool> failed{false};
  const auto t0 = Clock::now();
  const auto until = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> th;
  for (int cpu : cpus) {
    th.emplace_back([&, cpu] {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      sched_setaffinity(0, sizeof(set), &set);
      in_ns(ns, [&] {
        xdp_md ctx{};
        ctx.data_end = static_cast<uint32_t>(frame.size());
        ctx.ingress_ifindex = ifindex;
        const uint32_t batch = count ? static_cast<uint32_t>(std::min<uint64_t>(count, 1u << 16)) : (1u << 16);
        const uint64_t per = count ? (count + cpus.size() - 1) / cpus.size() : 0;
        uint64_t mine = 0;
        for (int guard = 0; guard < 100000; ++guard) {  // bounded: ~65536 packets per turn
          LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                      .data_size_in = static_cast<uint32_t>(frame.size()), .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
                      .repeat = static_cast<int>(batch), .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
          if (bpf_prog_test_run_opts(g.prog, &opts)) {
            failed = true;
            break;
          }
          mine += batch;
          if (count ? mine >= per : Clock::now() >= until) break;
        }
        sent += mine;
        return 0;
      });
    });
  }
  for (auto& t : th) t.join();
  if (failed) die("live-frames test run failed: " + std::string(std::strerror(errno)));
  return {sent.load(), std::chrono::duration<double>(Clock::now() - t0).count()};
}

std::vector<int> cpu_list(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, ',')) v.push_back(std::stoi(x));
  if (v.empty()) die("bad --cpus");
  return v;
}

// Empties the conntrack table of namespace @ns, so that no NAT binding of an earlier
// measurement lingers.
void ct_flush(const std::string& ns) {
  in_ns(ns, [] { return vpnpt::test::flush_conntrack() ? 0 : -1; });
}

// A packet socket on one host's veth: frames sent through it enter the router like
// any host's traffic (through the stack, which the kernel's PPTP helper watches).
struct Wire {
  int fd = -1;
  uint32_t ifindex;
  Wire(const std::string& ns, uint32_t ifi) : ifindex(ifi) {
    fd = in_ns(ns, [] { return ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); });
    if (fd < 0) die("cannot open a packet socket");
  }
  ~Wire() { ::close(fd); }
  void send(Bytes f, const If& from, const If& to) const {
    std::copy(to.mac, to.mac + 6, f.begin());
    std::copy(from.mac, from.mac + 6, f.begin() + 6);
    sockaddr_ll a{};
    a.sll_family = AF_PACKET;
    a.sll_ifindex = static_cast<int>(ifindex);
    a.sll_halen = 6;
    std::copy(to.mac, to.mac + 6, a.sll_addr);
    if (::sendto(fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0)
      die("packet socket send failed");
  }
};

// netfilter's PPTP support only translates GRE of calls it saw set up: its NAT
// helper rewrites the client's Call ID to the control connection's public TCP port
// ("one call per control connection", nf_nat_pptp.c) and the GRE conntrack keymap
// comes from the control messages. So, for every flow i, one control connection
// from client port 2000+i (masquerade keeps it: the translated Call ID is then
// 2000+i, the same the generator uses for vpnpt) with SCCRQ/SCCRP and
// OCRQ (client Call ID 1000+i) / OCRP (server Call ID 3000+i), then one GRE frame
// each way to turn the helper's expectations into conntrack entries. Each step
// is sent for all flows, then the router gets 30 ms to process it.
void pptp_via_helper(const Opts& o, const If& c0, const If& lan0, const If& wan0, const If& s0) {
  const uint32_t c = ip(kClient), s = ip(kServer), p = ip(kPublic);
  Wire cw(o.cns, c0.index), sw(o.sns, s0.index);
  std::vector<uint32_t> cseq(o.flows, 100), sseq(o.flows, 900);
  auto step = [] { std::this_thread::sleep_for(std::chrono::milliseconds(30)); };
  auto up = [&](uint32_t i, const Bytes& payload, uint8_t flags) {
    const uint16_t port = static_cast<uint16_t>(kGreXlatIdBase + i);
    cw.send(pkt::frame(c, s, pkt::kProtoTcp, pkt::tcp(port, 1723, payload, flags, cseq[i], sseq[i])), c0, lan0);
    cseq[i] += static_cast<uint32_t>(payload.size()) + ((flags & 0x02) ? 1 : 0);
  };
  auto down = [&](uint32_t i, const Bytes& payload, uint8_t flags) {
    const uint16_t port = static_cast<uint16_t>(kGreXlatIdBase + i);
    sw.send(pkt::frame(s, p, pkt::kProtoTcp, pkt::tcp(1723, port, payload, flags, sseq[i], cseq[i])), s0, wan0);
    sseq[i] += static_cast<uint32_t>(payload.size()) + ((flags & 0x02) ? 1 : 0);
  };
  for (uint32_t i = 0; i < o.flows; ++i) up(i, {}, 0x02);  // SYN
  step();
  for (uint32_t i = 0; i < o.flows; ++i) down(i, {}, 0x12);  // SYN-ACK
  step();
  for (uint32_t i = 0; i < o.flows; ++i) up(i, pptp::message(pptp::SCCRQ, 0x0100), 0x18);
  step();
  for (uint32_t i = 0; i < o.flows; ++i) down(i, pptp::message(pptp::SCCRP, 0x0100, 0x0100), 0x18);  // result 1
  step();
  for (uint32_t i = 0; i < o.flows; ++i) up(i, pptp::ocrq(static_cast<uint16_t>(kGreClientIdBase + i)), 0x18);
  step();
  for (uint32_t i = 0; i < o.flows; ++i)
    down(i, pptp::ocrp(static_cast<uint16_t>(kGreServerIdBase + i), static_cast<uint16_t>(kGreXlatIdBase + i)), 0x18);
  step();
  Bytes ppp(16, 0x5a);
  for (uint32_t i = 0; i < o.flows; ++i)
    cw.send(pkt::frame(c, s, pkt::kProtoGre, pkt::gre_v1(static_cast<uint16_t>(kGreServerIdBase + i), ppp, 1)), c0,
            lan0);
  step();
  for (uint32_t i = 0; i < o.flows; ++i)
    sw.send(pkt::frame(s, p, pkt::kProtoGre, pkt::gre_v1(static_cast<uint16_t>(kGreXlatIdBase + i), ppp, 1)), s0, wan0);
  step();
}

}  // namespace

int main(int argc, char** argv) {
  const Opts o = parse(argc, argv);
  libbpf_set_print(nullptr);
  tc_cleanup_on_signals();
  struct TcGuard {
    ~TcGuard() { tc_remove_all(); }
  } tc_guard;
  const std::string bench_obj = std::string(VPNPT_BPF_DIR) + "/bench_xdp.bpf.o";
  const If c0 = lookup_if(o.cns, "c0"), lan0 = lookup_if(o.rns, "lan0"), wan0 = lookup_if(o.rns, "wan0"),
           s0 = lookup_if(o.sns, "s0");
  const bool out = o.dir == "out";
  const bool is_vpnpt = o.mode.rfind("vpnpt", 0) == 0;
  // Call IDs are translated back by vpnpt and by the kernel's PPTP NAT helper.
  const bool xlat_ids = is_vpnpt || (o.mode == "kernel" && o.nat);
  std::vector<Link> links;
  // Sinks on both hosts: the measured direction's counts; the other one only keeps
  // the host's stack from answering what it receives (RSTs would end the PPTP
  // control connections the kernel's helper needs).
  Obj sink(bench_obj), other_sink(bench_obj);
  sink.load("bench_sink");
  other_sink.load("bench_sink");
  put0(other_sink.map_fd("sink_cfg_map"), SinkCfg{});
  links.emplace_back(sink, "bench_sink", out ? o.sns : o.cns, out ? s0.index : c0.index);
  links.emplace_back(other_sink, "bench_sink", out ? o.cns : o.sns, out ? c0.index : s0.index);
  ct_flush(o.rns);  // every measurement starts from an empty conntrack table
  if (o.mode == "kernel" && o.nat && o.proto == "gre") pptp_via_helper(o, c0, lan0, wan0, s0);

  // Router.
  std::unique_ptr<Vpnpt> vp;
  Obj bare_lan, bare_wan;
  double fill_s = 0;
  if (is_vpnpt) {
    auto t0 = Clock::now();
    vp = std::make_unique<Vpnpt>(load_vpnpt(o.mode, o.sessions, o.flows));
    vpnpt_config cfg{};
    cfg.public_ip = ip(kPublic);
    cfg.wan_ifindex = wan0.index;
    cfg.switches = VPNPT_SW_ALL;
    cfg.generation = 1;
    put0(vp->lan.map_fd(VPNPT_MAP_CONFIG), cfg);
    fill_sessions(*vp, o.flows, o.sessions, lan0.index);
    fill_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (vp->hook == "tc") {  // clsact ingress, no XDP program on the router
      tc_attach_filter(vp->lan, "tc_lan", o.rns, lan0.index, "lan0");
      tc_attach_filter(vp->wan, "tc_wan", o.rns, wan0.index, "wan0");
    } else {
      links.emplace_back(vp->lan, "xdp_lan", o.rns, lan0.index);
      links.emplace_back(vp->wan, "xdp_wan", o.rns, wan0.index);
    }
  } else if (o.mode == "bare") {
    bare_lan = Obj(bench_obj);
    bare_wan = Obj(bench_obj);
    bare_lan.load("bench_bare");
    bare_wan.load("bench_bare");
    BareCfg bl{wan0.index, {}, {}, ip(kPublic), 0}, bw{lan0.index, {}, {}, 0, ip(kClient)};
    std::memcpy(bl.smac, wan0.mac, 6), std::memcpy(bl.dmac, s0.mac, 6);
    std::memcpy(bw.smac, lan0.mac, 6), std::memcpy(bw.dmac, c0.mac, 6);
    put0(bare_lan.map_fd("bare_cfg_map"), bl);
    put0(bare_wan.map_fd("bare_cfg_map"), bw);
    links.emplace_back(bare_lan, "bench_bare", o.rns, lan0.index);
    links.emplace_back(bare_wan, "bench_bare", o.rns, wan0.index);
  }

  // Sink on the receiving host, generator on the sending one.
  const Traffic t = out ? traffic(o, "out", c0, lan0, xlat_ids) : traffic(o, "in", s0, wan0, xlat_ids);
  put0(sink.map_fd("sink_cfg_map"), t.sink);
  const std::vector<int> cpus = cpu_list(o.cpus);
  Gen gen{Obj(bench_obj), -1};
  gen.obj.load("bench_gen");
  gen.prog = gen.obj.prog_fd("bench_gen");
  auto set_gen = [&](const Traffic& tr) {
    GenCfg gc{tr.flow_off,  tr.flow_size,  o.flows, tr.flow_base, static_cast<uint32_t>(cpus.size()), o.block ? 1u : 0u,
              tr.flow2_off, tr.flow2_base, {}};
    std::memcpy(gc.hdr, tr.frame.data(), 64);
    put0(gen.obj.map_fd("gen_cfg_map"), gc);
  };

  // Inbound needs state the outbound direction creates: conntrack (netfilter, and
  // vpnpt's NAT-T, which reads it); vpnpt's own sessions are pre-filled.
  if (!out) {
    const Traffic prime = traffic(o, "out", c0, lan0, xlat_ids);
    set_gen(prime);
    generate(gen, o.cns, c0.index, prime.frame, {cpus[0]}, 5.0, std::max<uint64_t>(64, o.flows * 4ull));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  set_gen(t);
  const std::string gns = out ? o.cns : o.sns;
  const uint32_t gif = out ? c0.index : s0.index;
  const int cnt = sink.map_fd("bench_cnt");

  // A short warm-up (caches, page pools, neighbour entries), then the runs.
  generate(gen, gns, gif, t.frame, cpus, std::min(0.2, o.seconds));
  for (uint32_t r = 0; r < o.runs; ++r) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const uint64_t seen0 = percpu_sum(cnt, 0), ok0 = percpu_sum(cnt, 1);
    auto [sent, secs] = generate(gen, gns, gif, t.frame, cpus, o.seconds);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the last frames land
    const uint64_t seen = percpu_sum(cnt, 0) - seen0, ok = percpu_sum(cnt, 1) - ok0;
    std::printf(
        "{\"mode\": \"%s\", \"proto\": \"%s\", \"dir\": \"%s\", \"nat\": %d, \"size\": %u, \"flows\": %u, "
        "\"cpus\": \"%s\", \"sessions\": %llu, \"run\": %u, \"seconds\": %.4f, \"sent\": %llu, "
        "\"received\": %llu, \"translated\": %llu, \"sent_mpps\": %.4f, \"mpps\": %.4f",
        o.mode.c_str(), o.proto.c_str(), o.dir.c_str(), o.nat ? 1 : 0, o.size, o.flows, o.cpus.c_str(),
        static_cast<unsigned long long>(o.sessions), r, secs, static_cast<unsigned long long>(sent),
        static_cast<unsigned long long>(seen), static_cast<unsigned long long>(ok), sent / secs / 1e6, ok / secs / 1e6);
    if (vp) {
      std::printf(", \"fill_seconds\": %.3f, \"maps\": {", fill_s);
      bool first = true;
      for (const char* n : kSessionMaps) {
        bpf_map* m = vp->lan.map(n);
        std::printf("%s\"%s\": {\"max_entries\": %u, \"key_size\": %u, \"value_size\": %u, \"memlock\": %llu}",
                    first ? "" : ", ", n, bpf_map__max_entries(m), bpf_map__key_size(m), bpf_map__value_size(m),
                    static_cast<unsigned long long>(memlock_of(bpf_map__fd(m))));
        first = false;
      }
      std::printf("}");
    }
    std::printf("}\n");
    std::fflush(stdout);
  }
  return 0;
}
