// check_pins_are_ours on a real bpffs directory: pins of another build (a
// name this build does not use) refuse the attach in one line that names
// them; this build's own names pass; a missing row passes while no recorded
// program runs (a first attach killed half-way is completed, not refused).
#include <bpf/bpf.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "loader/core/bpffs.h"
#include "loader/core/fd.h"
#include "loader/dataplane/pin_check.h"
#include "loader/dataplane/pinned_maps.h"

using namespace vpnpt;

namespace {

struct PinDir {
  std::string path = "/sys/fs/bpf/vpnpt-test-pincheck-" + std::to_string(getpid());
  PinDir() {
    REQUIRE(ensure_bpffs());  // a fresh machine has none mounted: attach mounts it too
    REQUIRE(make_dirs(path));
  }
  ~PinDir() { (void)remove_pin_dir(path); }
  // Pins a small map under @name; its layout does not matter to the check, but for the
  // interface table's: an empty hash of this build's records (no interface attached).
  void pin(const std::string& name) const {
    const bool ifaces = name == VPNPT_MAP_IFACES;
    Fd m(bpf_map_create(ifaces ? BPF_MAP_TYPE_HASH : BPF_MAP_TYPE_ARRAY, nullptr, 4,
                        ifaces ? sizeof(vpnpt_iface) : 4, ifaces ? VPNPT_MAX_IFACES : 1, nullptr));
    REQUIRE(m.valid());
    REQUIRE(bpf_obj_pin(m.get(), (path + "/" + name).c_str()) == 0);
  }
};

}  // namespace

TEST_CASE("attach refuses pins another build made, and names them", "[pins][unit]") {
  PinDir d;
  CHECK(check_pins_are_ours(d.path + "/none", "wan0"));  // nothing attached yet
  CHECK(check_pins_are_ours(d.path, "wan0"));            // an empty directory

  for (const auto& p : kPins) d.pin(p.name);
  CHECK(check_pins_are_ours(d.path, "wan0"));  // exactly this build's rows

  d.pin("vpnpt_pptp_calls_v1");  // an older build's layout of a table
  d.pin("vpnpt_zz_v9");
  auto s = check_pins_are_ours(d.path, "wan0");
  REQUIRE(!s);
  const std::string m = s.error().message();
  INFO(m);
  CHECK(m.find("vpnpt_pptp_calls_v1, vpnpt_zz_v9") != std::string::npos);
  CHECK(m.find("`vpnpt detach wan0`") != std::string::npos);
  CHECK(m.find('\n') == std::string::npos);
}

TEST_CASE("a missing row passes while no recorded program runs", "[pins][unit]") {
  PinDir d;
  for (const auto& p : kPins)
    if (p.id != VPNPT_PIN_PPTP_QUOTE) d.pin(p.name);
  // No interface recorded, so nothing runs on these pins.
  CHECK(check_pins_are_ours(d.path, "wan0"));
}
