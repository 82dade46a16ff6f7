// A pin directory on the real bpffs holding this build's maps as a first
// attach creates them (the WAN object's maps, no program loaded), removed
// with everything in it at the end of the case. For the cases of pins,
// build records and upgrades.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "loader/core/bpffs.h"
#include "loader/core/fd.h"
#include "loader/dataplane/programs.h"

namespace vpnpt::test {

struct TestPinDir {
  std::string path;
  explicit TestPinDir(const std::string& what) : path("/sys/fs/bpf/vpnpt-test-" + what + "-" + std::to_string(getpid())) {
    REQUIRE(ensure_bpffs());  // a fresh machine has none mounted: attach mounts it too
    (void)remove_tree(path);
    REQUIRE(make_dirs(path));
    LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = path.c_str());
    auto wan = WanSkeleton::open(&opts, "xdp_wan");
    REQUIRE(wan);
    wan->apply(LoadConfig{});
    REQUIRE(create_maps((*wan)->obj, "xdp_wan"));
  }
  ~TestPinDir() { (void)remove_tree(path); }
  TestPinDir(const TestPinDir&) = delete;
  TestPinDir& operator=(const TestPinDir&) = delete;

  std::string pin(const std::string& name) const { return path + "/" + name; }
  // Pins a small array map under @name: another layout than any of this build's.
  void pin_other(const std::string& name) const {
    Fd m(bpf_map_create(BPF_MAP_TYPE_ARRAY, nullptr, 4, 4, 1, nullptr));
    REQUIRE(m.valid());
    REQUIRE(bpf_obj_pin(m.get(), pin(name).c_str()) == 0);
  }
};

}  // namespace vpnpt::test
