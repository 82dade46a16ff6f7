#include "loader/dataplane/upgrade.h"

#include <bpf/bpf.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "loader/core/bpffs.h"
#include "loader/core/fd.h"
#include "loader/core/netif.h"
#include "loader/dataplane/build_info.h"
#include "loader/dataplane/data_path.h"
#include "loader/dataplane/link_caps.h"
#include "loader/dataplane/map_layout.h"
#include "loader/dataplane/map_migrate.h"
#include "loader/dataplane/meta.h"
#include "loader/dataplane/pin_check.h"
#include "loader/dataplane/pinned_maps.h"
#include "loader/dataplane/tc_attach.h"
#include "loader/dataplane/xdp_attach.h"

namespace vpnpt {
namespace {

// Moves every pin of @staging into @pin_dir (replacing same-named ones), removes the running
// build's pins this build has no row for (the tracer's row and the build record stay), then
// the staging directory.
Status promote(const std::string& pin_dir, const std::string& staging) {
  std::set<std::string> kept;
  for (const auto& p : kPins) kept.insert(p.name);
  for (const auto& n : pin_names(staging)) {
    if (::rename((staging + "/" + n).c_str(), (pin_dir + "/" + n).c_str()))
      return make_error("cannot move the pin " + n + " out of " + staging, errno);
  }
  std::vector<std::string> dropped;
  for (const auto& n : pin_names(pin_dir))
    if (!kept.count(n)) {
      ::unlink((pin_dir + "/" + n).c_str());
      dropped.push_back(n);
    }
  if (!dropped.empty()) spdlog::info("removed the old build's pins this build does not use: {}", join_names(dropped));
  if (::rmdir(staging.c_str())) return make_error("cannot remove " + staging, errno);
  return {};
}

// An upgrade killed half-way: finished if its programs already run, else thrown away.
Status recover(const std::string& pin_dir, const std::string& staging) {
  if (!path_exists(staging)) return {};
  if (programs_running(staging + "/" + VPNPT_MAP_IFACES)) {
    spdlog::warn("finishing an in-place upgrade interrupted after its programs were swapped");
    VPNPT_TRY(promote(pin_dir, staging));
    return write_meta(pin_dir, "");
  }
  spdlog::warn("discarding an in-place upgrade interrupted before its programs were swapped");
  return remove_tree(staging);
}

// One map of the new build and where its contents come from.
struct MapStep {
  std::string name;           // this build's pin name
  std::string from;           // the running pin it comes from ("" for none)
  bool reused = false;        // the running map itself (same layout)
  bool convert = false;       // entries carried over (CONVERT row, layout changed)
  Fd from_fd, to_fd;
  Conversion conv;
};

// The new programs, loaded against the staging pins.
struct NewPrograms {
  std::optional<LanSkeleton> lan;
  std::optional<WanSkeleton> wan;
  std::optional<TcLanSkeleton> tc_lan;
  std::optional<TcWanSkeleton> tc_wan;

