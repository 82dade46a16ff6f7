// The BPF programs as C++ objects: RAII around the bpftool skeletons, the
// load-time configuration written into .rodata, and loading without pins
// (for packet tests and benchmarks, where the LAN and WAN objects share
// maps by fd instead of by pin).
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "abi/vpnpt_abi.h"

#include "loader/core/result.h"
#include "tc_lan.skel.h"
#include "tc_wan.skel.h"
#include "xdp_lan.skel.h"
#include "xdp_wan.skel.h"

namespace vpnpt {

// Load-time configuration (.rodata); see bpf/lib/load_config.h.
struct LoadConfig {
  uint32_t vlan_depth = 2;  // 0..VPNPT_VLAN_DEPTH_MAX
  bool events = true;
  uint64_t fib_cache_ns = VPNPT_FIB_CACHE_NS_DEFAULT;  // next-hop cache bound, 0 = off (bpf/lib/fwd.h)
  // Per-LAN-host shares of the session tables (vpnpt_host_quota).
  uint32_t host_max_calls = VPNPT_HOST_MAX_CALLS;
  uint32_t host_max_streams = VPNPT_HOST_MAX_STREAMS;
  uint32_t host_max_sas = VPNPT_HOST_MAX_SAS;
  // What forwarded NAT-T renews its conntrack entry to (bpf/lib/conntrack.h); attach sets the netns's
  // nf_conntrack_udp_timeout_stream.
  uint32_t natt_ct_timeout_ms = VPNPT_NATT_CT_TIMEOUT_MS_DEFAULT;
  // The WAN device has no link-layer header (an L3 WAN such as ppp0): its TC hook parses from the IP header.
  bool wan_no_l2 = false;
  // Slots of each ESP SA table (a power of two; 0: VPNPT_ESP_SLOTS). The hooks read the size from
  // the map, so any size works; a pinned table keeps the size it was created with.
  uint32_t esp_slots = 0;
};

// Every load-time configuration the data plane supports, for load tests.
std::vector<LoadConfig> all_load_configs();

template <class T>
class Skeleton {
 public:
  static Result<Skeleton> open(const bpf_object_open_opts* opts, const char* what) {
    errno = 0;
    T* s = T::open(opts);
    if (!s) return make_error(std::string("cannot open BPF object ") + what, errno ? errno : EINVAL);
    return Skeleton(s);
  }

  Skeleton(Skeleton&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Skeleton& operator=(Skeleton&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  Skeleton(const Skeleton&) = delete;
  Skeleton& operator=(const Skeleton&) = delete;
  ~Skeleton() { reset(); }

  T* operator->() const { return s_; }
  T* get() const { return s_; }

  // @no_l2: this object's hook runs on a device without link-layer header.
  void apply(const LoadConfig& cfg, bool no_l2 = false) {
    s_->rodata->cfg_no_l2 = no_l2 ? 1 : 0;
    s_->rodata->cfg_vlan_depth = cfg.vlan_depth;
    s_->rodata->cfg_events = cfg.events ? 1 : 0;
    s_->rodata->cfg_host_max_calls = cfg.host_max_calls;
    s_->rodata->cfg_host_max_streams = cfg.host_max_streams;
    s_->rodata->cfg_host_max_sas = cfg.host_max_sas;
    s_->rodata->cfg_fib_cache_ns = cfg.fib_cache_ns;
    s_->rodata->cfg_natt_ct_timeout_ms = cfg.natt_ct_timeout_ms;
    if (cfg.esp_slots) {
      bpf_map__set_max_entries(s_->maps.vpnpt_esp_in_v2, cfg.esp_slots);
      bpf_map__set_max_entries(s_->maps.vpnpt_esp_out_v2, cfg.esp_slots);
    }
  }

 private:
  explicit Skeleton(T* s) : s_(s) {}
  void reset() {
    if (s_) T::destroy(s_);
    s_ = nullptr;
  }
  T* s_ = nullptr;
};

using LanSkeleton = Skeleton<xdp_lan_bpf>;
using WanSkeleton = Skeleton<xdp_wan_bpf>;
using TcLanSkeleton = Skeleton<tc_lan_bpf>;
using TcWanSkeleton = Skeleton<tc_wan_bpf>;

// The hook a program runs at: XDP (frames, before the stack) or TC ingress (skbs).
enum class Hook { Xdp, Tc };
const char* hook_name(Hook h);

// Loads a BPF object, turning a verifier rejection into a clear error.
Status load_object(bpf_object* obj, const char* what);

// Creates @obj's maps (pinned ones reused or pinned) without loading its programs: no
// verifier run, for when only the maps are wanted.
Status create_maps(bpf_object* obj, const char* what);

// All four programs (LAN and WAN, XDP and TC) loaded, sharing one set of
// unpinned maps. Used by packet tests and benchmarks through
// BPF_PROG_TEST_RUN; never attached.
struct UnpinnedPrograms {
  LanSkeleton lan;
  WanSkeleton wan;
  TcLanSkeleton tc_lan;
  TcWanSkeleton tc_wan;
  Hook hook = Hook::Xdp;  // whose programs lan_fd() and wan_fd() name

  int lan_fd() const { return lan_fd(hook); }
  int wan_fd() const { return wan_fd(hook); }
  int lan_fd(Hook h) const {
    return h == Hook::Xdp ? bpf_program__fd(lan->progs.xdp_lan) : bpf_program__fd(tc_lan->progs.tc_lan);
  }
  int wan_fd(Hook h) const {
    return h == Hook::Xdp ? bpf_program__fd(wan->progs.xdp_wan) : bpf_program__fd(tc_wan->progs.tc_wan);
  }
  // Shared maps (the LAN object's instances; the WAN object reuses them).
  int counters_fd() const { return bpf_map__fd(lan->maps.vpnpt_counters_v1); }
  int reasons_fd() const { return bpf_map__fd(lan->maps.vpnpt_reasons_v11); }
  int config_fd() const { return bpf_map__fd(lan->maps.vpnpt_config_v1); }
  int events_fd() const { return bpf_map__fd(lan->maps.vpnpt_events_v2); }
  int diag_events_fd() const { return bpf_map__fd(lan->maps.vpnpt_diag_events_v1); }
};

// Loads all four programs, or with @only just that hook's two (the other
// hook's objects still create and share the maps, but their programs are
// not verified: packet tests run one hook at a time, and verification is
// most of their cost).
Result<UnpinnedPrograms> load_unpinned(const LoadConfig& cfg, std::optional<Hook> only = std::nullopt);

// Id of a loaded program.
Result<uint32_t> prog_id_of(int prog_fd);

}  // namespace vpnpt
