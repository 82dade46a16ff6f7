// The daemon's jobs table: periods in ticks, order within a tick, bad periods refused.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "loader/daemon/jobs.h"

using namespace vpnpt;
using std::chrono::milliseconds;

TEST_CASE("jobs: each runs every period, in the order added, with the tick's time", "[unit][jobs]") {
  Jobs jobs(milliseconds(100));
  std::vector<std::string> ran;
  std::vector<uint64_t> seen_now;
  REQUIRE(jobs.every(milliseconds(100), "tick", [&](uint64_t now) {
    ran.push_back("tick");
    seen_now.push_back(now);
  }));
  REQUIRE(jobs.every(milliseconds(1000), "second", [&](uint64_t) { ran.push_back("second"); }));
  REQUIRE(jobs.every(milliseconds(500), "half", [&](uint64_t) { ran.push_back("half"); }));
  for (uint64_t t = 1; t <= 20; ++t) jobs.run(t, t * 1000);

  auto count = [&](const std::string& n) { return std::count(ran.begin(), ran.end(), n); };
  CHECK(count("tick") == 20);
  CHECK(count("half") == 4);
  CHECK(count("second") == 2);
  CHECK(seen_now.front() == 1000);
  CHECK(seen_now.back() == 20000);
  // Tick 10: every job, in the order added (the per-tick work first).
  std::vector<std::string> tick10;
  Jobs again(milliseconds(100));
  for (const char* n : {"tick", "second", "half"}) {
    std::string name = n;
    uint64_t every = name == "tick" ? 100 : name == "second" ? 1000 : 500;
    REQUIRE(again.every(milliseconds(every), name, [&tick10, name](uint64_t) { tick10.push_back(name); }));
  }
  again.run(10, 0);
  CHECK(tick10 == std::vector<std::string>{"tick", "second", "half"});
  again.run(7, 0);
  CHECK(tick10.size() == 4);  // tick 7: the per-tick job only
  REQUIRE(jobs.list().size() == 3);
  CHECK(jobs.list()[1].name == "second");
  CHECK(jobs.list()[1].every_ticks == 10);
}

TEST_CASE("jobs: a period that is not a whole number of ticks is refused", "[unit][jobs]") {
  Jobs jobs(milliseconds(100));
  auto r = jobs.every(milliseconds(150), "odd", [](uint64_t) {});
  REQUIRE(!r);
  CHECK(r.error().message().find("150 ms") != std::string::npos);
  CHECK(!jobs.every(milliseconds(0), "zero", [](uint64_t) {}));
  CHECK(jobs.list().empty());
}
