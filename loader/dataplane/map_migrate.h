// Carrying a map's entries across an in-place upgrade: from the running
// build's map into the new build's map of the same row (abi/pins.def), when
// the new build changed its layout. Both layouts come from the kernel's BTF
// of the two maps, and entries are converted member by member by name:
//   - a member in both, with the same layout, is copied;
//   - a member only the new layout has starts at zero (every new member's
//     zero must mean "not in use", as for a freshly created map);
//   - a member only the old layout had is dropped;
//   - a member in both whose own layout changed (size, kind, a shorter
//     array) has no safe default: planning fails naming it, and the
//     upgrade stops before it changed anything, until a converter exists.
// Array slots keep their index, so tables that point into each other by
// slot (the GRE index into the PPTP calls) stay consistent.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loader/core/result.h"

namespace vpnpt {

struct ByteSpan {
  uint32_t from, to, len;  // offsets in the old and the new layout
};

struct Conversion {
  std::string name;  // the new map's pin name, for messages
  uint32_t type = 0;
  uint32_t from_key = 0, to_key = 0, from_value = 0, to_value = 0;  // sizes
  uint32_t from_slots = 0, to_slots = 0;                            // max_entries
  bool entries = true;  // false for rings: nothing to carry
  std::vector<ByteSpan> key, value;
};

// How to turn @from_fd's entries into @to_fd's; an error names the member that blocks it.
Result<Conversion> plan_conversion(int from_fd, int to_fd, const std::string& name);

// Applies @c to one key or value (@to is zeroed first).
void convert(const std::vector<ByteSpan>& spans, const unsigned char* from, unsigned char* to, uint32_t to_len);

enum class CopyMode {
  All,          // every entry of the old map (the first pass, before the programs are swapped)
  OnlyMissing,  // entries the new map lacks (the pass after the swap: what the old programs added meanwhile)
};

// Copies @from_fd's entries into @to_fd through @c. Returns how many entries were written.
// An array slot that does not fit a smaller new array is an error (nothing is dropped silently).
Result<uint32_t> copy_entries(const Conversion& c, int from_fd, int to_fd, CopyMode mode);

}  // namespace vpnpt
