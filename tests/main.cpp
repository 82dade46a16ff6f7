#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "loader/log.h"

int main(int argc, char* argv[]) {
  // libbpf's and libxdp's messages go through spdlog, as in the daemon.
  vpnpt::init_logging("warn", false);
  return Catch::Session().run(argc, argv);
}
