// The daemon's periodic work, as a table: each job runs every N ticks of
// the daemon's loop timer, in the order the jobs were added, so what must
// come first in a tick (IKE before ESP reports) is added first.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "loader/core/result.h"

namespace vpnpt {

class Jobs {
 public:
  using Fn = std::function<void(uint64_t now_ns)>;

  explicit Jobs(std::chrono::milliseconds tick) : tick_(tick) {}

  // Runs @fn every @period, which must be a whole number of ticks.
  Status every(std::chrono::milliseconds period, std::string name, Fn fn);
  // One timer tick (the first is 1): every job whose period has come round, in order.
  void run(uint64_t tick, uint64_t now_ns) const;

  struct Entry {
    std::string name;
    uint64_t every_ticks;
  };
  std::vector<Entry> list() const;  // for the log at start

 private:
  struct Job {
    std::string name;
    uint64_t every_ticks;
    Fn fn;
  };
  std::chrono::milliseconds tick_;
  std::vector<Job> jobs_;
};

}  // namespace vpnpt
