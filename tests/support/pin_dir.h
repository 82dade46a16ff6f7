// A pin directory of its own for a test, holding the pins attach makes: the
// WAN object loaded with its maps pinned there. Removed with its pins at the
// end. Mounts bpffs first, as attach does (a fresh machine has none).
#pragma once

#include <bpf/libbpf.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "loader/core/bpffs.h"
#include "loader/dataplane/programs.h"

namespace vpnpt::test {

struct TestPinDir {
  std::string path;
  // /sys/fs/bpf/vpnpt-test-<tag>-<pid>
  explicit TestPinDir(const std::string& tag) : path("/sys/fs/bpf/vpnpt-test-" + tag + "-" + std::to_string(getpid())) {
    REQUIRE(ensure_bpffs());
    (void)remove_pin_dir(path);  // left over from a killed run
    REQUIRE(make_dirs(path));
    LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = path.c_str());
    auto wan = WanSkeleton::open(&opts, "xdp_wan");
    REQUIRE(wan);
    wan->apply(LoadConfig{});
    REQUIRE(load_object((*wan)->obj, "xdp_wan"));
  }
  ~TestPinDir() { (void)remove_pin_dir(path); }
  TestPinDir(const TestPinDir&) = delete;
  TestPinDir& operator=(const TestPinDir&) = delete;
};

}  // namespace vpnpt::test