  int fd(uint32_t role, uint32_t mode) const {
    const bool w = role == VPNPT_ROLE_WAN;
    if (mode == VPNPT_MODE_TC)
      return w ? bpf_program__fd((*tc_wan)->progs.tc_wan) : bpf_program__fd((*tc_lan)->progs.tc_lan);
    return w ? bpf_program__fd((*wan)->progs.xdp_wan) : bpf_program__fd((*lan)->progs.xdp_lan);
  }
};

template <class Skel, class... A>
Status load_into(std::optional<Skel>& out, const bpf_object_open_opts* opts, const char* what, const LoadConfig& cfg,
                 A... apply_args) {
  auto s = Skel::open(opts, what);
  if (!s) return s.error();
  s->apply(cfg, apply_args...);
  VPNPT_TRY(load_object((*s)->obj, what));
  out.emplace(std::move(*s));
  return {};
}

// Loads only the programs the running interfaces' paths need: each load is a verifier run.
Result<NewPrograms> load_new(const std::string& staging, LoadConfig cfg, const std::map<uint32_t, vpnpt_iface>& ifs) {
  bool need[2][2] = {};  // [role is WAN][path is TC]
  for (const auto& [ifi, rec] : ifs) {
    if (!path_attached(ifi, rec)) continue;
    need[rec.role == VPNPT_ROLE_WAN][rec.xdp_mode == VPNPT_MODE_TC] = true;
    if (rec.role == VPNPT_ROLE_WAN)
      if (auto f = link_facts(ifi)) cfg.wan_no_l2 = !f->has_l2;
  }
  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = staging.c_str());
  NewPrograms p;
  if (need[0][0]) VPNPT_TRY(load_into(p.lan, &opts, "xdp_lan", cfg));
  if (need[1][0]) VPNPT_TRY(load_into(p.wan, &opts, "xdp_wan", cfg));
  if (need[0][1]) VPNPT_TRY(load_into(p.tc_lan, &opts, "tc_lan", cfg));
  if (need[1][1]) VPNPT_TRY(load_into(p.tc_wan, &opts, "tc_wan", cfg, cfg.wan_no_l2));
  return p;
}

struct Swap {
  uint32_t ifindex;
  vpnpt_iface was, now;
  Fd old_fd;
};

// Puts @to (a loaded program) in place of @from on the interface's recorded path.
Result<uint32_t> replace(uint32_t ifindex, const vpnpt_iface& rec, int from, int to) {
  if (rec.xdp_mode == VPNPT_MODE_TC) return tc_attach(ifindex, ifname_of(ifindex), to);
  if (rec.flags & VPNPT_IFACE_F_DISPATCHER) {
    // libxdp's dispatcher has no replace of one program: out and in again, a gap of one netlink round trip.
    auto was = prog_id_of(from);
    if (was) VPNPT_TRY(xdp_detach_prog(ifindex, *was));
    return xdp_attach_loaded(ifindex, rec.xdp_mode, to);
  }
  VPNPT_TRY(xdp_replace(ifindex, rec.xdp_mode, from, to));
  return prog_id_of(to);
}

void roll_back(std::vector<Swap>& done, const NewPrograms& progs) {
  for (auto it = done.rbegin(); it != done.rend(); ++it) {
    auto back = replace(it->ifindex, it->now, progs.fd(it->now.role, it->now.xdp_mode), it->old_fd.get());
    if (!back)
      spdlog::error("{}: cannot put the old program back: {}", ifname_of(it->ifindex), back.error().message());
  }
}

class Upgrade {
 public:
  Upgrade(std::string pin_dir, const LoadConfig& cfg)
      : pin_dir_(std::move(pin_dir)), staging_(pin_dir_ + "/" + kUpgradeStaging), cfg_(cfg) {}

  Result<TakeoverResult> run(TakeoverResult r) {
    auto done = [&](Result<TakeoverResult> out) {
      if (!out) (void)remove_tree(staging_);  // the running data plane is untouched
      return out;
    };
    VPNPT_TRY(make_dirs(staging_));
    if (auto s = stage_maps(); !s) return done(s.error());
    if (auto s = plan(); !s) return done(s.error());
    for (auto& m : maps_)
      if (m.convert) {
        auto n = copy_entries(m.conv, m.from_fd.get(), m.to_fd.get(), CopyMode::All);
        if (!n) return done(n.error());
        r.converted += *n;
      }
    auto ifs = recorded_ifaces_of_any_build(pin_dir_);
    auto progs = load_new(staging_, cfg_, ifs);
    if (!progs) return done(progs.error());
    auto swapped = swap(ifs, *progs);
    if (!swapped) return done(swapped.error());
    r.swapped = *swapped;
    // Programs still running on other CPUs finish within a grace period; then what the old programs
    // added after the first copy is carried over too.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (auto& m : maps_)
      if (m.convert) {
        auto n = copy_entries(m.conv, m.from_fd.get(), m.to_fd.get(), CopyMode::OnlyMissing);
        if (!n) spdlog::warn("{}", n.error().message());  // the new programs run already: warn, do not undo
        else r.converted += *n;
      }
    VPNPT_TRY(promote(pin_dir_, staging_));
    VPNPT_TRY(write_meta(pin_dir_, r.from_version));
    return r;
  }

 private:
  // Pins every unchanged running map into staging and notes where the others come from.
  Status stage_maps() {
    auto mine = build_layouts();
    if (!mine) return mine.error();
    const auto running = pin_names(pin_dir_);
    for (const auto& [name, hash] : *mine) {
      MapStep m;
      m.name = name;
      const PinInfo* row = pin_info(name);
      bool same = false;
      if (std::find(running.begin(), running.end(), name) != running.end()) {
        auto theirs = pinned_layout(pin_dir_ + "/" + name, name);
        same = theirs && *theirs == hash;
      }
      if (same) {
        m.from = name;
        m.reused = true;
        Fd fd(bpf_obj_get((pin_dir_ + "/" + name).c_str()));
        if (!fd.valid() || bpf_obj_pin(fd.get(), (staging_ + "/" + name).c_str()))
          return make_error("cannot stage the map " + name, errno);
      } else {
        for (const auto& r : running)
          if (pin_family(r) == pin_family(name)) m.from = r;
        m.convert = !m.from.empty() && row && row->upgrade == VPNPT_PIN_UPGRADE_CONVERT;
      }
      maps_.push_back(std::move(m));
    }
    // The maps not reused are created by loading one object against the staging directory.
    LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = staging_.c_str());
    auto wan = WanSkeleton::open(&opts, "xdp_wan");
    if (!wan) return wan.error();
    wan->apply(cfg_);
    return create_maps((*wan)->obj, "xdp_wan");
  }

