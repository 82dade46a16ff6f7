#include "loader/dataplane/attachment.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <set>

#include "loader/core/bpffs.h"
#include "loader/dataplane/data_path.h"
#include "loader/dataplane/path_attach.h"
#include "loader/dataplane/build_info.h"
#include "loader/dataplane/meta.h"
#include "loader/dataplane/pin_check.h"
#include "loader/dataplane/upgrade.h"
#include "loader/core/daemon_lock.h"
#include "loader/dataplane/lan_autopick.h"
#include "loader/core/log.h"
#include "loader/core/netif.h"
#include "loader/dataplane/nft_ike_table.h"
#include "loader/dataplane/nft_legacy_ike_chain.h"
#include "loader/dataplane/tc_attach.h"

namespace vpnpt {
namespace {

Result<std::vector<IfaceWant>> resolve(const AttachRequest& req) {
  std::vector<IfaceWant> out;
  auto wan = ifindex_of(req.wan);
  if (!wan) return wan.error();
  out.push_back({*wan, req.wan, VPNPT_ROLE_WAN});
  std::vector<std::string> lans = req.lans;
  if (lans.empty()) {
    // No --lan and no `lan =`: pick the LAN side (loader/dataplane/lan_autopick.h has the rules), one line each.
    auto all = list_interfaces();
    if (!all) return all.error();
    spdlog::info(
        "no LAN interface given: picking every other up interface with a private or shared IPv4 "
        "prefix (--lan or 'lan =' overrides)");
    std::set<uint32_t> quiet{*wan};  // not worth repeating in the error
    for (const auto& i : *all)
      if (i.loopback) quiet.insert(i.ifindex);
    std::string skipped;
    for (const auto& c : choose_lans(*all, *wan)) {
      spdlog::info("{}", c.why);
      if (c.picked) {
        lans.push_back(c.name);
      } else if (!quiet.count(c.ifindex)) {
        if (!skipped.empty()) skipped += "; ";
        skipped += c.why;
      }
    }
    if (lans.empty())
      return make_error(
          "no LAN interface found: no interface but the WAN is up with a private or shared IPv4 "
          "prefix (" +
          (skipped.empty() ? std::string("there is no other interface") : skipped) +
          "); give the LAN side with --lan <if>");
  }
  std::set<uint32_t> seen{*wan};
  for (const auto& l : lans) {
    auto idx = ifindex_of(l);
    if (!idx) return idx.error();
    if (!seen.insert(*idx).second)
      return make_error("interface '" + l + "' given twice (the WAN cannot also be a LAN, and each --lan once)");
    out.push_back({*idx, l, VPNPT_ROLE_LAN});
  }
  return out;
}

// Opens the object with pins under @pin_dir and creates its maps (no
// program is verified), so every map exists (with BTF) before the loader
// writes config or attaches. libbpf reuses maps already pinned there, which
// is how state survives restarts.
Status ensure_pinned_maps(const std::string& pin_dir, const LoadConfig& cfg) {
  bpf_object_open_opts opts{};
  opts.sz = sizeof(opts);
  opts.pin_root_path = pin_dir.c_str();
  auto wan = WanSkeleton::open(&opts, "xdp_wan");
  if (!wan) return wan.error();
  wan->apply(cfg);
  return create_maps((*wan)->obj, "xdp_wan");
}

Status write_config(const PinnedMaps& maps, uint32_t public_ip, uint32_t wan_ifindex) {
  auto cfg = maps.config();
  if (!cfg) return cfg.error();
  if (cfg->generation == 0) cfg->switches = VPNPT_SW_ALL;  // fresh: every passthrough on
  cfg->public_ip = public_ip;
  cfg->wan_ifindex = wan_ifindex;
  cfg->generation++;
  return maps.set_config(*cfg);
}

// Attaches the hook for each interface in @todo on the path planned for it
// (the devices of the whole attachment, @all, decide the paths); records it
// in the ifaces map and logs the choice in one line each. On failure
// detaches whatever this call attached.
Status attach_interfaces(PathAttacher& paths, const std::vector<IfaceWant>& all, const std::vector<IfaceWant>& todo,
                         const PinnedMaps& maps) {
  auto plan = paths.plan(all);
  if (!plan) return plan.error();

  std::vector<std::pair<uint32_t, vpnpt_iface>> done;
  auto undo = [&] {
    for (const auto& [ifi, v] : done) (void)detach_path(ifi, v);
  };
  for (const auto& w : todo) {
    size_t i = 0;
    while (all[i].ifindex != w.ifindex) ++i;
    auto v = paths.attach(w, (*plan)[i]);
    if (!v) {
      undo();
      if (take_verifier_log_seen())
        return make_error("the kernel verifier rejected the " + std::string(w.role == VPNPT_ROLE_WAN ? "WAN" : "LAN") +
                          " program (run with -v to see the verifier log)");
      return v.error();
    }
    done.emplace_back(w.ifindex, *v);
    if (auto s = maps.set_iface(w.ifindex, *v); !s) {
      undo();
      return s.error();
    }
    log_attached(w, *v);
  }
  return {};
}

}  // namespace

Status require_root(const char* command) {
  if (geteuid() != 0)
    return make_error(std::string("`vpnpt ") + command +
                      "` needs root (CAP_BPF and CAP_NET_ADMIN); run it as root or with sudo");
  return {};
}

Result<Attached> attach_or_adopt(const AttachRequest& req) {
  auto id = attachment_for(req.wan);
  if (!id) return id.error();
  auto want = resolve(req);
  if (!want) return want.error();
  uint32_t wan_ifindex = want->front().ifindex;

  uint32_t public_ip = 0;
  if (req.public_ip) {
    public_ip = *req.public_ip;
  } else {
    auto ip = primary_ipv4(req.wan);
    if (!ip) return ip.error();
    public_ip = *ip;
  }

  VPNPT_TRY(ensure_bpffs());
  // Another build's data plane is upgraded in place before anything else, never adopted or mixed.
  auto took = take_over(id->pin_dir, req.load);
  if (!took) return took.error();
  bool fresh = took->kind == Takeover::Fresh;
  VPNPT_TRY(make_dirs(id->pin_dir));
  auto fail = [&](Error e) -> Result<Attached> {
    if (fresh) (void)remove_pin_dir(id->pin_dir);  // a failed first attach leaves nothing behind
    return e;
  };

  if (auto s = ensure_pinned_maps(id->pin_dir, req.load); !s) return fail(s.error());
  if (fresh)
    if (auto s = write_meta(id->pin_dir, ""); !s) return fail(s.error());
  auto maps = PinnedMaps::open(id->pin_dir);
  if (!maps) return fail(maps.error());

  // What is already attached from an earlier run?
  auto have = maps->ifaces();
  if (!have) return fail(have.error());
  if (!have->empty()) {
    std::set<uint32_t> want_set, have_set;
    for (const auto& w : *want) want_set.insert(w.ifindex);
    for (const auto& [ifi, v] : *have) have_set.insert(ifi);
    // Fewer recorded than wanted is a start killed half-way (crash loop): complete it. Others are refused.
    if (!std::includes(want_set.begin(), want_set.end(), have_set.begin(), have_set.end())) {
      std::string names;
      for (const auto& [ifi, v] : *have)
        if (v.role == VPNPT_ROLE_LAN) {
          if (!names.empty()) names += ',';  // not `"," + string`: see metrics.cpp (GCC 12 -Wrestrict)
          names += ifname_of(ifi);
        }
      return make_error(req.wan + " is already attached with LAN interface(s) " + names + "; run `vpnpt detach " +
                        req.wan + "` first to change them");
    }
  }
  std::vector<IfaceWant> todo;
  for (const auto& w : *want) {
    auto it = have->find(w.ifindex);
    if (it != have->end() && path_attached(w.ifindex, it->second)) continue;
    todo.push_back(w);
  }
  bool adopted = !have->empty() && todo.empty();

  if (auto s = write_config(*maps, public_ip, wan_ifindex); !s) return fail(s.error());
  if (req.before_attach)
    if (auto s = req.before_attach(*maps); !s) return fail(s.error());
  // Loaded here, before the daemon runs: it keeps them to move interfaces between paths later.
  auto paths = PathAttacher::open(id->pin_dir, req.load, req.mode, *want);
  if (!paths) return fail(paths.error());
  if (!todo.empty()) {
    if (auto s = attach_interfaces(*paths, *want, todo, *maps); !s) return fail(s.error());
  }
  if (took->kind == Takeover::Upgrade)
    spdlog::info("upgraded the data plane on {} in place from {} to {}: programs replaced on {} interface(s), {} "
                 "entries converted; sessions kept",
                 req.wan, took->from_version, build_version(), took->swapped, took->converted);
  else if (adopted)
    spdlog::info("adopted the running data plane on {} (pins in {}); sessions kept", req.wan, id->pin_dir);
  else if (!have->empty())
    spdlog::info("re-attached {} interface(s) to the pinned state in {}", todo.size(), id->pin_dir);
  return Attached{*id, adopted, std::move(*maps), std::make_unique<PathAttacher>(std::move(*paths))};
}

Status detach(const AttachmentId& id) {
  if (!stop_daemon(id.lock_path, 5000))
    return make_error("the vpnpt daemon for " + id.wan_if + " did not stop within 5 s; stop it, then detach again");
  if (!bpffs_mounted() || !path_exists(id.pin_dir))
    return make_error(id.wan_if + " is not attached (no pins at " + id.pin_dir + ")");

  std::string problems;
  if (auto maps = PinnedMaps::open(id.pin_dir)) {
    if (auto ifaces = maps->ifaces()) {
      for (const auto& [ifi, v] : *ifaces) {
        auto s = detach_path(ifi, v);
        if (!s)
          problems += s.error().message() + "; ";
        else
          spdlog::info("detached program {} from {}", v.prog_id, ifname_of(ifi));
      }
    }
  } else {
    // Another build's pins (an upgrade not done): its interface table still names the programs.
    spdlog::warn("{}; detaching what its interface table records and removing the pins", maps.error().message());
    for (const auto& [ifi, v] : recorded_ifaces_of_any_build(id.pin_dir)) {
      if (auto s = detach_path(ifi, v); !s) problems += s.error().message() + "; ";
      else spdlog::info("detached program {} from {}", v.prog_id, ifname_of(ifi));
    }
  }
  if (auto s = remove_ike_table(id.wan_if); !s) problems += s.error().message() + "; ";
  if (auto s = remove_legacy_ike_chain(id.wan_if); !s) problems += s.error().message() + "; ";
  VPNPT_TRY(remove_pin_dir(id.pin_dir));
  if (!problems.empty()) return make_error("detached with problems: " + problems);
  return {};
}

}  // namespace vpnpt
