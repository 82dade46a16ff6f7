// Strings joined with a separator, for messages and generated docs: the one
// join the loader and its tools share.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vpnpt {

inline std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

}  // namespace vpnpt
