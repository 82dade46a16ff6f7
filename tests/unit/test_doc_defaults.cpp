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

#include "loader/proto/ipsec/ipsec_binder.h"
#include "loader/proto/ipsec/ipsec_slowpath.h"
#include "loader/proto/l2tp/l2tp_slowpath.h"
#include "loader/core/names.h"
#include "loader/proto/pptp/pptp_slowpath.h"

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

// docs/dataplane.md's reasons table is generated from abi/reasons.def (tools/gen-reasons-doc.py); the
// names, verdicts and texts status, metrics, logs and the tests use come from the same rows (names.cpp).
// Every reason has its row in the docs, as the code says it.
TEST_CASE("docs: every reason is in docs/dataplane.md with the code's name, verdict and text", "[unit][docs]") {
  const std::regex row_re(R"(^\| `(\w+)` \| (pass|drop|redirect) \| (.*) \|$)");
  std::ifstream f(VPNPT_SOURCE_DIR "/docs/dataplane.md");
  std::map<std::string, std::pair<std::string, std::string>> rows;
  bool in_table = false;
  for (std::string line; std::getline(f, line);) {
    if (line == "<!-- reasons:begin -->") in_table = true;
    if (line == "<!-- reasons:end -->") in_table = false;
    std::smatch m;
    if (in_table && std::regex_match(line, m, row_re)) rows[m[1]] = {m[2], m[3]};
  }
  REQUIRE(rows.size() == VPNPT_REASON_MAX - 1);  // NONE has no row
  for (uint32_t r = 1; r < VPNPT_REASON_MAX; ++r) {
    std::string name(reason_name(r));
    INFO("reason " << r << " (" << name << "): run python3 tools/gen-reasons-doc.py");
    REQUIRE(rows.count(name) == 1);
    CHECK(rows[name].first == reason_verdict(r));
    CHECK(rows[name].second == reason_text(r));
  }
}
