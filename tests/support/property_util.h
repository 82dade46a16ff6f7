// Helpers shared by the property tests: seed and size from the environment,
// the xlat counters, the events ring, and keeping the reference model's
// PPTP tables in step with the data plane's while checking every change
// the data plane made to them.
#pragma once

#include <cstdint>
#include <optional>

#include "prog_runner.h"
#include "ref_model.h"

namespace vpnpt::test {

// VPNPT_PROPERTY_SEED, else a fixed default (so CI is reproducible).
uint64_t property_seed();
// VPNPT_PROPERTY_PACKETS, else @dflt.
uint64_t property_packets(uint64_t dflt);

CounterTable read_xlat(const Dataplane& dp);
// Consumes the events ring; returns how many events it held.
size_t drain_events(const Dataplane& dp);

// Reads the PPTP call and index maps into @m, REQUIRE-ing that every change
// since the last sync is one the data plane may make: a new call only for
// @creator (the LAN host whose control segment just went through), never a
// call changing hands, a closing call never coming back, nothing deleted,
// and every index entry naming a call of the same client.
// @install: the test itself just set calls up (no checks, the model takes them).
void sync_pptp(model::Model& m, const Dataplane& dp, std::optional<uint32_t> creator, bool install = false);

// The outbound ESP table equals what the model learned.
void check_esp_out(const model::Model& m, const Dataplane& dp);

}  // namespace vpnpt::test
