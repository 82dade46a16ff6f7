// vpnpt(8): every command, positional argument and option of make_cli(),
// with the descriptions --help prints.
#include <sstream>

#include "loader/cli/cli.h"
#include "loader/cli/exit_codes.h"
#include "tools/docgen/arg_values.h"
#include "tools/docgen/man_pages.h"
#include "tools/docgen/roff.h"

namespace vpnpt::docgen {

namespace {

bool is_help(const Arg& a) { return a.key == "--help"; }

std::string positional_usage(const Arg& a) {
  return a.required ? roff::italic(a.name) : "[" + roff::italic(a.name) + "]";
}

// An option as the synopsis shows it; \~ keeps it on one line.
std::string option_usage(const Command& c, const Arg& a) {
  std::string s = roff::bold(a.spellings.back());
  if (a.takes_value) s += "\\~" + roff::italic(placeholder(c, a));
  if (a.repeatable) s += "\\~...";
  return a.required ? s : "[" + s + "]";
}

// "vpnpt attach [--lan IFNAME ...] ... [wan-if]": one line for each command you run.
void synopsis(std::ostream& o, const Command& c) {
  if (!c.path.empty() && !c.subcommands.empty()) return;  // "state" alone runs nothing
  o << roff::bold("vpnpt" + (c.path.empty() ? "" : " " + c.joined_path()));
  for (const auto& a : c.options)
    if (!is_help(a)) o << " " << option_usage(c, a);
  for (const auto& a : c.positionals) o << " " << positional_usage(a);
  if (c.path.empty()) o << " " << roff::italic("command") << " [" << roff::italic("argument") << "\\~...]";
  o << "\n.br\n";
}

void command_entry(std::ostream& o, const Command& c) {
  o << ".TP\n" << roff::bold(c.joined_path());
  for (const auto& a : c.positionals) o << " " << positional_usage(a);
  o << "\n" << roff::text(c.description) << "\n";
  for (const auto& s : c.subcommands) command_entry(o, s);
}

void arg_entry(std::ostream& o, const Command& c, const Arg& a) {
  o << ".TP\n";
  if (a.positional) {
    o << roff::italic(a.name) << "\n";
  } else {
    std::vector<std::string> names;
    for (const auto& s : a.spellings) names.push_back(roff::bold(s));
    o << join(names, ", ") << (a.takes_value ? " " + roff::italic(placeholder(c, a)) : "") << "\n";
  }
  std::string d = a.description;
  if (!a.default_value.empty() && a.takes_value) d += " (default: " + a.default_value + ")";
  if (a.required) d += " (required)";
  o << roff::text(d) << "\n";
}

}  // namespace

std::string vpnpt_8(const Command& root, std::string_view version) {
  std::ostringstream o;
  o << roff::header("VPNPT", 8, version, "System Administration", "make_cli() in loader/cli/cli.cpp");
  o << ".SH NAME\nvpnpt \\- XDP\\-accelerated VPN passthrough (PPTP, IPsec, L2TP) for Linux NAT gateways\n";

  o << ".SH SYNOPSIS\n";
  for (const Command* c : flatten(root)) synopsis(o, *c);

  o << ".SH DESCRIPTION\n"
    << roff::text(
           "vpnpt lets many LAN hosts behind one public IPv4 address use PPTP, IPsec (raw ESP and NAT-T) and L2TP "
           "VPNs to the same servers. eBPF programs on the router's LAN and WAN interfaces (XDP where the driver "
           "can deliver, the TC hook elsewhere) translate GRE Call IDs, ESP SPIs and L2TP Tunnel IDs from "
           "pinned BPF maps; vpnpt attach loads and attaches them and stays in the foreground as the "
           "control-plane daemon.")
    << "\n.PP\n"
    << roff::text(
           "The data plane outlives the daemon: stopping it leaves programs attached and sessions pinned, and "
           "the next attach adopts them (or upgrades them in place when the build differs). vpnpt detach removes "
           "everything. The read-only commands (status, sessions, diagnose, state save) read the pinned maps "
           "and work with or without a daemon.")
    << "\n";

  o << ".SH COMMANDS\n";
  for (const auto& s : root.subcommands) command_entry(o, s);

  o << ".SH OPTIONS\n.SS Global options\n" << roff::text("Given before the command.") << "\n";
  for (const auto& a : root.options) arg_entry(o, root, a);
  for (const Command* c : flatten(root)) {
    if (c->path.empty() || (c->positionals.empty() && c->options.size() <= 1 && !c->subcommands.empty())) continue;
    o << ".SS " << roff::text("vpnpt " + c->joined_path()) << "\n";
    for (const auto& a : c->positionals) arg_entry(o, *c, a);
    for (const auto& a : c->options) arg_entry(o, *c, a);
  }

  o << ".SH EXIT STATUS\n";
  for (const auto& e : kExitStatuses)
    o << ".TP\n" << roff::bold(std::to_string(e.code)) << "\n" << roff::text(e.meaning) << "\n";

  o << ".SH FILES\n"
    << ".TP\n"
    << roff::bold(kDefaultConfigPath) << "\n"
    << roff::text(
           "The config file the systemd unit (vpnpt.service) passes to vpnpt attach --config; see vpnpt.conf(5).")
    << "\n.TP\n"
    << roff::bold("/sys/fs/bpf/vpnpt") << "\n"
    << roff::text(
           "The pinned maps and programs, one directory per attachment (<wan-if>, or <wan-if>@ns<cookie> outside "
           "the initial network namespace). bpftool map dump pinned reads any of them.")
    << "\n.TP\n"
    << roff::bold("/run/vpnpt") << "\n"
    << roff::text("The daemon's lock and pid file per attachment.") << "\n";

  o << ".SH SEE ALSO\n"
    << roff::bold("vpnpt.conf") << "(5), " << roff::bold("bpftool") << "(8), " << roff::bold("systemd.service")
    << "(5), " << roff::bold("ip") << "(8)\n";
  return o.str();
}

}  // namespace vpnpt::docgen
