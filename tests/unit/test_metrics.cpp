// /metrics as a scrape sees it, over a pin directory as a first attach creates it: every family it
// serves is in docs/operations.md's metrics table with the code's type and labels, the table lists
// no family the code does not serve, and `promtool check metrics` finds no problem in the text.
// deploy/ (the dashboard and the alerts) is checked against the same table by tools/check-deploy.py.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>

#include "abi/vpnpt_abi.h"
#include "loader/daemon/metrics.h"
#include "loader/daemon/slowpath_counters.h"
#include "loader/dataplane/pinned_maps.h"
#include "pin_dir.h"

using namespace vpnpt;

namespace {

struct Family {
  std::string type;
  std::set<std::string> labels;
  size_t samples = 0;
};

// "# TYPE name type" lines and, per family, the union of its samples' label names.
std::map<std::string, Family> parse_exposition(const std::string& text) {
  std::map<std::string, Family> out;
  std::istringstream in(text);
  std::string line;
  const std::regex type_re(R"(^# TYPE (\w+) (\w+)$)");
  const std::regex sample_re(R"(^(\w+)(\{(.*)\})? \S+$)");
  const std::regex label_re(R"((\w+)="(?:[^"\\]|\\.)*")");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, type_re)) {
      out[m[1]].type = m[2];
    } else if (std::regex_match(line, m, sample_re)) {
      auto it = out.find(m[1]);
      if (it == out.end()) continue;  // counted under its family's name only (no _bucket, _sum here)
      ++it->second.samples;
      std::string labels = m[3];
      for (std::sregex_iterator l(labels.begin(), labels.end(), label_re), e; l != e; ++l)
        it->second.labels.insert((*l)[1]);
    }
  }
  return out;
}

// The rows of docs/operations.md's "## Metrics" table: | `a`, `b` | type | l1, l2 | what |.
std::map<std::string, Family> documented_families() {
  std::ifstream f(VPNPT_SOURCE_DIR "/docs/operations.md");
  REQUIRE(f);
  std::map<std::string, Family> out;
  std::string line;
  bool in_section = false;
  const std::regex row_re(R"(^\| ([^|]+) \| (counter|gauge) \|([^|]*)\| .*\|$)");
  const std::regex name_re("`(vpnpt_\\w+)`");
  const std::regex label_re(R"(\w+)");
  std::smatch m;
  while (std::getline(f, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## Metrics";
    if (!in_section || !std::regex_match(line, m, row_re)) continue;
    std::string names = m[1], labels = m[3];
    Family fam{m[2], {}, 0};
    for (std::sregex_iterator l(labels.begin(), labels.end(), label_re), e; l != e; ++l) fam.labels.insert(l->str());
    for (std::sregex_iterator n(names.begin(), names.end(), name_re), e; n != e; ++n) {
      INFO("documented twice: " << (*n)[1]);
      CHECK(out.emplace((*n)[1], fam).second);
    }
  }
  return out;
}

std::string joined(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
  return out;
}

}  // namespace

TEST_CASE("docs: every metric family is in docs/operations.md with the code's type and labels",
          "[unit][docs][metrics]") {
  test::TestPinDir pins("metrics");
  auto maps = PinnedMaps::open(pins.path);
  REQUIRE(maps);
  // One interface recorded, so the per-interface families have a sample whose labels are checked.
  vpnpt_iface lo{};
  lo.role = VPNPT_ROLE_WAN;
  lo.xdp_mode = VPNPT_MODE_SKB;
  REQUIRE(maps->set_iface(1, lo));
  SlowPathCounters slow;
  AttachmentId id{"lo", "metrics-test", pins.path, "/run/vpnpt/metrics-test.lock"};
  const std::string text = metrics_text(id, "skb", &slow);
  const auto served = parse_exposition(text);
  const auto documented = documented_families();
  REQUIRE(served.size() > 20);
  REQUIRE(documented.size() > 20);

  for (const auto& [name, fam] : served) {
    INFO("served family " << name << " (docs/operations.md, ## Metrics)");
    auto d = documented.find(name);
    CHECK(d != documented.end());
    if (d == documented.end()) continue;
    CHECK(d->second.type == fam.type);
    // A family with no sample here (no kernel feature missing, no frame undelivered) shows no labels.
    if (fam.samples > 0) CHECK(joined(d->second.labels) == joined(fam.labels));
  }
  for (const auto& [name, fam] : documented) {
    INFO("documented family " << name << " is not served");
    CHECK(served.count(name) == 1);
  }
  // The alert signals are there, with one sample per protocol or interface.
  CHECK(served.at("vpnpt_build_info").samples == 1);
  CHECK(served.at("vpnpt_interface_attached").samples == 1);
  CHECK(served.at("vpnpt_switch_on").samples == 3);
  CHECK(served.at("vpnpt_deferred_to_kernel_helper").samples == 3);
  CHECK(text.find("vpnpt_interface_attached{interface=\"lo\",role=\"wan\",path=\"skb\"} 0") != std::string::npos);

  // promtool's own lint of the exposition (it is what metrics.sh runs on a live daemon's text).
  const char* promtool = std::getenv("PROMTOOL") ? std::getenv("PROMTOOL") : "promtool";
  std::string file = "/tmp/vpnpt-test-metrics-" + std::to_string(getpid()) + ".txt";
  {
    std::ofstream o(file);
    o << text;
  }
  std::string cmd = std::string(promtool) + " check metrics < " + file + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string said;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) said += buf;
  int rc = pclose(p);
  std::remove(file.c_str());
  INFO(cmd << " said:\n" << said << "(promtool is in Debian's prometheus package: tools/install-deps.sh)");
  CHECK(rc == 0);
}

TEST_CASE("metrics: a detached WAN is reported not attached, with the build", "[unit][metrics]") {
  AttachmentId id{"wan-gone", "metrics-test-gone", "/sys/fs/bpf/vpnpt-test-none-" + std::to_string(getpid()),
                  "/run/vpnpt/metrics-test-gone.lock"};
  const std::string text = metrics_text(id, "skb", nullptr);
  CHECK(text.find("vpnpt_interface_attached{interface=\"wan-gone\",role=\"wan\",path=\"none\"} 0") !=
        std::string::npos);
  CHECK(std::regex_search(text, std::regex(R"(\nvpnpt_build_info\{version="[^"]+",abi="[0-9a-f]{16}"\} 1\n)")));
  CHECK(text.find("vpnpt_switch_on") == std::string::npos);  // no config to read
}
