// vpnpt.conf(5): the file's format and every key of the parser's table
// (config_keys() in loader/cli/config_file.cpp).
#include <sstream>

#include "loader/cli/config_file.h"
#include "tools/docgen/man_pages.h"
#include "tools/docgen/roff.h"

namespace vpnpt::docgen {

std::string vpnpt_conf_5(const std::vector<ConfigKeyDoc>& keys, std::string_view version) {
  std::ostringstream o;
  o << roff::header("VPNPT.CONF", 5, version, "File Formats", "config_keys() in loader/cli/config_file.cpp");
  o << ".SH NAME\nvpnpt.conf \\- configuration of the vpnpt VPN passthrough daemon\n";
  o << ".SH SYNOPSIS\n" << roff::bold(kDefaultConfigPath) << "\n";

  o << ".SH DESCRIPTION\n"
    << roff::text("vpnpt attach --config FILE reads this file; the systemd unit passes " +
                  std::string(kDefaultConfigPath) + ". Options given on the command line override its values.")
    << "\n.PP\n"
    << roff::text(
           "One 'key = value' per line. '#' starts a comment at the start of a line or after whitespace. There "
           "are no sections. Every key may appear once, except lan, whose lines add up. An unknown key or a bad "
           "value stops vpnpt with one line naming the file, the line and the key (exit status 78); nothing is "
           "changed then.")
    << "\n.PP\n"
    << roff::text(
           "A DURATION is an integer and a unit: ms, s, m or h (no unit: seconds), more than 0 and at most 7 "
           "days. Keys that say so take whole seconds.")
    << "\n";

  o << ".SH KEYS\n";
  for (const auto& k : keys) {
    o << ".TP\n" << roff::bold(k.name) << " = " << roff::italic(k.value) << "\n" << roff::text(k.text);
    if (k.default_value) o << " " << roff::text(std::string("Default: ") + k.default_value + ".");
    o << "\n";
  }

  o << ".SH RELOADING\n"
    << roff::text(
           "SIGHUP (systemctl reload vpnpt) re-reads the file and applies what changed and can change while "
           "running: pptp, ipsec, l2tp, ip_passthrough, the timeouts and log_level. public_ip and metrics_address "
           "take a restart of the daemon (no session is lost); wan, lan, mode and vlan_depth take stopping the "
           "daemon, vpnpt detach, and starting it again. An invalid file changes nothing.")
    << "\n";

  o << ".SH EXAMPLE\n.nf\n" << roff::text("wan = eth0\nlan = br-lan\nl2tp = off\npptp_idle_timeout = 10m") << "\n.fi\n";
  o << ".SH FILES\n.TP\n"
    << roff::bold(kDefaultConfigPath) << "\n"
    << roff::text("The file the systemd unit uses; the package installs an example there with every key.") << "\n";
  o << ".SH SEE ALSO\n" << roff::bold("vpnpt") << "(8), " << roff::bold("systemd.service") << "(5)\n";
  return o.str();
}

}  // namespace vpnpt::docgen
