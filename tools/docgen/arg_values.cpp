#include "tools/docgen/arg_values.h"

#include <iterator>

#include "loader/core/log.h"
#include "loader/core/protocols.h"
#include "loader/dataplane/xdp_attach.h"

namespace vpnpt::docgen {

namespace {

std::vector<std::string> protocol_keys() {
  std::vector<std::string> w;
  for (const auto& p : kProtocols) w.emplace_back(p.key);
  return w;
}

std::vector<std::string> mode_names() {
  std::vector<std::string> w;
  for (auto m : {ModeRequest::Auto, ModeRequest::Native, ModeRequest::Skb, ModeRequest::Tc})
    w.emplace_back(mode_request_name(m));
  return w;
}

std::vector<std::string> vlan_depths() {
  std::vector<std::string> w;
  for (unsigned d = 0; d <= VPNPT_VLAN_DEPTH_MAX; ++d) w.push_back(std::to_string(d));
  return w;
}

Values interface() { return {ValueKind::Interface, {}, ""}; }
Values file() { return {ValueKind::File, {}, ""}; }
Values words(std::vector<std::string> w) { return {ValueKind::Words, std::move(w), ""}; }
Values shown(std::string s) { return {ValueKind::Free, {}, std::move(s)}; }

struct Rule {
  const char* command;  // "" for vpnpt itself; nullptr: any command
  const char* arg;      // an option's long name or a positional's name
  Values values;
};

const std::vector<Rule>& rules() {
  static const std::vector<Rule> r = {
      {nullptr, "wan-if", interface()},
      {nullptr, "--wan", interface()},
      {"attach", "--lan", interface()},
      {"attach", "--config", file()},
      {"attach", "--restore", file()},
      {"attach", "--on", words(protocol_keys())},
      {"attach", "--off", words(protocol_keys())},
      {"attach", "--mode", words(mode_names())},
      {"attach", "--vlan-depth", words(vlan_depths())},
      {"sessions", "--proto", words(protocol_keys())},
      {"set", "protocol", words(protocol_keys())},
      {"set", "state", words({"on", "off"})},
      {"ip-passthrough", "host", words({"off"})},
      {"ip-passthrough", "--keep-port", shown("tcp/PORT|udp/PORT")},
      {"attach", "--public-ip", shown("A.B.C.D")},
      {"attach", "--metrics-address", shown("HOST:PORT")},
      {"sessions", "--host", shown("A.B.C.D")},
      {"state save", "file", file()},
      {"state restore", "file", file()},
      {"", "--log-level", words({std::begin(kLogLevels), std::end(kLogLevels)})},
  };
  return r;
}

bool matches(const Rule& r, const Command& cmd, const Arg& arg) {
  return (r.command == nullptr || cmd.joined_path() == r.command) && arg.key == r.arg;
}

}  // namespace

Values values_of(const Command& cmd, const Arg& arg) {
  for (const auto& r : rules())
    if (matches(r, cmd, arg)) return r.values;
  return {};
}

std::vector<std::string> stale_value_rules(const Command& root) {
  std::vector<std::string> stale;
  for (const auto& r : rules()) {
    bool found = false;
    for (const Command* c : flatten(root)) {
      for (const auto* list : {&c->options, &c->positionals})
        for (const auto& a : *list) found = found || matches(r, *c, a);
    }
    if (!found)
      stale.push_back(std::string("completion rule for '") + (r.command ? r.command : "*") + " " + r.arg +
                      "' matches no argument of make_cli(); rename it in tools/docgen/arg_values.cpp");
  }
  return stale;
}

std::string placeholder(const Command& cmd, const Arg& arg) {
  Values v = values_of(cmd, arg);
  switch (v.kind) {
    case ValueKind::Interface: return "IFNAME";
    case ValueKind::File: return "FILE";
    case ValueKind::Words: return join(v.words, "|");
    case ValueKind::Free: break;
  }
  if (!v.shown.empty()) return v.shown;
  return arg.positional ? arg.name : arg.type;
}

}  // namespace vpnpt::docgen
