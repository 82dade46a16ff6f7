// The diagnosis ring behind `vpnpt diagnose`: the daemon records what went
// wrong (and the few things that explain it, such as a call that just
// ended) as structured entries in the pinned vpnpt_diag_v1 map; the CLI
// reads the map directly, daemon or not, and explains each entry in plain
// words with what to do about it.
#pragma once

#include <cstdint>
#include <string>
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

// One entry in plain words. @history (oldest first) lets an entry refer to
// earlier ones, e.g. GRE for a call that ended 40 s ago; @now_wall_ns is
// CLOCK_REALTIME.
std::string explain(const vpnpt_diag_entry& e, const std::vector<vpnpt_diag_entry>& history, uint64_t now_wall_ns);

// True if @e concerns LAN host @host (network order); @history resolves
// entries that only name a server and an id.
bool concerns(const vpnpt_diag_entry& e, uint32_t host, const std::vector<vpnpt_diag_entry>& history);

uint64_t wall_ns();

}  // namespace vpnpt
