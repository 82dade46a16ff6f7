// vpnpt-docgen OUTDIR: writes vpnpt.8, vpnpt.conf.5 and vpnpt.bash-completion
// into OUTDIR from the definitions the program itself parses with
// (make_cli(), config_keys()), so the docs cannot drift from --help. The
// build runs it (tools/docgen/CMakeLists.txt); cmake --install and the
// Debian package install its output.
#include <cstdio>
#include <fstream>
#include <string>

#include "loader/cli/cli.h"
#include "loader/cli/config_file.h"
#include "tools/docgen/arg_values.h"
#include "tools/docgen/cli_model.h"
#include "tools/docgen/completion.h"
#include "tools/docgen/man_pages.h"

namespace {

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) {
    std::fprintf(stderr, "vpnpt-docgen: cannot write %s; does the directory exist and is it writable?\n", path.c_str());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: vpnpt-docgen OUTDIR (writes vpnpt.8, vpnpt.conf.5, vpnpt.bash-completion)\n");
    return 2;
  }
  const std::string dir = argv[1];
  auto cli = vpnpt::make_cli();
  const auto root = vpnpt::docgen::read_cli(cli->app);
  if (auto stale = vpnpt::docgen::stale_value_rules(root); !stale.empty()) {
    for (const auto& s : stale) std::fprintf(stderr, "vpnpt-docgen: %s\n", s.c_str());
    return 1;
  }
  try {
    bool ok = write_file(dir + "/vpnpt.8", vpnpt::docgen::vpnpt_8(root, VPNPT_VERSION)) &&
              write_file(dir + "/vpnpt.conf.5", vpnpt::docgen::vpnpt_conf_5(vpnpt::config_keys(), VPNPT_VERSION)) &&
              write_file(dir + "/vpnpt.bash-completion", vpnpt::docgen::bash_completion(root));
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vpnpt-docgen: %s\n", e.what());
    return 1;
  }
}
