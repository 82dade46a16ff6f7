// The pin table (abi/pins.def) against the BPF objects themselves: a map
// renamed, added or dropped in bpf/ without its row (or the other way round)
// would leave the loader opening pins no hook shares.
#include <bpf/libbpf.h>

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "loader/dataplane/pinned_maps.h"
#include "loader/dataplane/programs.h"
#include "trace_undelivered.skel.h"

using namespace vpnpt;

namespace {

// Opened, not loaded: libbpf names the pin of every LIBBPF_PIN_BY_NAME map at open.
std::set<std::string> pinned_by(bpf_object* obj) {
  std::set<std::string> out;
  bpf_map* m;
  bpf_object__for_each_map(m, obj) if (bpf_map__pin_path(m)) out.insert(bpf_map__name(m));
  return out;
}

std::set<std::string> rows(bool want(vpnpt_pin_owner)) {
  std::set<std::string> out;
  for (const auto& p : kPins)
    if (want(p.owner)) out.insert(p.name);
  return out;
}

}  // namespace

TEST_CASE("every hook object pins exactly the maps abi/pins.def gives the hooks", "[pins][unit]") {
  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = "/sys/fs/bpf/vpnpt-pins-test");
  const auto hooks = rows([](vpnpt_pin_owner o) { return o == VPNPT_PIN_OWNER_LOADER || o == VPNPT_PIN_OWNER_HOOKS; });
  REQUIRE(hooks.size() == VPNPT_PIN_COUNT - 2);  // sets: no row named twice; the tracer and attach pin theirs

  auto lan = LanSkeleton::open(&opts, "xdp_lan");
  auto wan = WanSkeleton::open(&opts, "xdp_wan");
  auto tc_lan = TcLanSkeleton::open(&opts, "tc_lan");
  auto tc_wan = TcWanSkeleton::open(&opts, "tc_wan");
  REQUIRE((lan && wan && tc_lan && tc_wan));
  CHECK(pinned_by((*lan)->obj) == hooks);
  CHECK(pinned_by((*wan)->obj) == hooks);
  CHECK(pinned_by((*tc_lan)->obj) == hooks);
  CHECK(pinned_by((*tc_wan)->obj) == hooks);
}

TEST_CASE("the undelivered-frame tracer pins its row of abi/pins.def and shares only rows of it", "[pins][unit]") {
  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = "/sys/fs/bpf/vpnpt-pins-test");
  trace_undelivered_bpf* s = trace_undelivered_bpf::open(&opts);
  REQUIRE(s);
  const auto pinned = pinned_by(s->obj);
  trace_undelivered_bpf::destroy(s);
  const auto all = rows([](vpnpt_pin_owner) { return true; });
  for (const auto& name : rows([](vpnpt_pin_owner o) { return o == VPNPT_PIN_OWNER_TRACE; })) CHECK(pinned.count(name));
  for (const auto& name : pinned) {
    INFO(name);
    CHECK(all.count(name));  // e.g. the interface table it reads with the hooks
  }
}
