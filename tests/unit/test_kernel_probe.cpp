// The kernel probes attach runs before loading anything: on every kernel the
// suite runs on (6.1, 6.12, 6.18) each feature is there, and a kernel
// without some gets one line naming each missing piece with its release.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>

#include "loader/dataplane/kernel_helpers.h"
#include "loader/dataplane/kernel_probe.h"

using namespace vpnpt;

TEST_CASE("kernel probes: this kernel has every feature vpnpt's programs use", "[unit][kernel]") {
  if (geteuid() != 0) FAIL("needs root: the probes load test programs");
  REQUIRE(ensure_conntrack_module());  // the conntrack kfuncs are in its BTF
  auto features = probe_kernel_features();
  REQUIRE(features.size() >= 10);
  for (const auto& f : features) {
    INFO(f.name << " (Linux " << f.since << ") on " << kernel_release());
    CHECK(f.present);
  }
  CHECK(check_kernel_features(features, kernel_release()));
  CHECK(require_kernel_features());
}

TEST_CASE("kernel probes: a kernel that lacks features is refused in one line naming them", "[unit][kernel]") {
  std::vector<KernelFeature> f = {{"BPF ring buffer", "5.8", true},
                                  {"bpf_xdp_load_bytes", "5.18", false},
                                  {"kfunc bpf_ct_change_timeout", "6.0", false}};
  auto s = check_kernel_features(f, "5.15.0-91-generic");
  REQUIRE(!s);
  CHECK(s.error().message() ==
        "this kernel (5.15.0-91-generic) lacks bpf_xdp_load_bytes (5.18), kfunc bpf_ct_change_timeout (6.0): vpnpt "
        "needs Linux 6.1 or later (docs/kernels.md)");
  f[1].present = f[2].present = true;
  CHECK(check_kernel_features(f, "6.1.0-57-amd64"));
}

TEST_CASE("kernel degradations: without xdp_features exactly on kernels before 6.3", "[unit][kernel]") {
  int major = 0, minor = 0;
  REQUIRE(std::sscanf(kernel_release().c_str(), "%d.%d", &major, &minor) == 2);
  bool before_6_3 = major < 6 || (major == 6 && minor < 3);
  auto d = kernel_degradations();
  INFO("kernel " << kernel_release());
  if (before_6_3) {
    REQUIRE(d.size() == 1);
    CHECK(d[0].feature == "xdp_features");
  } else {
    CHECK(d.empty());
  }
}
