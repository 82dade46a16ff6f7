#include "prog_runner.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <linux/pkt_cls.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "loader/proto/ipsec/esp_table.h"
#include "loader/proto/l2tp/l2tp_table.h"
#include "loader/proto/pptp/pptp_table.h"

namespace vpnpt::test {

namespace {

bool is_tc_program(int prog_fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) throw std::runtime_error("cannot read program info");
  return info.type == BPF_PROG_TYPE_SCHED_CLS;
}

uint32_t xdp_verdict_of_tc(int32_t v) {
  switch (v) {
    case TC_ACT_UNSPEC:
    case TC_ACT_OK: return XDP_PASS;
    case TC_ACT_SHOT: return XDP_DROP;
    case TC_ACT_REDIRECT: return XDP_REDIRECT;
    default: return XDP_ABORTED;  // nothing vpnpt returns
  }
}

}  // namespace

bool operator==(const OutFrame& got, const pkt::Bytes& want) {
  if (!got.l2_by_kernel) return static_cast<const pkt::Bytes&>(got) == want;
  constexpr size_t kMacs = 12;
  return got.l2_untouched && got.size() == want.size() && got.size() >= kMacs &&
         std::equal(got.begin() + kMacs, got.end(), want.begin() + kMacs);
}

bool tc_harness_refuses(const pkt::Bytes& f) {
  if (f.size() < 14) return false;
  uint16_t type = static_cast<uint16_t>(f[12] << 8 | f[13]);
  return (type == 0x0800 && f.size() < 14 + 20) || (type == 0x86dd && f.size() < 14 + 40);
}

Hook test_hook() {
  const char* h = std::getenv("VPNPT_TEST_HOOK");
  return h && std::string_view(h) == "tc" ? Hook::Tc : Hook::Xdp;
}

RunResult run_xdp(int prog_fd, const pkt::Bytes& in, uint32_t repeat, uint32_t ingress_ifindex) {
  RunResult r;
  r.out.resize(in.size() + 512);
  bool tc = is_tc_program(prog_fd);
  xdp_md xctx{};
  xctx.data_end = static_cast<__u32>(in.size());
  xctx.ingress_ifindex = ingress_ifindex;
  __sk_buff sctx{};
  sctx.ifindex = ingress_ifindex;  // the skb arrives on that device (the FIB and conntrack use its namespace)
  sctx.ingress_ifindex = ingress_ifindex;
  void* ctx = tc ? static_cast<void*>(&sctx) : static_cast<void*>(&xctx);
  uint32_t ctx_size = tc ? sizeof(sctx) : sizeof(xctx);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = r.out.data(),
              .data_size_in = static_cast<__u32>(in.size()), .data_size_out = static_cast<__u32>(r.out.size()),
              .ctx_in = ingress_ifindex ? ctx : nullptr, .ctx_size_in = ingress_ifindex ? ctx_size : 0u,
              .repeat = static_cast<int>(repeat));
  r.err = bpf_prog_test_run_opts(prog_fd, &opts);
  if (r.err) r.err = -errno;
  r.verdict = tc ? xdp_verdict_of_tc(static_cast<int32_t>(opts.retval)) : opts.retval;
  r.out.resize(opts.data_size_out);
  r.ns_per_run = opts.duration;
  if (tc && r.verdict == XDP_REDIRECT) {
    r.out.l2_by_kernel = true;
    r.out.l2_untouched =
        r.out.size() >= 12 && in.size() >= 12 && std::equal(in.begin(), in.begin() + 12, r.out.begin());
  }
  return r;
}

const char* verdict_name(uint32_t v) {
  switch (v) {
    case XDP_ABORTED: return "XDP_ABORTED";
    case XDP_DROP: return "XDP_DROP";
    case XDP_PASS: return "XDP_PASS";
    case XDP_TX: return "XDP_TX";
    case XDP_REDIRECT: return "XDP_REDIRECT";
    default: return "XDP_?";
  }
}

Snapshot snapshot(const UnpinnedPrograms& p) {
  Snapshot s;
  if (!sum_percpu_counters(p.counters_fd(), s.counters.data(), VPNPT_COUNTER_SLOTS) ||
      !sum_percpu_counters(p.reasons_fd(), s.reasons.data(), VPNPT_REASON_SLOTS))
    throw std::runtime_error("cannot read counters");
  return s;
}

namespace {
UnpinnedPrograms load_or_throw(const LoadConfig& cfg) {
  auto p = load_unpinned(cfg, test_hook());
  if (!p) throw std::runtime_error(p.error().message());
  return std::move(*p);
}
}  // namespace

Dataplane::Dataplane(const LoadConfig& cfg) : progs(load_or_throw(cfg)) { progs.hook = test_hook(); }

void Dataplane::configure(uint32_t public_ip, uint32_t wan_ifindex, uint32_t switches) const {
  vpnpt_config c{};
  c.public_ip = public_ip;
  c.wan_ifindex = wan_ifindex;
  c.switches = switches;
  c.generation = 1;
  uint32_t key = 0;
  if (bpf_map_update_elem(progs.config_fd(), &key, &c, BPF_ANY)) throw std::runtime_error("cannot write config");
}

int Dataplane::map_fd(const char* name) const {
  bpf_map* m = bpf_object__find_map_by_name(progs.lan->obj, name);
  if (!m) throw std::runtime_error(std::string("no map ") + name);
  return bpf_map__fd(m);
}

size_t Dataplane::entries(const char* name) const {
  int fd = map_fd(name);
  // The PPTP tables are arrays (abi/vpnpt_abi.h): count the slots in use.
  if (std::string(name) == VPNPT_MAP_PPTP_CALLS) return live_pptp_calls(fd).size();
  if (std::string(name) == VPNPT_MAP_PPTP_GRE_OUT) return used_pptp_gre_slots(fd).size();
  // So are the L2TP and ESP tables.
  if (std::string(name) == VPNPT_MAP_ESP_IN || std::string(name) == VPNPT_MAP_ESP_OUT) return live_esp_sas(fd).size();
  if (std::string(name) == VPNPT_MAP_L2TP_TUNNELS) return live_l2tp_tunnels(fd).size();
  if (std::string(name) == VPNPT_MAP_L2TP_OUT) return used_l2tp_out_slots(fd);
  std::vector<uint8_t> key(64), next(64);
  size_t n = 0;
  void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
    ++n;
    key.swap(next);
    prev = key.data();
  }
  return n;
}

void Dataplane::bind_spi(uint32_t server, uint32_t spi, uint32_t host) const {
  auto tab = EspTable::map(map_fd(VPNPT_MAP_ESP_IN));
  if (!tab) throw std::runtime_error(tab.error().message());
  vpnpt_esp_sa sa{};
  sa.server = server;
  sa.spi = htonl(spi);
  sa.host = host;
  if (tab->insert(sa) == EspTable::Put::full) throw std::runtime_error("the inbound ESP table's run is full");
}

uint32_t Dataplane::esp_out_host(uint32_t server, uint32_t spi) const {
  for (const auto& s : live_esp_sas(map_fd(VPNPT_MAP_ESP_OUT)))
    if (s.sa.server == server && s.sa.spi == htonl(spi)) return s.sa.host;
  return 0;
}

uint64_t Dataplane::reason(uint32_t r) const {
  auto s = snapshot(progs);
  uint64_t n = 0;
  for (uint32_t d = 0; d < VPNPT_DIR_MAX; ++d) n += s.reasons[vpnpt_reason_index(d, r)].packets;
  return n;
}

}  // namespace vpnpt::test
