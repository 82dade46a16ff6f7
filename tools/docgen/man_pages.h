// The two man pages, as man(7) source: vpnpt(8) from the command line's
// definition, vpnpt.conf(5) from the config parser's key table.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "loader/cli/config_file.h"
#include "tools/docgen/cli_model.h"

namespace vpnpt::docgen {

std::string vpnpt_8(const Command& root, std::string_view version);
std::string vpnpt_conf_5(const std::vector<ConfigKeyDoc>& keys, std::string_view version);

}  // namespace vpnpt::docgen
