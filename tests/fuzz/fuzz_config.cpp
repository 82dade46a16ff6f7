// libFuzzer target: the config file parser. Beyond "no crash": an accepted
// config is one the daemon can run with, and an error names where.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "loader/cli/config_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vpnpt;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = parse_config(text, "fuzz.conf");
  if (!r) {
    if (r.error().what.rfind("fuzz.conf", 0) != 0) std::abort();  // every error names the file
    return 0;
  }
  const VpnptConfig& c = *r;
  if (c.wan.empty() || c.vlan_depth > 2) std::abort();
  for (const auto& l : c.lans)
    if (l == c.wan) std::abort();  // the WAN cannot also be a LAN
  if (c.ipsec_binder.max_wait < c.ipsec_binder.hold) std::abort();
  if (c.switches_on & c.switches_off) std::abort();
  return 0;
}
