// Taking over an attachment's pins when attach starts: a first attach, the
// same build adopting what it left running (a daemon restart), or another
// build's data plane upgraded in place with no session lost.
//
// An upgrade builds the new data plane beside the running one, in
// <pin dir>/upgrade-staging/:
//   1. every map whose layout did not change is the running map itself
//      (pinned a second time there);
//   2. every map whose layout changed is created new and filled from the
//      running one (loader/dataplane/map_migrate.h), or starts empty where
//      abi/pins.def says RESET; the plan of every conversion is made before
//      the first entry is written, so a blocked one changes nothing;
//   3. the new programs are loaded against those maps and replace the old
//      ones on every interface in one kernel operation each (XDP:
//      XDP_FLAGS_REPLACE; TC: the same filter replaced): no packet meets no
//      program and none meets both. A failed swap puts the old programs back;
//   4. entries the old programs added between the copy and the swap are
//      copied again, then the staging pins replace the running ones and the
//      old build's leftover pins are removed.
// An upgrade killed half-way is finished (programs already swapped) or
// discarded (not yet) by the next attach.
#pragma once

#include <string>

#include "loader/core/result.h"
#include "loader/dataplane/programs.h"

namespace vpnpt {

inline constexpr const char* kUpgradeStaging = "upgrade-staging";

enum class Takeover { Fresh, Adopt, Upgrade };

struct TakeoverResult {
  Takeover kind = Takeover::Fresh;
  std::string from_version;  // the build found running (Upgrade)
  std::string why;           // why it was not adopted (Upgrade)
  uint32_t swapped = 0;      // interfaces whose programs were replaced
  uint32_t converted = 0;    // entries carried into maps of a new layout
};

// Decides how attach takes over @pin_dir and, for an upgrade, performs it with @cfg.
Result<TakeoverResult> take_over(const std::string& pin_dir, const LoadConfig& cfg);

}  // namespace vpnpt
