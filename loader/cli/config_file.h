// The configuration file (/etc/vpnpt/vpnpt.conf): flat `key = value` lines,
// `#` comments, no sections. Parsing is pure (text in, config or one error
// out): an invalid file changes nothing. Every error is one line naming the
// file, the line and the key, e.g.
//   /etc/vpnpt/vpnpt.conf:7: unknown key 'pptp_timout' (did you mean 'pptp_idle_timeout'?)
// The keys, with their defaults, are in tools/vpnpt.conf.example and in
// vpnpt.conf(5), which tools/docgen generates from config_keys().
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "abi/vpnpt_abi.h"
#include "loader/proto/ipsec/ipsec_binder.h"
#include "loader/proto/ipsec/ipsec_slowpath.h"
#include "loader/daemon/metrics.h"
#include "loader/proto/pptp/pptp_slowpath.h"
#include "loader/core/result.h"
#include "loader/dataplane/xdp_attach.h"

namespace vpnpt {

inline constexpr const char* kDefaultConfigPath = "/etc/vpnpt/vpnpt.conf";

// Defaults are those of `vpnpt attach` without the option.
struct VpnptConfig {
  std::string wan;                    // required
  std::vector<std::string> lans;      // `lan =` lines accumulate; none: attach picks the LAN side
  std::optional<uint32_t> public_ip;  // network byte order; nullopt: the WAN's primary IPv4
  ModeRequest mode = ModeRequest::Auto;
  // nullopt: no metrics endpoint (`metrics_address = off`, like --no-metrics).
  std::optional<std::string> metrics_address = std::string(kDefaultMetricsAddress);
  std::string log_level = "info";  // trace|debug|info|warn|error
  // VPNPT_SW_* bits the file switches on and off at attach time. A protocol
  // the file does not mention is in neither mask: its switch stays as it is
  // (on for a fresh attachment, as last set for an adopted one).
  uint32_t switches_on = 0, switches_off = 0;
  std::optional<uint32_t> ip_passthrough_host;  // network byte order; nullopt: off
  PptpTimeouts pptp;
  BinderConfig ipsec_binder;
  IpsecTimeouts ipsec;
  uint32_t vlan_depth = VPNPT_VLAN_DEPTH_MAX;  // 0..VPNPT_VLAN_DEPTH_MAX

  // Where each key was set: key -> line number (for `lan`, its first line).
  // Lets later errors say where a value came from.
  std::map<std::string, unsigned> lines;
};

// One key of the file as the docs describe it.
struct ConfigKeyDoc {
  const char* name;           // "pptp_idle_timeout"
  const char* value;          // what it takes: "DURATION", "on|off"
  const char* default_value;  // as the file would write it; nullptr: none, or the text says
  bool repeatable;            // may appear on several lines (only `lan`)
  const char* text;           // one paragraph
};

// Every key parse_config() accepts, in the order the docs list them.
const std::vector<ConfigKeyDoc>& config_keys();

// Parses the text of a config file; @path_for_errors prefixes every error.
// Requires `wan`; `lan` is optional (without it, attach picks the LAN side).
Result<VpnptConfig> parse_config(std::string_view text, const std::string& path_for_errors);

// Reads and parses @path. A missing or unreadable file is an error naming it.
Result<VpnptConfig> load_config(const std::string& path);

// "5s", "500ms", "2m", "1h"; a plain integer is seconds. Must be > 0 and at
// most 7 days. Exposed for tests and for CLI options that take durations.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// The inverse: "5s" for whole seconds, else "500ms".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace vpnpt
