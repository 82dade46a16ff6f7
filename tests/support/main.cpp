#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

#include "loader/core/log.h"

int main(int argc, char* argv[]) {
  // libbpf's and libxdp's messages go through spdlog, as in the daemon.
  // VPNPT_TEST_LOG=debug shows the verifier log when a program is rejected.
  const char* level = std::getenv("VPNPT_TEST_LOG");
  vpnpt::init_logging(level ? level : "warn", false);
  return Catch::Session().run(argc, argv);
}
