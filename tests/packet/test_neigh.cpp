// The daemon's answer to VPNPT_EV_NO_NEIGH: the kernel is asked to resolve
// a lost next hop again, and starts at once.
#include <cstdio>
#include <string>

#include <catch2/catch.hpp>

#include "loader/dataplane/neigh.h"
#include "packet_builder.h"
#include "test_router.h"

using namespace vpnpt;
using namespace vpnpt::test;

namespace {
std::string neigh_show(const char* ip) {
  std::string cmd = std::string("ip neigh show ") + ip + " dev lan0", out;
  FILE* f = ::popen(cmd.c_str(), "r");
  REQUIRE(f);
  char buf[256];
  while (std::fgets(buf, sizeof(buf), f)) out += buf;
  ::pclose(f);
  return out;
}
}  // namespace

TEST_CASE("neigh: a lost next hop is being resolved again at once", "[neigh][netns]") {
  TestRouter rt;
  REQUIRE(std::system("ip neigh del 192.168.1.11 dev lan0") == 0);
  REQUIRE(neigh_show("192.168.1.11").empty());
  auto r = resolve_neighbour(rt.lan_ifindex, pkt::ip("192.168.1.11"));
  REQUIRE(r);
  // Nobody answers in this namespace: the entry is being resolved (INCOMPLETE), or has given up (FAILED).
  auto shown = neigh_show("192.168.1.11");
  INFO(shown);
  CHECK((shown.find("INCOMPLETE") != std::string::npos || shown.find("FAILED") != std::string::npos));
  // An entry the kernel has is left as it is.
  REQUIRE(resolve_neighbour(rt.lan_ifindex, pkt::ip(TestRouter::kClient.ip)));
  auto kept = neigh_show(TestRouter::kClient.ip);
  INFO(kept);
  CHECK(kept.find("PERMANENT") != std::string::npos);

  auto bad = resolve_neighbour(999999, pkt::ip("192.168.1.11"));
  REQUIRE(!bad);
  CHECK(bad.error().message().find("neighbour") != std::string::npos);
}
