// Reading and writing a session table's raw entries: what save reads and
// restore writes, with no meaning attached. An entry whose value is all
// zero bytes is an empty slot (or an entry that holds nothing): never read
// out, counted or written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loader/core/result.h"
#include "loader/dataplane/map_layout.h"
#include "loader/state/tables.h"

namespace vpnpt {

struct RawEntry {
  std::vector<uint8_t> key;  // Slots: the slot index, 4 bytes host order
  std::vector<uint8_t> value;
};
inline bool operator==(const RawEntry& a, const RawEntry& b) { return a.key == b.key && a.value == b.value; }

// The non-empty entries of the map @fd, in slot order or in key byte order (so two reads of equal
// tables are equal). Arrays marked BPF_F_MMAPABLE are read through a read-only mapping.
Result<std::vector<RawEntry>> read_entries(int fd, const MapShape& shape, TableKind kind);

// What restore writes into one map.
struct TableWrite {
  std::string name;
  int fd = -1;
  TableKind kind = TableKind::Slots;
  uint32_t value_size = 0;
  std::vector<RawEntry> entries;
};

// Writes every entry of @writes in order; if one fails, empties again what was written (zeroes the
// slots, deletes the keys) and returns the failure.
Status write_tables(const std::vector<TableWrite>& writes);

}  // namespace vpnpt
