#include "loader/cli/status.h"

#include <bpf/bpf.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "abi/vpnpt_abi.h"
#include "loader/core/clock.h"
#include "loader/core/daemon_lock.h"
#include "loader/dataplane/data_path.h"
#include "loader/daemon/fill_levels.h"
#include "loader/dataplane/ip_passthrough.h"
#include "loader/dataplane/kernel_probe.h"
#include "loader/core/map_dump.h"
#include "loader/core/names.h"
#include "loader/core/netif.h"
#include "loader/dataplane/build_info.h"
#include "loader/dataplane/meta.h"
#include "loader/dataplane/pin_check.h"
#include "loader/dataplane/pinned_maps.h"
#include "loader/core/protocols.h"
#include "loader/cli/units.h"
#include "loader/dataplane/xdp_attach.h"

namespace vpnpt {

using nlohmann::json;

// The build that attached the data plane (its record with the pins) and this binary's.
static json build_json(const std::string& pin_dir) {
  json b;
  auto abi = build_abi_hash();
  b["this_binary"] = {{"version", build_version()},
                      {"abi", abi ? json(hash_hex(*abi)) : json(nullptr)},
                      {"programs", hash_hex(build_hash())}};
  auto meta = read_meta(pin_dir);
  if (meta && *meta) {
    const vpnpt_meta& m = **meta;
    b["running"] = {{"version", m.version},
                    {"abi", hash_hex(m.abi_hash)},
                    {"programs", hash_hex(m.build_hash)},
                    {"attached_at_unix", m.attached_at / 1000000000ull},
                    {"upgraded_from", m.upgraded_from[0] ? json(m.upgraded_from) : json(nullptr)}};
    b["same_build"] = m.build_hash == build_hash();
  } else {
    b["running"] = nullptr;  // attached by a build older than the record
    b["same_build"] = false;
  }
  return b;
}

Result<json> status_json(const AttachmentId& id) {
  auto maps = PinnedMaps::open(id.pin_dir);
  if (!maps) {
    if (!pin_names(id.pin_dir).empty()) {  // pins, but not all of this build's names
      auto meta = read_meta(id.pin_dir);
      return make_error(id.wan_if + " runs the data plane of another vpnpt build (" +
                        meta_version(meta ? *meta : std::nullopt) +
                        "), which this binary cannot read; restarting the daemon with this build (`vpnpt attach`) "
                        "upgrades it in place");
    }
    return make_error(id.wan_if + " is not attached (no pins at " + id.pin_dir + ")");
  }
  auto cfg = maps->config();
  if (!cfg) return cfg.error();
  auto ifaces = maps->ifaces();
  if (!ifaces) return ifaces.error();
  auto counters = maps->counters();
  if (!counters) return counters.error();
  auto reasons = maps->reasons();
  if (!reasons) return reasons.error();
  auto xlat = maps->xlat();
  if (!xlat) return xlat.error();
  auto fill = fill_levels(*maps);
  if (!fill) return fill.error();

  json st;
  st["wan"] = id.wan_if;
  st["pin_dir"] = id.pin_dir;
  st["public_ip"] = format_ipv4(cfg->public_ip);
  auto daemon = daemon_info(id.lock_path);
  st["daemon"] = daemon_state_name(daemon.state);
  st["daemon_pid"] = daemon.pid ? json(*daemon.pid) : json(nullptr);
  // Serving: its heartbeat is fresh, so the hooks hand it L2TP tunnel setup
  // (until then, or once it is stale, the kernel's NAT gets them).
  vpnpt_daemon hb{};
  uint32_t zero = 0;
  st["daemon_serving"] =
      bpf_map_lookup_elem(maps->daemon_fd(), &zero, &hb) == 0 && vpnpt_daemon_serving(hb.heartbeat_ns, monotonic_ns());

  st["build"] = build_json(id.pin_dir);

  json ifs = json::array();
  for (const auto& [ifi, v] : *ifaces) {
    ifs.push_back({{"name", ifname_of(ifi)},
                   {"ifindex", ifi},
                   {"role", v.role == VPNPT_ROLE_WAN ? "wan" : "lan"},
                   {"mode", mode_name(v.xdp_mode)},
                   {"path", describe_path(ifname_of(ifi), v)},
                   {"prog_id", v.prog_id},
                   {"dispatcher", (v.flags & VPNPT_IFACE_F_DISPATCHER) != 0},
                   {"attached", path_attached(ifi, v)}});
  }
  st["interfaces"] = ifs;
  json degraded = json::array();
  for (const auto& d : kernel_degradations()) degraded.push_back({{"feature", d.feature}, {"effect", d.effect}});
  st["kernel"] = {{"release", kernel_release()}, {"degraded", degraded}};

  st["switches"] = nlohmann::json::object();
  st["deferred"] = nlohmann::json::object();
  for (const auto& p : kProtocols) {
    st["switches"][std::string(p.key)] = (cfg->switches & p.switch_bit) != 0;
    st["deferred"][std::string(p.key)] = (cfg->deferred & p.switch_bit) != 0;
  }
  // Switched on but handed to the kernel (its own helper is attached).

  json keep = json::array();
  for (const auto& kv : dump_map<vpnpt_local_port_key, uint8_t>(maps->local_ports_fd()))
    keep.push_back(format_local_port(kv.first));
  st["ip_passthrough"] = {{"host", cfg->passthrough_host ? json(format_ipv4(cfg->passthrough_host)) : json(nullptr)},
                          {"local_ports", keep}};

  json maps_j = json::object();
  for (const auto& f : *fill) {
    const PinInfo* pin = pin_info(f.name);
    maps_j[f.name] = {{"title", pin ? pin->title : f.name},
                      {"used", f.used},
                      {"capacity", f.capacity},
                      {"percent", f.capacity ? 100.0 * f.used / f.capacity : 0.0},
                      {"fixed", f.fixed}};
  }
  st["maps"] = maps_j;

  json cnt = json::object();
  for (uint32_t d = 0; d < VPNPT_DIR_MAX; ++d) {
    json per = json::object();
    for (uint32_t c = 0; c < VPNPT_CLASS_MAX; ++c) {
      const auto& v = (*counters)[vpnpt_counter_index(d, c)];
      const auto& x = (*xlat)[vpnpt_counter_index(d, c)];
      per[std::string(class_name(c))] = {
          {"packets", v.packets}, {"bytes", v.bytes}, {"translated_packets", x.packets}, {"translated_bytes", x.bytes}};
    }
    cnt[std::string(dir_name(d))] = per;
  }
  st["counters"] = cnt;

  json rs = json::object();
  for (uint32_t d = 0; d < VPNPT_DIR_MAX; ++d) {
    json per = json::object();
    for (uint32_t r = 1; r < VPNPT_REASON_MAX; ++r) {
      const auto& v = (*reasons)[vpnpt_reason_index(d, r)];
      per[std::string(reason_name(r))] = v.packets;
    }
    rs[std::string(dir_name(d))] = per;
  }
  st["reasons"] = rs;
  st["health"] = health_json(st);
  return st;
}

json health_json(const json& st) {
  json problems = json::array();
  std::string daemon = st["daemon"].get<std::string>();
  if (daemon != "running")
    problems.push_back("the daemon is " + daemon +
                       ": new IPsec SAs are not bound and L2TP tunnel setup falls back to the kernel's NAT "
                       "(start it: vpnpt attach, or systemctl start vpnpt)");
  else if (!st["daemon_serving"].get<bool>())
    problems.push_back("the daemon runs but does not serve (its heartbeat is stale): it may be stuck; restart it");
  for (const auto& i : st["interfaces"])
    if (!i["attached"].get<bool>())
      problems.push_back(i["name"].get<std::string>() +
                         " is not attached: its VPN traffic goes to the kernel's NAT untranslated (restart the "
                         "daemon to attach it again)");
  for (const auto& [name, m] : st["maps"].items())
    if (!m["fixed"].get<bool>() && m["percent"].get<double>() > kNearFullPercent)
      problems.push_back(fmt::format("{} is {:.0f}% full: new sessions are refused once it is full (vpnpt sessions "
                                     "lists what holds it)",
                                     m["title"].get<std::string>(), m["percent"].get<double>()));
  return {{"state", problems.empty() ? "ok" : "degraded"}, {"problems", problems}};
}

std::string status_text(const json& st) {
  std::string out;
  std::string daemon = st["daemon"].get<std::string>();
  if (!st["daemon_pid"].is_null()) daemon += " (pid " + std::to_string(st["daemon_pid"].get<int>()) + ")";
  out += fmt::format("vpnpt on {} (public IP {}), daemon {}\n", st["wan"].get<std::string>(),
                     st["public_ip"].get<std::string>(), daemon);
  out += fmt::format("  pins: {}\n", st["pin_dir"].get<std::string>());
  const auto& b = st["build"];
  const auto& run = b["running"];
  std::string running = run.is_null() ? "unrecorded (a build older than the build record)"
                                      : run["version"].get<std::string>() + " (ABI " + run["abi"].get<std::string>() +
                                            ")";
  if (!run.is_null() && !run["upgraded_from"].is_null())
    running += ", upgraded in place from " + run["upgraded_from"].get<std::string>();
  out += fmt::format("  build: {}\n", running);
  if (!b["same_build"].get<bool>())
    out += fmt::format("    this binary is {}: its `vpnpt attach` (the daemon's restart) upgrades the data plane in place\n",
                       b["this_binary"]["version"].get<std::string>());
  out += fmt::format("  kernel: {}{}\n", st["kernel"]["release"].get<std::string>(),
                     st["kernel"]["degraded"].empty() ? ", every feature vpnpt uses" : "");
  for (const auto& d : st["kernel"]["degraded"]) out += fmt::format("    {}\n", d["effect"].get<std::string>());
  out += "  interfaces:\n";
  for (const auto& i : st["interfaces"]) {
    bool tc = i["mode"].get<std::string>() == "tc";
    out += fmt::format("    {:<12} {:<4} {:<7} prog {:<6} {:<12} {}\n", i["name"].get<std::string>(),
                       i["role"].get<std::string>(), i["mode"].get<std::string>(), i["prog_id"].get<uint32_t>(),
                       i["attached"].get<bool>() ? "attached" : "NOT ATTACHED",
                       tc                            ? "(clsact ingress)"
                       : i["dispatcher"].get<bool>() ? "(dispatcher)"
                                                     : "(single)");
    out += fmt::format("      {}\n", i["path"].get<std::string>());
  }
  out += "  passthrough:";
  for (const auto& proto : kProtocols) {
    std::string p(proto.key);
    out += fmt::format(" {}={}{}", p, st["switches"][p].get<bool>() ? "on" : "off",
                       st["deferred"][p].get<bool>() ? " (deferred to the kernel's helper)" : "");
  }
  const auto& ipt = st["ip_passthrough"];
  if (!ipt["host"].is_null()) {
    std::string ports;
    // Appended piecewise: `" " + std::string` trips GCC 12's false -Wrestrict at -O2 (GCC bug 105651).
    for (const auto& p : ipt["local_ports"]) {
      ports += ' ';
      ports += p.get_ref<const std::string&>();
    }
    out += fmt::format("\n  ip passthrough: to {} (router keeps{})", ipt["host"].get<std::string>(),
                       ports.empty() ? " no ports" : ports);
  }
  out += "\n  tables (entries in use):\n";
  std::vector<const json*> tables;  // by title, so each protocol's tables stand together
  for (const auto& [name, v] : st["maps"].items())
    if (!v["fixed"].get<bool>()) tables.push_back(&v);  // the fixed are always full by design
  std::sort(tables.begin(), tables.end(), [](const json* a, const json* b) {
    std::string x = (*a)["title"].get<std::string>(), y = (*b)["title"].get<std::string>();
    return std::lexicographical_compare(x.begin(), x.end(), y.begin(), y.end(),
                                        [](char c, char d) { return std::tolower(c) < std::tolower(d); });
  });
  for (const json* t : tables) {
    const json& v = *t;
    uint32_t used = v["used"].get<uint32_t>(), cap = v["capacity"].get<uint32_t>();
    out += fmt::format("    {:<32} {:>7} of {:<7} {:>6}{}\n", v["title"].get<std::string>(), grouped(used),
                       grouped(cap), human_percent(used, cap),
                       v["percent"].get<double>() > kNearFullPercent ? "  NEAR FULL" : "");
  }

  // Only the classes that saw traffic: a router mostly sees a few.
  std::string rows;
  for (uint32_t c = 0; c < VPNPT_CLASS_MAX; ++c) {
    std::string cn(class_name(c));
    const auto& o = st["counters"]["outbound"][cn];
    const auto& i = st["counters"]["inbound"][cn];
    if (o["packets"].get<uint64_t>() == 0 && i["packets"].get<uint64_t>() == 0) continue;
    rows += fmt::format("    {:<10} {:>8} {:>10} {:>8} {:>8} {:>10} {:>8}\n", cn, human_count(o["packets"].get<uint64_t>()),
                        human_bytes(o["bytes"].get<uint64_t>()), human_count(o["translated_packets"].get<uint64_t>()), human_count(i["packets"].get<uint64_t>()),
                        human_bytes(i["bytes"].get<uint64_t>()), human_count(i["translated_packets"].get<uint64_t>()));
  }
  if (rows.empty()) {
    out += "  traffic: no packets yet\n";
  } else {
    out += "  traffic (out: from the LAN; in: from the WAN; xlat: translated by vpnpt):\n";
    out += fmt::format("    {:<10} {:>8} {:>10} {:>8} {:>8} {:>10} {:>8}\n", "class", "out pkts", "out bytes",
                       "out xlat", "in pkts", "in bytes", "in xlat");
    out += rows;
  }
  std::string why;
  for (const auto& [dir, per] : st["reasons"].items())
    for (const auto& [reason, n] : per.items())
      if (n.get<uint64_t>() > 0) why += fmt::format("    {:<9} {:<18} {}\n", dir, reason, human_count(n.get<uint64_t>()));
  if (!why.empty()) out += "  not translated, by reason (docs/dataplane.md says what each does):\n" + why;
  const auto& h = st["health"];
  if (h["problems"].empty()) {
    out += "  health: ok\n";
  } else {
    out += "  health: DEGRADED\n";
    for (const auto& p : h["problems"]) out += "    " + p.get<std::string>() + "\n";
  }
  return out;
}

}  // namespace vpnpt