  // Plans every conversion before the first entry is written: a blocked one changes nothing.
  Status plan() {
    std::vector<std::string> reset;
    for (auto& m : maps_) {
      if (m.reused) continue;
      if (!m.from.empty() && !m.convert) reset.push_back(m.from + " -> " + m.name);
      if (!m.convert) continue;
      m.from_fd = Fd(bpf_obj_get((pin_dir_ + "/" + m.from).c_str()));
      m.to_fd = Fd(bpf_obj_get((staging_ + "/" + m.name).c_str()));
      if (!m.from_fd.valid() || !m.to_fd.valid()) return make_error("cannot open " + m.from + " for the upgrade", errno);
      auto c = plan_conversion(m.from_fd.get(), m.to_fd.get(), m.name);
      if (!c) return c.error();
      m.conv = std::move(*c);
      spdlog::info("upgrade: {} -> {}: entries converted member by member", m.from, m.name);
    }
    if (!reset.empty()) spdlog::info("upgrade: starting empty (abi/pins.def RESET): {}", join_names(reset));
    return {};
  }

  // Replaces the program on every interface where the running build's still runs, recording
  // the new ids in the staging ifaces map. On failure the swapped ones get the old back.
  Result<uint32_t> swap(const std::map<uint32_t, vpnpt_iface>& ifs, const NewPrograms& progs) {
    Fd rec_fd(bpf_obj_get((staging_ + "/" + VPNPT_MAP_IFACES).c_str()));
    if (!rec_fd.valid()) return make_error("cannot open the staged interface table", errno);
    std::vector<Swap> done;
    for (const auto& [ifi, was] : ifs) {
      if (!path_attached(ifi, was)) continue;  // attach puts it back as for any interface
      Fd old_fd(bpf_prog_get_fd_by_id(was.prog_id));
      if (!old_fd.valid()) continue;  // gone meanwhile
      const auto t0 = std::chrono::steady_clock::now();
      auto id = replace(ifi, was, old_fd.get(), progs.fd(was.role, was.xdp_mode));
      if (!id) {
        roll_back(done, progs);
        return make_error("upgrade stopped, the old programs run on: " + id.error().message());
      }
      vpnpt_iface now = was;
      now.prog_id = *id;
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
      spdlog::info("upgrade: {} ({}): program {} replaced by {} in {} us{}", ifname_of(ifi), path_title(was.xdp_mode),
                   was.prog_id, now.prog_id, us.count(),
                   (was.flags & VPNPT_IFACE_F_DISPATCHER) ? " (libxdp dispatcher: detached and attached again)"
                                                          : " (atomic)");
      done.push_back({ifi, was, now, std::move(old_fd)});
      if (bpf_map_update_elem(rec_fd.get(), &ifi, &now, BPF_ANY)) {
        roll_back(done, progs);
        return make_error("cannot record the new program of " + ifname_of(ifi), errno);
      }
    }
    return static_cast<uint32_t>(done.size());
  }

  std::string pin_dir_, staging_;
  LoadConfig cfg_;
  std::vector<MapStep> maps_;
};

}  // namespace

Result<TakeoverResult> take_over(const std::string& pin_dir, const LoadConfig& cfg) {
  TakeoverResult r;
  const std::string staging = pin_dir + "/" + kUpgradeStaging;
  VPNPT_TRY(recover(pin_dir, staging));
  if (pin_names(pin_dir).empty()) return r;  // Fresh

  auto meta = read_meta(pin_dir);
  if (!meta) return meta.error();
  auto ours = check_pins_are_ours(pin_dir);
  const bool same_build = *meta && (*meta)->build_hash == build_hash();
  if (same_build && ours) {
    r.kind = Takeover::Adopt;
    return r;
  }
  r.kind = Takeover::Upgrade;
  r.from_version = meta_version(*meta);
  r.why = !ours ? ours.error().message()
                : "the running programs are build " + r.from_version + ", this is " + build_version();
  spdlog::info("upgrading the data plane in place from {} to {}: {}", r.from_version, build_version(), r.why);
  return Upgrade(pin_dir, cfg).run(std::move(r));
}

}  // namespace vpnpt
