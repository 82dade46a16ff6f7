// Numbers as people read them in `vpnpt status`: bytes in IEC units
// (1.5 MiB), packet counts with SI suffixes (12.3k), fill levels as
// percentages. The --json output keeps the exact integers.
#pragma once

#include <cstdint>
#include <string>

namespace vpnpt {

// 0 B, 999 B, 1.0 KiB, 12.3 MiB, 4.0 GiB ... (one decimal above bytes).
std::string human_bytes(uint64_t n);

// 0, 999, 1.0k, 12.3M, 4.0G ... (one decimal above 999).
std::string human_count(uint64_t n);

// 65536 -> "65,536": exact, and readable at a glance.
std::string grouped(uint64_t n);

// used of capacity as a percentage with one decimal ("0.0%", "95.3%");
// a table with any entry in use never shows as 0.0% ("<0.1%").
std::string human_percent(uint64_t used, uint64_t capacity);

}  // namespace vpnpt
