#include "loader/dataplane/path_attach.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "loader/dataplane/link_caps.h"
#include "loader/core/netif.h"
#include "loader/dataplane/tc_attach.h"
#include "loader/dataplane/xdp_attach.h"

namespace vpnpt {

// XDP objects stay unloaded (libxdp loads them, maybe into its dispatcher);
// the TC objects are loaded against the pinned maps.
struct PathAttacher::Programs {
  std::string pin_dir;
  bpf_object_open_opts opts{};
  std::optional<LanSkeleton> lan;
  std::optional<WanSkeleton> wan;
  std::optional<XdpProgram> xdp_lan, xdp_wan;
  std::optional<TcLanSkeleton> tc_lan;
  std::optional<TcWanSkeleton> tc_wan;

  XdpProgram& xdp(uint32_t role) { return role == VPNPT_ROLE_WAN ? *xdp_wan : *xdp_lan; }
  int tc_fd(uint32_t role) const {
    return role == VPNPT_ROLE_WAN ? bpf_program__fd((*tc_wan)->progs.tc_wan) : bpf_program__fd((*tc_lan)->progs.tc_lan);
  }
};

PathAttacher::PathAttacher(std::unique_ptr<Programs> p, ModeRequest mode) : p_(std::move(p)), mode_(mode) {}
PathAttacher::PathAttacher(PathAttacher&&) noexcept = default;
PathAttacher& PathAttacher::operator=(PathAttacher&&) noexcept = default;
PathAttacher::~PathAttacher() = default;

Result<PathAttacher> PathAttacher::open(const std::string& pin_dir, LoadConfig cfg, ModeRequest mode,
                                        const std::vector<IfaceWant>& all) {
  auto p = std::make_unique<Programs>();
  p->pin_dir = pin_dir;
  p->opts.sz = sizeof(p->opts);
  p->opts.pin_root_path = p->pin_dir.c_str();
  for (const auto& w : all)
    if (w.role == VPNPT_ROLE_WAN)
      if (auto f = link_facts(w.ifindex)) cfg.wan_no_l2 = !f->has_l2;

  auto lan = LanSkeleton::open(&p->opts, "xdp_lan");
  if (!lan) return lan.error();
  auto wan = WanSkeleton::open(&p->opts, "xdp_wan");
  if (!wan) return wan.error();
  lan->apply(cfg);
  wan->apply(cfg);
  auto xl = XdpProgram::from_object((*lan)->obj, "xdp_lan");
  if (!xl) return xl.error();
  auto xw = XdpProgram::from_object((*wan)->obj, "xdp_wan");
  if (!xw) return xw.error();
  p->lan.emplace(std::move(*lan));
  p->wan.emplace(std::move(*wan));
  p->xdp_lan.emplace(std::move(*xl));
  p->xdp_wan.emplace(std::move(*xw));

  auto tl = TcLanSkeleton::open(&p->opts, "tc_lan");
  if (!tl) return tl.error();
  auto tw = TcWanSkeleton::open(&p->opts, "tc_wan");
  if (!tw) return tw.error();
  tl->apply(cfg);
  tw->apply(cfg, cfg.wan_no_l2);
  VPNPT_TRY(load_object((*tl)->obj, "tc_lan"));
  VPNPT_TRY(load_object((*tw)->obj, "tc_wan"));
  p->tc_lan.emplace(std::move(*tl));
  p->tc_wan.emplace(std::move(*tw));
  return PathAttacher(std::move(p), mode);
}

Result<std::vector<PathChoice>> PathAttacher::plan(const std::vector<IfaceWant>& all) {
  std::vector<LinkFacts> facts;
  std::vector<uint32_t> roles;
  for (const auto& w : all) {
    auto f = link_facts(w.ifindex);
    if (!f) return f.error();
    if (!f->has_l2 && w.role == VPNPT_ROLE_LAN)
      return make_error("LAN interface " + w.name + " has no Ethernet header; vpnpt serves Ethernet LANs only");
    facts.push_back(std::move(*f));
    roles.push_back(w.role);
  }
  return choose_paths(mode_, facts, roles);
}

Result<vpnpt_iface> PathAttacher::attach(const IfaceWant& w, const PathChoice& c) {
  vpnpt_iface v{w.role, c.mode, 0, 0, c.why, c.why_ifindex};
  if (c.mode != VPNPT_MODE_TC) {
    XdpProgram& prog = p_->xdp(w.role);
    ModeRequest xm = c.mode == VPNPT_MODE_SKB ? ModeRequest::Skb : ModeRequest::Native;
    auto got = prog.attach(w.ifindex, w.name, xm);
    if (got) {
      v.prog_id = prog.id();
      v.flags = xdp_uses_dispatcher(w.ifindex) ? VPNPT_IFACE_F_DISPATCHER : 0u;
      return v;
    }
    if (mode_ != ModeRequest::Auto) return got.error();
    v.xdp_mode = VPNPT_MODE_TC;
    v.why = VPNPT_WHY_NO_NATIVE;
    v.why_ifindex = 0;
  }
  auto id = tc_attach(w.ifindex, w.name, p_->tc_fd(w.role));
  if (!id) return id.error();
  v.prog_id = *id;
  return v;
}

Result<uint32_t> PathAttacher::reconcile(const std::vector<IfaceWant>& all, const PinnedMaps& maps) {
  auto recs = maps.ifaces();
  if (!recs) return recs.error();
  auto plan = this->plan(all);
  if (!plan) return plan.error();
  uint32_t moved = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    const IfaceWant& w = all[i];
    auto it = recs->find(w.ifindex);
    if (it == recs->end()) continue;
    const vpnpt_iface& old = it->second;
    const PathChoice& want = (*plan)[i];
    bool same = want.mode == old.xdp_mode;
    // Native XDP this driver refused once is not retried every half second.
    bool refused = want.mode == VPNPT_MODE_NATIVE && old.xdp_mode == VPNPT_MODE_TC && old.why == VPNPT_WHY_NO_NATIVE;
    if (same || refused) {
      if (same && (old.why != want.why || old.why_ifindex != want.why_ifindex)) {
        vpnpt_iface v = old;  // same path, new reason (e.g. another LAN is now the one XDP cannot reach)
        v.why = want.why;
        v.why_ifindex = want.why_ifindex;
        (void)maps.set_iface(w.ifindex, v);
      }
      continue;
    }
    auto v = attach(w, want);
    if (!v) {
      spdlog::warn("{}: cannot move to {} ({}); staying on {}", w.name, mode_name(want.mode), v.error().message(),
                   mode_name(old.xdp_mode));
      continue;
    }
    if (v->xdp_mode == old.xdp_mode) continue;  // native refused: still where it was (TC)
    if (auto s = detach_path(w.ifindex, old); !s) spdlog::warn("{}: {}", w.name, s.error().message());
    VPNPT_TRY(maps.set_iface(w.ifindex, *v));
    spdlog::info("{} (moved from {})", describe_path(w.name, *v), path_title(old.xdp_mode));
    ++moved;
  }
  return moved;
}

std::vector<IfaceWant> recorded_ifaces(const std::map<uint32_t, vpnpt_iface>& recs) {
  std::vector<IfaceWant> out;
  for (const auto& [ifi, v] : recs)
    if (v.role == VPNPT_ROLE_WAN) out.push_back({ifi, ifname_of(ifi), v.role});
  for (const auto& [ifi, v] : recs)
    if (v.role != VPNPT_ROLE_WAN) out.push_back({ifi, ifname_of(ifi), v.role});
  return out;
}

void log_attached(const IfaceWant& w, const vpnpt_iface& v) {
  spdlog::info("attached {} program (id {}): {}{}", w.role == VPNPT_ROLE_WAN ? "WAN" : "LAN", v.prog_id,
               describe_path(w.name, v),
               v.xdp_mode == VPNPT_MODE_TC ? ""
               : (v.flags & VPNPT_IFACE_F_DISPATCHER)
                   ? ", through the libxdp dispatcher (other XDP programs can share it)"
                   : ", as the only XDP program (libxdp's dispatcher is not available on this kernel)");
}

}  // namespace vpnpt
