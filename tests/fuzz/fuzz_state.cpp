// libFuzzer target: the state file parser (vpnpt state restore), against
// this build's tables and BTF. Beyond "no crash": every refusal is one
// line, and an accepted file, written out again and parsed again, gives
// exactly the bytes it gave the first time (what restore would write).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "loader/state/state_file.h"

namespace {

const vpnpt::StateSchema& schema() {
  static const vpnpt::StateSchema s = [] {
    auto r = vpnpt::build_schema();
    if (!r) std::abort();
    return std::move(*r);
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vpnpt;
  const StateOrigin now{"wan0", 0x010200c0, "fuzz-boot", 1000000000000ull};
  auto p = parse_state(std::string_view(reinterpret_cast<const char*>(data), size), schema(), now);
  if (!p) {
    if (p.error().what.empty() || p.error().what.find('\n') != std::string::npos) std::abort();
    return 0;
  }
  // Written out again (as a save on this boot) and parsed again: the same entries.
  std::vector<std::vector<RawEntry>> tables(schema().size());
  for (const auto& w : p->writes)
    for (size_t i = 0; i < schema().size(); ++i)
      if (w.name == schema()[i].def->name) tables[i] = w.entries;
  auto text = format_state(schema(), tables, now);
  if (!text) std::abort();
  auto again = parse_state(*text, schema(), now);
  if (!again) std::abort();
  for (const auto& w : again->writes)
    for (size_t i = 0; i < schema().size(); ++i)
      if (w.name == schema()[i].def->name && !(w.entries == tables[i])) std::abort();
  return 0;
}
