#include "loader/cli/cli.h"

#include <cstdio>
#include <iterator>

#include "loader/core/log.h"
#include "loader/dataplane/build_info.h"

namespace vpnpt {

std::string cli_error_line(const CLI::Error& e) {
  std::string line = "vpnpt: ";
  for (unsigned char c : std::string(e.what())) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      line += buf;
    } else {
      line += static_cast<char>(c);
    }
  }
  return line + " (see vpnpt --help)\n";
}

std::unique_ptr<Cli> make_cli() {
  auto cli = std::make_unique<Cli>();
  CLI::App& app = cli->app;
  CliArgs& a = cli->args;
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) { return cli_error_line(e); });
  app.add_option("--log-level", a.log_level, "trace|debug|info|warn|error")
      ->check(CLI::IsMember(std::vector<std::string>(std::begin(kLogLevels), std::end(kLogLevels))));
  app.add_flag("-v,--verbose", a.verbose, "debug logging, including the verifier log on load failures");
  app.set_version_flag("--version", std::string("vpnpt ") + build_version());

  AttachArgs& aa = a.attach;
  auto* attach = cli->attach = app.add_subcommand("attach", "attach to a router and run the control-plane daemon");
  attach->add_option("wan-if", aa.wan, "WAN interface (or 'wan =' in --config)");
  attach->add_option("--lan", aa.lans,
                     "LAN interface (repeatable; or 'lan =' in --config); default: every other up interface with a "
                     "private or shared IPv4 prefix");
  attach->add_option("--config", aa.config, "config file, e.g. /etc/vpnpt/vpnpt.conf; options given here override it");
  attach->add_option("--on", aa.on, "switch a protocol's passthrough on at attach (pptp, ipsec, l2tp; repeatable)");
  attach->add_option("--off", aa.off, "switch a protocol's passthrough off at attach (repeatable)");
  attach->add_option("--public-ip", aa.public_ip, "public IPv4 (default: the WAN interface's primary address)");
  attach->add_option("--mode", aa.mode,
                     "data path: auto (native XDP where it can deliver, TC elsewhere), native, skb (generic XDP), tc");
  attach->add_option("--metrics-address", aa.metrics, "Prometheus endpoint HOST:PORT")
      ->default_str(kDefaultMetricsAddress);
  attach->add_flag("--no-metrics", aa.no_metrics, "do not serve /metrics");
  attach->add_option("--restore", aa.restore,
                     "restore the sessions of a state file (vpnpt state save) before the interfaces attach");
  attach->add_option("--vlan-depth", aa.vlan_depth, "VLAN tags the data plane looks through (0-2)")
      ->check(CLI::Range(0, VPNPT_VLAN_DEPTH_MAX));

  auto* det = cli->detach = app.add_subcommand("detach", "remove programs and pins of an attachment");
  det->add_option("wan-if", a.detach_wan, "WAN interface")->required();

  auto* st = cli->status = app.add_subcommand(
      "status", "show interfaces, tables, switches, traffic and health; exits 2 when degraded");
  st->add_option("wan-if", a.status_wan, "WAN interface (default: every attachment in this namespace)");
  st->add_flag("--json", a.status_json, "machine-readable output");

  auto* ses = cli->sessions =
      app.add_subcommand("sessions", "list the sessions vpnpt translates (PPTP calls, IPsec SAs)");
  ses->add_option("--proto", a.ses_proto, "pptp, ipsec or l2tp");
  ses->add_option("--host", a.ses_host, "only this LAN host");
  ses->add_option("--wan", a.ses_wan, "WAN interface (needed when several attachments exist)");
  ses->add_flag("--json", a.ses_json, "machine-readable output (stable)");

  auto* dia = cli->diagnose =
      app.add_subcommand("diagnose", "why is a VPN not working? recent problems in plain words");
  dia->add_option("host", a.diag_host, "only problems concerning this LAN host");
  dia->add_option("--wan", a.diag_wan, "WAN interface (needed when several attachments exist)");
  dia->add_flag("--json", a.diag_json,
                "findings with structured fields: time, host, server, protocol, kind, ids, reason, advice");

  auto* set = cli->set = app.add_subcommand("set", "switch a protocol's passthrough on or off at runtime");
  set->add_option("protocol", a.set_proto, "pptp, ipsec or l2tp")->required();
  set->add_option("state", a.set_value, "on or off")->required();
  set->add_option("--wan", a.set_wan, "WAN interface (needed when several attachments exist)");

  auto* ipt = cli->ip_passthrough =
      app.add_subcommand("ip-passthrough", "give one LAN host the public IP's unsolicited traffic (or off)");
  ipt->add_option("wan-if", a.pt_wan, "WAN interface")->required();
  ipt->add_option("host", a.pt_host, "the LAN host's IPv4 address, or off")->required();
  ipt->add_option("--keep-port", a.pt_keep,
                  "the router's own port, never passed through: tcp/PORT or udp/PORT (repeatable; replaces the "
                  "list, default tcp/22 udp/68)");

  auto* state = cli->state = app.add_subcommand("state", "save the sessions to a file, or restore them from one");
  state->require_subcommand(1);
  cli->state_save = state->add_subcommand("save", "write every session (read-only; the daemon may run)");
  cli->state_restore = state->add_subcommand("restore", "recreate the sessions of a file (the daemon must be stopped)");
  for (auto* sub : {cli->state_save, cli->state_restore}) {
    sub->add_option("file", a.state_file, "the state file (- for standard output or input)")->required();
    sub->add_option("--wan", a.state_wan, "WAN interface (needed when several attachments exist)");
  }
  return cli;
}

}  // namespace vpnpt
