// The state file (docs/state.md): a header naming the router it belongs to,
// then the session tables, each entry a JSON object made from the map's
// BTF. This file turns tables into that text and text back into the bytes
// this build writes, checking everything it can without touching a map.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "loader/core/result.h"
#include "loader/dataplane/map_layout.h"
#include "loader/state/table_io.h"
#include "loader/state/tables.h"

namespace vpnpt {

inline constexpr const char* kStateFormat = "vpnpt-state";
inline constexpr int kStateVersion = 1;

// A table of the maps at hand: this build's types, and the map (fd -1: none, e.g. parsing only).
struct SchemaTable {
  const StateTable* def = nullptr;
  std::string map_name;  // the pin name, VPNPT_MAP_*
  MapTypes types;
  int fd = -1;
};
using StateSchema = std::vector<SchemaTable>;  // kStateTables order

// This build's schema from the BPF objects' own BTF (no map, no root needed).
Result<StateSchema> build_schema();

// Where and when: what the header records and restore compares.
struct StateOrigin {
  std::string wan_if;
  uint32_t public_ip = 0;  // network byte order
  std::string boot_id;     // /proc/sys/kernel/random/boot_id
  uint64_t mono_ns = 0;    // CLOCK_MONOTONIC now
};

struct StateHeader {
  StateOrigin origin;  // as saved
  std::string abi;     // the saved tables' layout hash, hex
};

// The tables' entries (kStateTables order, @schema's types) as the file's text.
Result<std::string> format_state(const StateSchema& schema, const std::vector<std::vector<RawEntry>>& tables,
                                 const StateOrigin& origin);

struct ParsedState {
  StateHeader header;
  std::vector<TableWrite> writes;  // kStateTables order; fds from the schema
};

// Parses @text against @schema: format and version, every table and member known, slot counts equal,
// every value in range, no slot or key twice. Timers of another boot than @now's are moved to keep
// each session's age (docs/state.md). One-line errors; nothing is written.
Result<ParsedState> parse_state(std::string_view text, const StateSchema& schema, const StateOrigin& now);

// The layout hash of @schema's tables, hex (what the header's abi holds).
std::string schema_abi(const StateSchema& schema);

}  // namespace vpnpt
