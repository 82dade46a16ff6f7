// check_pins_are_ours on a real bpffs directory, with the pins a real load
// makes: this build's pins pass; a name this build does not use (another
// build's) and a map of another layout under one of this build's names are
// refused in one line naming them; a missing row passes while no recorded
// program runs (a first attach killed half-way is completed, not refused).
#include <bpf/bpf.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "loader/core/bpffs.h"
#include "loader/core/fd.h"
#include "loader/dataplane/map_layout.h"
#include "loader/dataplane/pin_check.h"
#include "loader/dataplane/pinned_maps.h"
#include "loader/dataplane/programs.h"
#include "pin_dir.h"

using namespace vpnpt;
using vpnpt::test::TestPinDir;

namespace {

struct PinDir : TestPinDir {
  PinDir() : TestPinDir("pincheck") {}
  // Pins a small array map under @name: another layout than any of this build's.
  void pin_other(const std::string& name) const {
    Fd m(bpf_map_create(BPF_MAP_TYPE_ARRAY, nullptr, 4, 4, 1, nullptr));
    REQUIRE(m.valid());
    REQUIRE(bpf_obj_pin(m.get(), (path + "/" + name).c_str()) == 0);
  }
};

std::string refusal(const PinDir& d) {
  auto s = check_pins_are_ours(d.path, "wan0");
  REQUIRE(!s);
  const std::string m = s.error().message();
  INFO(m);
  CHECK(m.find("`vpnpt detach wan0`") != std::string::npos);
  CHECK(m.find('\n') == std::string::npos);
  return m;
}

}  // namespace

TEST_CASE("attach over this build's own pins goes ahead", "[pins][unit]") {
  CHECK(check_pins_are_ours("/sys/fs/bpf/vpnpt-test-pincheck-none", "wan0"));  // nothing attached yet
  PinDir d;
  CHECK(check_pins_are_ours(d.path, "wan0"));
}

TEST_CASE("attach refuses pins of names another build uses, and names them", "[pins][unit]") {
  PinDir d;
  d.pin_other("vpnpt_pptp_calls_v1");  // an older build's layout of a table
  d.pin_other("vpnpt_zz_v9");
  CHECK(refusal(d).find("(vpnpt_pptp_calls_v1, vpnpt_zz_v9)") != std::string::npos);
}

TEST_CASE("attach refuses a map of another layout under this build's name", "[pins][unit]") {
  PinDir d;
  REQUIRE(unlink((d.path + "/" + VPNPT_MAP_PPTP_QUOTE).c_str()) == 0);
  d.pin_other(VPNPT_MAP_PPTP_QUOTE);
  CHECK(refusal(d).find("layout differs from this vpnpt's (" VPNPT_MAP_PPTP_QUOTE ")") != std::string::npos);
}

TEST_CASE("a missing row passes while no recorded program runs", "[pins][unit]") {
  PinDir d;
  REQUIRE(unlink((d.path + "/" + VPNPT_MAP_PPTP_QUOTE).c_str()) == 0);
  CHECK(check_pins_are_ours(d.path, "wan0"));  // no interface recorded: nothing runs on these pins
}

TEST_CASE("the four hook objects agree on every pinned map's layout, and pinning keeps it", "[pins][unit]") {
  auto mine = build_layouts();
  REQUIRE(mine);
  CHECK(mine->size() == VPNPT_PIN_COUNT - 1);  // every row but the tracer's
  PinDir d;
  for (const auto& [name, hash] : *mine) {
    INFO(name);
    auto pinned = pinned_layout(d.path + "/" + name, name);
    REQUIRE(pinned);
    CHECK(*pinned == hash);  // the kernel's BTF of the pin describes what the object declared
  }
}
