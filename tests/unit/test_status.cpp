// `vpnpt status` for people: units, fill levels, table names, and when it
// says "degraded" (exit status 2).
#include <catch2/catch.hpp>

#include <string>

#include "loader/cli/status.h"
#include "loader/cli/units.h"
#include "pin_dir.h"

using namespace vpnpt;
using nlohmann::json;

TEST_CASE("human units: bytes in IEC units, counts with SI suffixes", "[status][units]") {
  CHECK(human_bytes(0) == "0 B");
  CHECK(human_bytes(1023) == "1023 B");
  CHECK(human_bytes(1024) == "1.0 KiB");
  CHECK(human_bytes(1536) == "1.5 KiB");
  CHECK(human_bytes(12'900'000) == "12.3 MiB");
  CHECK(human_bytes(1024ull * 1024 - 1) == "1.0 MiB");  // 1023.999 KiB rounds up a unit, never "1024.0 KiB"
  CHECK(human_bytes(5ull << 40) == "5.0 TiB");
  CHECK(human_count(0) == "0");
  CHECK(human_count(999) == "999");
  CHECK(human_count(1000) == "1.0k");
  CHECK(human_count(12'345) == "12.3k");
  CHECK(human_count(999'999) == "1.0M");
  CHECK(human_count(4'200'000'000ull) == "4.2G");
  CHECK(human_percent(0, 4096) == "0.0%");
  CHECK(human_percent(1, 65536) == "<0.1%");  // in use is never shown as 0.0%
  CHECK(human_percent(3686, 4096) == "90.0%");
  CHECK(human_percent(4096, 4096) == "100.0%");
  CHECK(human_percent(1, 0) == "-");
  CHECK(grouped(0) == "0");
  CHECK(grouped(999) == "999");
  CHECK(grouped(65536) == "65,536");
  CHECK(grouped(1234567) == "1,234,567");
}

namespace {

// A status snapshot of a healthy attachment: what status_json() writes, the parts health reads.
json healthy() {
  return {{"daemon", "running"},
          {"daemon_serving", true},
          {"interfaces", {{{"name", "wan0"}, {"attached", true}}, {{"name", "lan0"}, {"attached", true}}}},
          {"maps",
           {{"vpnpt_counters_v1", {{"title", "packet counters"}, {"percent", 100.0}, {"fixed", true}}},
            {"vpnpt_pptp_calls_v2", {{"title", "PPTP calls"}, {"percent", 12.5}, {"fixed", false}}}}}};
}

}  // namespace

TEST_CASE("health: degraded names each problem with what to do", "[status]") {
  json st = healthy();
  CHECK(health_json(st) == json{{"state", "ok"}, {"problems", json::array()}});

  SECTION("the daemon is down") {
    st["daemon"] = "stopped";
    auto h = health_json(st);
    CHECK(h["state"] == "degraded");
    REQUIRE(h["problems"].size() == 1);
    CHECK(h["problems"][0].get<std::string>().find("the daemon is stopped") == 0);
    CHECK(h["problems"][0].get<std::string>().find("vpnpt attach") != std::string::npos);
  }
  SECTION("the daemon runs but its heartbeat is stale") {
    st["daemon_serving"] = false;
    auto h = health_json(st);
    CHECK(h["state"] == "degraded");
    CHECK(h["problems"][0].get<std::string>().find("does not serve") != std::string::npos);
  }
  SECTION("an interface is not attached") {
    st["interfaces"][1]["attached"] = false;
    auto h = health_json(st);
    REQUIRE(h["problems"].size() == 1);
    CHECK(h["problems"][0].get<std::string>().find("lan0 is not attached") == 0);
  }
  SECTION("a session table over the alert's threshold") {
    st["maps"]["vpnpt_pptp_calls_v2"]["percent"] = 95.2;
    auto h = health_json(st);
    REQUIRE(h["problems"].size() == 1);
    CHECK(h["problems"][0].get<std::string>().find("PPTP calls is 95% full") == 0);
  }
  SECTION("at the threshold, as the alert (> 0.9), and an always-full counter array, are fine") {
    st["maps"]["vpnpt_pptp_calls_v2"]["percent"] = kNearFullPercent;
    CHECK(health_json(st)["state"] == "ok");
  }
  SECTION("several problems: every one is listed") {
    st["daemon"] = "stopped";
    st["interfaces"][0]["attached"] = false;
    CHECK(health_json(st)["problems"].size() == 2);
  }
}

TEST_CASE("status of real pinned maps: table titles, fill levels, health", "[status][bpf]") {
  test::TestPinDir dir("status");
  AttachmentId id{"wan0", "status-test", dir.path, "/run/vpnpt/status-test-none.lock"};
  auto st = status_json(id);
  REQUIRE(st);
  const json& maps = (*st)["maps"];
  CHECK(maps[VPNPT_MAP_PPTP_CALLS]["title"] == "PPTP calls");
  CHECK(maps[VPNPT_MAP_PPTP_CALLS]["used"] == 0);
  CHECK(maps[VPNPT_MAP_PPTP_CALLS]["percent"] == 0.0);
  CHECK(maps[VPNPT_MAP_PPTP_CALLS]["fixed"] == false);
  CHECK(maps[VPNPT_MAP_COUNTERS]["fixed"] == true);
  CHECK(maps[VPNPT_MAP_ESP_IN]["title"] == "IPsec SAs, inbound");
  // No daemon holds the lock: degraded, and the text says so.
  CHECK((*st)["health"]["state"] == "degraded");
  std::string text = status_text(*st);
  CHECK(text.find("health: DEGRADED") != std::string::npos);
  CHECK(text.find("the daemon is stopped") != std::string::npos);
  CHECK(text.find("PPTP calls ") != std::string::npos);
  CHECK(text.find("of 65,536") != std::string::npos);
  CHECK(text.find("IPsec SAs, inbound") < text.find("IPsec SAs, outbound"));
  CHECK(text.find("IPsec SAs, outbound") < text.find("L2TP tunnels"));  // by title, each protocol together
  CHECK(text.find("traffic: no packets yet") != std::string::npos);
  CHECK(text.find("vpnpt_pptp_calls_v2") == std::string::npos);  // people read titles, not pin names
  CHECK(text.find("packet counters") == std::string::npos);      // always full: not listed as a table
}
