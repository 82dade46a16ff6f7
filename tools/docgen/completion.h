// The bash completion script for vpnpt: the command tree of make_cli() as
// bash tables, and one function (_vpnpt) that walks the words typed so far.
#pragma once

#include <string>

#include "tools/docgen/cli_model.h"

namespace vpnpt::docgen {

std::string bash_completion(const Command& root);

}  // namespace vpnpt::docgen
