// check_pins_are_ours on a real bpffs directory, with the pins a real load
// makes: this build's pins pass; a name this build does not use (another
// build's) and a map of another layout under one of this build's names are
// told apart in one line naming them (attach then upgrades in place); a
// missing row passes while no recorded program runs (a first attach killed
// half-way is completed).
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
};

std::string refusal(const PinDir& d) {
  auto s = check_pins_are_ours(d.path);
  REQUIRE(!s);
  const std::string m = s.error().message();
  INFO(m);
  CHECK(m.find('\n') == std::string::npos);
  return m;
}

}  // namespace

TEST_CASE("attach over this build's own pins goes ahead", "[pins][unit]") {
  CHECK(check_pins_are_ours("/sys/fs/bpf/vpnpt-test-pincheck-none"));  // nothing attached yet
  PinDir d;
  CHECK(check_pins_are_ours(d.path));
}

TEST_CASE("pins of names another build uses are told apart, by name", "[pins][unit]") {
  PinDir d;
  d.pin_other("vpnpt_pptp_calls_v1");  // an older build's layout of a table
  d.pin_other("vpnpt_zz_v9");
  CHECK(refusal(d).find("(vpnpt_pptp_calls_v1, vpnpt_zz_v9)") != std::string::npos);
}

TEST_CASE("a map of another layout under this build's name is told apart", "[pins][unit]") {
  PinDir d;
  REQUIRE(unlink((d.path + "/" + VPNPT_MAP_PPTP_QUOTE).c_str()) == 0);
  d.pin_other(VPNPT_MAP_PPTP_QUOTE);
  CHECK(refusal(d).find("layout differs from this vpnpt's (" VPNPT_MAP_PPTP_QUOTE ")") != std::string::npos);
}

TEST_CASE("a missing row passes while no recorded program runs", "[pins][unit]") {
  PinDir d;
  REQUIRE(unlink((d.path + "/" + VPNPT_MAP_PPTP_QUOTE).c_str()) == 0);
  CHECK(check_pins_are_ours(d.path));  // no interface recorded: nothing runs on these pins
}

TEST_CASE("the four hook objects agree on every pinned map's layout, and pinning keeps it", "[pins][unit]") {
  auto mine = build_layouts();
  REQUIRE(mine);
  CHECK(mine->size() == VPNPT_PIN_COUNT - 2);  // every row but the tracer's and the build record
  PinDir d;
  for (const auto& [name, hash] : *mine) {
    INFO(name);
    auto pinned = pinned_layout(d.path + "/" + name, name);
    REQUIRE(pinned);
    CHECK(*pinned == hash);  // the kernel's BTF of the pin describes what the object declared
  }
}
