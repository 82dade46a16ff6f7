// The timeouts the docs state are the code's. Every table row of docs/*.md
// that names where a default lives ("| 5 s | `BinderConfig::hold` |") is
// compared with that member's default, and every timeout below must be
// stated somewhere: a changed default fails here until its doc says so.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "loader/ipsec_binder.h"
#include "loader/ipsec_slowpath.h"
#include "loader/l2tp_slowpath.h"
#include "loader/names.h"
#include "loader/pptp_slowpath.h"

using namespace vpnpt;
using std::chrono::milliseconds;

namespace {

template <class D>
milliseconds ms(D d) {
  return std::chrono::duration_cast<milliseconds>(d);
}

const std::map<std::string, milliseconds>& code_defaults() {
  static const std::map<std::string, milliseconds> m = {
      {"BinderConfig::hold", ms(BinderConfig{}.hold)},
      {"BinderConfig::max_wait", ms(BinderConfig{}.max_wait)},
      {"BinderConfig::stale", ms(BinderConfig{}.stale)},
      {"IpsecTimeouts::sa_idle", ms(IpsecTimeouts{}.sa_idle)},
      {"IpsecTimeouts::forgotten_keep", ms(IpsecTimeouts{}.forgotten_keep)},
      {"PptpTimeouts::unanswered", ms(PptpTimeouts{}.unanswered)},
      {"PptpTimeouts::idle", ms(PptpTimeouts{}.idle)},
      {"PptpTimeouts::closing_grace", ms(PptpTimeouts{}.closing_grace)},
      {"PptpTimeouts::stream_idle", ms(PptpTimeouts{}.stream_idle)},
      {"PptpTimeouts::fin_grace", ms(PptpTimeouts{}.fin_grace)},
      {"L2tpTimeouts::unanswered", ms(L2tpTimeouts{}.unanswered)},
      {"L2tpTimeouts::idle", ms(L2tpTimeouts{}.idle)},
      {"L2tpTimeouts::closing_grace", ms(L2tpTimeouts{}.closing_grace)},
      {"L2tpTimeouts::setup_stale", ms(L2tpTimeouts{}.setup_stale)},
  };
  return m;
}

// "5 s", "300 s (5 min)", "2 h", "500 ms": the first duration in a table cell.
std::optional<milliseconds> duration_in(const std::string& cell) {
  static const std::regex re(R"((\d+)\s*(ms|s|min|h)\b)");
  std::smatch m;
  if (!std::regex_search(cell, m, re)) return std::nullopt;
  long long n = std::stoll(m[1]);
  std::string unit = m[2];
  if (unit == "ms") return milliseconds(n);
  if (unit == "s") return milliseconds(n * 1000);
  if (unit == "min") return milliseconds(n * 60000);
  return milliseconds(n * 3600000);
}

}  // namespace

TEST_CASE("docs: every stated timeout default is the code's, and every one is stated", "[unit][docs]") {
  const std::regex row(R"(^\s*\|(.*)\|\s*([^|]*?)\s*\|\s*`(\w+::\w+)`\s*\|\s*$)");
  std::set<std::string> stated;
  for (const auto& e : std::filesystem::directory_iterator(VPNPT_SOURCE_DIR "/docs")) {
    if (e.path().extension() != ".md") continue;
    std::ifstream f(e.path());
    std::string line;
    for (int n = 1; std::getline(f, line); ++n) {
      std::smatch m;
      if (!std::regex_match(line, m, row)) continue;
      const std::string where = m[3];
      auto it = code_defaults().find(where);
      if (it == code_defaults().end()) continue;
      INFO(e.path().filename().string() << ":" << n << ": " << line);
      auto said = duration_in(m[2]);
      REQUIRE(said);
      CHECK(said->count() == it->second.count());
      stated.insert(where);
    }
  }
  for (const auto& [where, value] : code_defaults()) {
    INFO(where << " (default " << value.count() << " ms) is in no docs/*.md table row naming it");
    CHECK(stated.count(where) == 1);
  }
}

// The ABI header states each reason's verdict in its comment ("drop: ...", "pass untracked: ...");
// reason_verdict() is what status, metrics and the tests use. They must agree, for every reason.
TEST_CASE("docs: every reason's verdict in abi/vpnpt_abi.h is reason_verdict()'s", "[unit][docs]") {
  const std::regex line_re(R"(^\s*VPNPT_REASON_(\w+)\s*=\s*(\d+),\s*/\*\s*(pass|drop|redirect)\b)");
  std::ifstream f(VPNPT_SOURCE_DIR "/abi/vpnpt_abi.h");
  std::string line;
  std::set<uint32_t> seen;
  while (std::getline(f, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, line_re)) continue;
    uint32_t r = static_cast<uint32_t>(std::stoul(m[2]));
    INFO("VPNPT_REASON_" << m[1] << " = " << r << ": the header says " << m[3]);
    CHECK(reason_verdict(r) == std::string(m[3]));
    seen.insert(r);
  }
  for (uint32_t r = 1; r < VPNPT_REASON_MAX; ++r) {
    INFO("reason " << r << " (" << reason_name(r) << ") has no verdict in its header comment");
    CHECK(seen.count(r) == 1);
  }
}
