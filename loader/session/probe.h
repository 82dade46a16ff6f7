// The daemon's walks over a probe run (abi/probe.h): the same slots, in the
// same order, as the hooks walk. Every session index (ESP SAs, the PPTP
// and L2TP outbound indexes, the quote indexes) goes through these, so a
// table's layout decides what a match is and nothing else.
#pragma once

#include <cstdint>
#include <optional>

#include "abi/probe.h"

namespace vpnpt {

// The first slot of run @r, over @probes slots, for which @match(slot)
// holds. @match may claim the slot (a compare-and-swap) and say whether it
// got it: the walk then stops there.
template <class Match>
std::optional<uint32_t> probe_first(const vpnpt_run& r, uint32_t probes, Match&& match) {
  for (uint32_t i = 0; i < probes; ++i) {
    const uint32_t idx = vpnpt_run_slot(&r, i);
    if (match(idx)) return idx;
  }
  return std::nullopt;
}

// Calls @visit(slot) for every slot of run @r, in probe order.
template <class Visit>
void probe_each(const vpnpt_run& r, uint32_t probes, Visit&& visit) {
  for (uint32_t i = 0; i < probes; ++i) visit(vpnpt_run_slot(&r, i));
}

}  // namespace vpnpt
