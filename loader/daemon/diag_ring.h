// The diagnosis ring behind `vpnpt diagnose`: the daemon records what went
// wrong (and the few things that explain it, such as a call that just
// ended) as structured entries in the pinned vpnpt_diag_v1 map; the CLI
// reads the map directly, daemon or not, and explains each entry
// (loader/cli/diagnosis.h).
#pragma once

#include <cstdint>
#include <vector>

#include "abi/vpnpt_abi.h"

namespace vpnpt {

class DiagRing {
 public:
  explicit DiagRing(int fd);
  // Stamps @e with the next sequence number and the wall clock, and stores it.
  void record(vpnpt_diag_entry e);
  // Every stored entry, oldest first.
  std::vector<vpnpt_diag_entry> entries() const;

 private:
  int fd_;
  uint64_t next_seq_ = 1;
};

std::vector<vpnpt_diag_entry> read_diag(int fd);

uint64_t wall_ns();

}  // namespace vpnpt
