// Validation of user-supplied values: each bad value names the problem.
#include <catch2/catch.hpp>

#include "abi/vpnpt_abi.h"
#include "loader/core/attachment_id.h"
#include "loader/daemon/metrics.h"
#include "loader/core/names.h"
#include "loader/core/netif.h"
#include "loader/dataplane/xdp_attach.h"

using namespace vpnpt;

TEST_CASE("XDP modes", "[cli]") {
  CHECK(*parse_mode("auto") == ModeRequest::Auto);
  CHECK(*parse_mode("native") == ModeRequest::Native);
  CHECK(*parse_mode("skb") == ModeRequest::Skb);
  auto bad = parse_mode("drv");
  REQUIRE(!bad);
  CHECK(bad.error().what.find("'drv'") != std::string::npos);
}

TEST_CASE("metrics addresses", "[cli]") {
  CHECK(check_metrics_address("127.0.0.1:9477").ok());
  CHECK(check_metrics_address("localhost:1").ok());
  for (const char* bad : {"127.0.0.1", ":9477", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "h:12x"}) {
    INFO(bad);
    auto r = check_metrics_address(bad);
    REQUIRE(!r);
    CHECK(r.error().what.find(bad) != std::string::npos);
  }
}

TEST_CASE("IPv4 addresses", "[cli]") {
  CHECK(format_ipv4(*parse_ipv4("203.0.113.1")) == "203.0.113.1");
  for (const char* bad : {"203.0.113", "203.0.113.256", "::1", "", "eth0"}) {
    INFO(bad);
    CHECK(!parse_ipv4(bad));
  }
}

TEST_CASE("unknown interfaces are named in the error", "[cli]") {
  auto r = ifindex_of("nosuchif0");
  REQUIRE(!r);
  CHECK(r.error().what.find("nosuchif0") != std::string::npos);
  CHECK(!ifindex_of("waytoolonginterfacename"));
  CHECK(!attachment_for("a/b"));
}

TEST_CASE("every enum value has a name", "[abi]") {
  for (uint32_t c = 0; c < VPNPT_CLASS_MAX; ++c) {
    CHECK(class_name(c) != "unknown");
    CHECK(!class_name(c).empty());  // a short initializer list leaves empty names behind
  }
  for (uint32_t r = 0; r < VPNPT_REASON_MAX; ++r) {
    INFO("reason " << r);
    CHECK(reason_name(r) != "unknown");
    CHECK(!reason_name(r).empty());
    CHECK(!reason_text(r).empty());
    CHECK((reason_verdict(r) == "pass" || reason_verdict(r) == "drop" || reason_verdict(r) == "redirect"));
  }
  CHECK(reason_verdict(VPNPT_REASON_PPTP_HELD) == "drop");
  CHECK(reason_verdict(VPNPT_REASON_GRE_NO_CALL) == "pass");
  CHECK(reason_verdict(VPNPT_REASON_NEIGH_LEARNED) == "redirect");
  for (uint32_t r = VPNPT_REASON_ETH_TRUNC; r <= VPNPT_REASON_L4_TRUNC; ++r) CHECK(reason_verdict(r) == "pass");
  for (uint32_t d = 0; d < VPNPT_DIR_MAX; ++d) CHECK(dir_name(d) != "unknown");
  CHECK(class_name(VPNPT_CLASS_MAX) == "unknown");
}
