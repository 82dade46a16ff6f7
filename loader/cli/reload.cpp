#include "loader/cli/reload.h"

#include <spdlog/spdlog.h>

#include "abi/vpnpt_abi.h"
#include "loader/dataplane/ip_passthrough.h"
#include "loader/core/netif.h"
#include "loader/core/protocols.h"
#include "loader/dataplane/switches.h"

namespace vpnpt {
namespace {

// A switch as the file states it: on, off, or not named (it stays as set).
std::string switch_in_file(const VpnptConfig& c, uint32_t bit) {
  if (c.switches_on & bit) return "on";
  if (c.switches_off & bit) return "off";
  return "as set";
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& w : v) s += (s.empty() ? "" : " ") + w;
  return s.empty() ? "(picked at attach)" : s;
}

std::string host_or_off(const std::optional<uint32_t>& ip, const char* none) { return ip ? format_ipv4(*ip) : none; }

// The keys only a restart applies: each one's name, how it reads in the log,
// and how a reload keeps the running value.
struct RestartKey {
  const char* key;
  std::string (*show)(const VpnptConfig&);
  void (*keep)(VpnptConfig& to, const VpnptConfig& from);
};
const RestartKey kRestartKeys[] = {
    {"wan", [](const VpnptConfig& c) { return c.wan; }, [](VpnptConfig& t, const VpnptConfig& f) { t.wan = f.wan; }},
    {"lan", [](const VpnptConfig& c) { return joined(c.lans); },
     [](VpnptConfig& t, const VpnptConfig& f) { t.lans = f.lans; }},
    {"mode", [](const VpnptConfig& c) { return std::string(mode_request_name(c.mode)); },
     [](VpnptConfig& t, const VpnptConfig& f) { t.mode = f.mode; }},
    {"vlan_depth", [](const VpnptConfig& c) { return std::to_string(c.vlan_depth); },
     [](VpnptConfig& t, const VpnptConfig& f) { t.vlan_depth = f.vlan_depth; }},
    {"public_ip", [](const VpnptConfig& c) { return host_or_off(c.public_ip, "(the WAN's)"); },
     [](VpnptConfig& t, const VpnptConfig& f) { t.public_ip = f.public_ip; }},
    {"metrics_address", [](const VpnptConfig& c) { return c.metrics_address.value_or("off"); },
     [](VpnptConfig& t, const VpnptConfig& f) { t.metrics_address = f.metrics_address; }},
};

}  // namespace

VpnptConfig keep_restart_keys(VpnptConfig next, const VpnptConfig& running) {
  for (const auto& k : kRestartKeys) k.keep(next, running);
  return next;
}

ConfigDiff diff_config(const VpnptConfig& a, const VpnptConfig& b) {
  ConfigDiff d;
  auto note = [](std::vector<ConfigChange>& to, std::string_view key, std::string from, std::string next) {
    if (from != next) to.push_back({std::string(key), std::move(from), std::move(next)});
  };
  auto dur = [](auto v) { return format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(v)); };

  for (const auto& p : kProtocols)
    note(d.live, p.key, switch_in_file(a, p.switch_bit), switch_in_file(b, p.switch_bit));
  note(d.live, "ip_passthrough", host_or_off(a.ip_passthrough_host, "off"), host_or_off(b.ip_passthrough_host, "off"));
  note(d.live, "log_level", a.log_level, b.log_level);
  note(d.live, "pptp_unanswered_timeout", dur(a.pptp.unanswered), dur(b.pptp.unanswered));
  note(d.live, "pptp_idle_timeout", dur(a.pptp.idle), dur(b.pptp.idle));
  note(d.live, "pptp_closing_grace", dur(a.pptp.closing_grace), dur(b.pptp.closing_grace));
  note(d.live, "ipsec_hold", dur(a.ipsec_binder.hold), dur(b.ipsec_binder.hold));
  note(d.live, "ipsec_max_wait", dur(a.ipsec_binder.max_wait), dur(b.ipsec_binder.max_wait));
  note(d.live, "ipsec_stale", dur(a.ipsec_binder.stale), dur(b.ipsec_binder.stale));
  note(d.live, "ipsec_sa_idle", dur(a.ipsec.sa_idle), dur(b.ipsec.sa_idle));

  for (const auto& k : kRestartKeys) note(d.restart, k.key, k.show(a), k.show(b));
  return d;
}

std::string describe_changes(const std::vector<ConfigChange>& changes) {
  std::string s;
  for (const auto& c : changes) s += (s.empty() ? "" : ", ") + c.key + " " + c.from + " -> " + c.to;
  return s;
}

Status apply_live_changes(const AttachmentId& id, const VpnptConfig& next, const ConfigDiff& d, bool log_level_pinned) {
  for (const auto& c : d.live) {
    for (const auto& p : kProtocols)
      if (c.key == p.key && c.to != "as set")
        if (auto r = set_switch(id, p.switch_bit, c.to == "on"); !r) return r.error();
    if (c.key == "ip_passthrough")
      if (auto s = set_ip_passthrough(id, next.ip_passthrough_host, std::nullopt); !s) return s;
    if (c.key == "log_level" && !log_level_pinned) spdlog::set_level(spdlog::level::from_str(next.log_level));
  }
  return {};
}

}  // namespace vpnpt
