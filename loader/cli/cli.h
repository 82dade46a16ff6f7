// The vpnpt command line, built without running anything: main() parses
// with it and dispatches, and the CLI fuzz target (tests/fuzz/fuzz_cli.cpp)
// parses arbitrary argument vectors with exactly the same definition.
// Parse errors are one line: "vpnpt: <what> (see vpnpt --help)".
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "abi/vpnpt_abi.h"
#include "loader/daemon/metrics.h"

namespace vpnpt {

struct AttachArgs {
  std::string wan;
  std::vector<std::string> lans;
  std::string public_ip;
  std::string mode = "auto";
  std::string metrics = kDefaultMetricsAddress;
  bool no_metrics = false;
  uint32_t vlan_depth = VPNPT_VLAN_DEPTH_MAX;
  std::string config;
  std::vector<std::string> on, off;  // --on/--off protocol (repeatable)
  std::string restore;               // --restore FILE: a state file written into a fresh attach
};

// Every option's value, bound to the app below.
struct CliArgs {
  std::string log_level = "info";
  bool verbose = false;
  AttachArgs attach;
  std::string detach_wan;
  std::string status_wan;
  bool status_json = false;
  std::string ses_wan, ses_proto, ses_host;
  bool ses_json = false;
  std::string diag_wan, diag_host;
  bool diag_json = false;
  std::string set_proto, set_value, set_wan;
  std::string pt_wan, pt_host;
  std::vector<std::string> pt_keep;
  std::string state_file, state_wan;
};

struct Cli {
  CLI::App app{"vpnpt: XDP-accelerated VPN passthrough (PPTP, IPsec, L2TP) for Linux NAT gateways"};
  CliArgs args;
  CLI::App* attach = nullptr;
  CLI::App* detach = nullptr;
  CLI::App* status = nullptr;
  CLI::App* sessions = nullptr;
  CLI::App* diagnose = nullptr;
  CLI::App* set = nullptr;
  CLI::App* ip_passthrough = nullptr;
  CLI::App* state = nullptr;
  CLI::App* state_save = nullptr;
  CLI::App* state_restore = nullptr;
};

// Exit status for an invalid config file (EX_CONFIG from sysexits.h): the
// systemd unit does not restart-loop on it (RestartPreventExitStatus=78).
inline constexpr int kExitConfig = 78;

// The app with every subcommand and option (CLI::App cannot move: heap).
std::unique_ptr<Cli> make_cli();

// A parse error as one printable line (control characters escaped).
std::string cli_error_line(const CLI::Error& e);

}  // namespace vpnpt
