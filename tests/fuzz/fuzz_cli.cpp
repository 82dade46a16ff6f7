// libFuzzer target: vpnpt's command line (loader/cli/cli.cpp, the exact
// definition main() uses), argument vectors split at NUL bytes. Beyond "no
// crash" (no exception other than CLI11's parse errors escapes): a parse
// error is exactly one printable line naming vpnpt, --help prints help, and
// an accepted command line names exactly one subcommand with valid values.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "loader/cli/cli.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vpnpt;
  std::vector<std::string> args{"vpnpt"};
  std::string cur;
  for (size_t i = 0; i < size && args.size() < 40; ++i) {
    if (data[i] == 0) {
      args.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  if (!cur.empty() || size == 0) args.push_back(cur);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  auto cli = make_cli();
  try {
    cli->app.parse(static_cast<int>(args.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    std::ostringstream out, err;
    int rc = cli->app.exit(e, out, err);
    if (rc == 0) {  // --help
      if (out.str().empty()) std::abort();
      return 0;
    }
    const std::string& line = err.str();
    if (line.rfind("vpnpt: ", 0) != 0 || line.back() != '\n' || line.find('\n') != line.size() - 1) std::abort();
    for (unsigned char c : line.substr(0, line.size() - 1))
      if (c < 0x20 || c == 0x7f) std::abort();  // one printable line
    return 0;
  }
  int n = 0;
  for (CLI::App* s : {cli->attach, cli->detach, cli->status, cli->sessions, cli->diagnose, cli->set}) n += s->parsed();
  if (n != 1) std::abort();
  if (cli->attach->parsed() && cli->args.attach.vlan_depth > VPNPT_VLAN_DEPTH_MAX) std::abort();
  if (cli->detach->parsed() && cli->args.detach_wan.empty() && cli->detach->count("wan-if") == 0) std::abort();
  return 0;
}
