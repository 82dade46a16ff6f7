#include "loader/dataplane/programs.h"

#include <bpf/bpf.h>

#include <vector>

#include "loader/dataplane/kernel_probe.h"
#include "loader/core/log.h"

namespace vpnpt {

std::vector<LoadConfig> all_load_configs() {
  std::vector<LoadConfig> out;
  for (uint32_t depth = 0; depth <= VPNPT_VLAN_DEPTH_MAX; ++depth)
    for (bool events : {false, true})
      for (uint64_t cache : {uint64_t{0}, uint64_t{VPNPT_FIB_CACHE_NS_DEFAULT}}) {
        LoadConfig c;
        c.vlan_depth = depth;
        c.events = events;
        c.fib_cache_ns = cache;
        // An L3 WAN only changes the TC WAN hook's parser: both values, half the loads.
        c.wan_no_l2 = !events;
        out.push_back(c);
      }
  return out;
}

Status load_object(bpf_object* obj, const char* what) {
  // Loads nf_conntrack (its kfuncs resolve at load), then refuses an old
  // kernel in one line naming what it lacks, not with a verifier log.
  VPNPT_TRY(require_kernel_features());
  take_verifier_log_seen();
  int err = bpf_object__load(obj);
  if (err == 0) return {};
  if (take_verifier_log_seen())
    return make_error(std::string("the kernel verifier rejected ") + what + " (run with -v to see the verifier log)",
                      err);
  if (err == -EPERM)
    return make_error(std::string("loading ") + what + " was refused; vpnpt needs root (CAP_BPF, CAP_NET_ADMIN)", err);
  return make_error(std::string("cannot load ") + what, err);
}

Status create_maps(bpf_object* obj, const char* what) {
  // libbpf resolves the object's kfunc externs even with no program to load: nf_conntrack's
  // must be there (a fresh 6.1 machine has not loaded it yet).
  VPNPT_TRY(require_kernel_features());
  bpf_program* p;
  bpf_object__for_each_program(p, obj) bpf_program__set_autoload(p, false);
  int err = bpf_object__load(obj);
  if (err) return make_error(std::string("cannot create the maps of ") + what, err);
  return {};
}

namespace {

// Makes every map of @obj unpinned: tests must not touch /sys/fs/bpf.
void clear_pins(bpf_object* obj) {
  bpf_map* m;
  bpf_object__for_each_map(m, obj) bpf_map__set_pin_path(m, nullptr);
}

// Points every map of @dst at the same-named map of @src, so both objects share state.
Status share_maps(bpf_object* src, bpf_object* dst) {
  bpf_map* m;
  bpf_object__for_each_map(m, dst) {
    const char* name = bpf_map__name(m);
    // .rodata/.bss are per object.
    if (name[0] == '.' || std::string_view(name).find(".rodata") != std::string_view::npos) continue;
    bpf_map* s = bpf_object__find_map_by_name(src, name);
    if (!s) continue;
    int err = bpf_map__reuse_fd(m, bpf_map__fd(s));
    if (err) return make_error(std::string("cannot share map ") + name, err);
  }
  return {};
}

}  // namespace

const char* hook_name(Hook h) { return h == Hook::Xdp ? "xdp" : "tc"; }

Result<UnpinnedPrograms> load_unpinned(const LoadConfig& cfg, std::optional<Hook> only) {
  auto lan = LanSkeleton::open(nullptr, "xdp_lan");
  if (!lan) return lan.error();
  auto wan = WanSkeleton::open(nullptr, "xdp_wan");
  if (!wan) return wan.error();
  auto tc_lan = TcLanSkeleton::open(nullptr, "tc_lan");
  if (!tc_lan) return tc_lan.error();
  auto tc_wan = TcWanSkeleton::open(nullptr, "tc_wan");
  if (!tc_wan) return tc_wan.error();
  lan->apply(cfg);
  wan->apply(cfg);
  tc_lan->apply(cfg);
  tc_wan->apply(cfg, cfg.wan_no_l2);
  clear_pins((*lan)->obj);
  clear_pins((*wan)->obj);
  clear_pins((*tc_lan)->obj);
  clear_pins((*tc_wan)->obj);
  if (only) {
    bool xdp = *only == Hook::Xdp;
    bpf_program__set_autoload((*lan)->progs.xdp_lan, xdp);
    bpf_program__set_autoload((*wan)->progs.xdp_wan, xdp);
    bpf_program__set_autoload((*tc_lan)->progs.tc_lan, !xdp);
    bpf_program__set_autoload((*tc_wan)->progs.tc_wan, !xdp);
  }
  VPNPT_TRY(load_object((*lan)->obj, "xdp_lan"));
  VPNPT_TRY(share_maps((*lan)->obj, (*wan)->obj));
  VPNPT_TRY(load_object((*wan)->obj, "xdp_wan"));
  VPNPT_TRY(share_maps((*lan)->obj, (*tc_lan)->obj));
  VPNPT_TRY(load_object((*tc_lan)->obj, "tc_lan"));
  VPNPT_TRY(share_maps((*lan)->obj, (*tc_wan)->obj));
  VPNPT_TRY(load_object((*tc_wan)->obj, "tc_wan"));
  return UnpinnedPrograms{std::move(*lan), std::move(*wan), std::move(*tc_lan), std::move(*tc_wan)};
}

Result<uint32_t> prog_id_of(int prog_fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) return make_error("cannot read program info", errno);
  return info.id;
}

}  // namespace vpnpt
