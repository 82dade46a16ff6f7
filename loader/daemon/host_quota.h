// Per-LAN-host shares of the session tables (abi/vpnpt_abi.h,
// vpnpt_host_quota): the data plane counts up as it creates entries; the
// daemon counts the tables every second, which accounts for every entry
// reaped, expired or flushed since, and corrects the counters by the
// difference, atomically (bpf/quota_adjust.bpf.c).
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "abi/vpnpt_abi.h"
#include "loader/core/result.h"
#include "loader/session/maps.h"

struct quota_adjust_bpf;

namespace vpnpt {

// One count: the counters as they were, then the tables as they are (in
// that order, so that an entry created in between is in both or only in the
// counters, and never lost).
struct QuotaCount {
  std::unordered_map<uint32_t, vpnpt_host_quota> counters, tables;
};
QuotaCount count_host_quotas(const QuotaMaps& m);

// Runs quota_adjust on the quota map.
class QuotaAdjuster {
 public:
  static Result<QuotaAdjuster> open(int quota_fd);

  // Adds tables - counters to every host's counts. Returns the hosts that
  // hold entries in the tables.
  Result<uint32_t> apply(const QuotaCount& c) const;

 private:
  struct Destroy {
    void operator()(quota_adjust_bpf* s) const;
  };
  explicit QuotaAdjuster(quota_adjust_bpf* s) : s_(s) {}
  std::unique_ptr<quota_adjust_bpf, Destroy> s_;
};

// count_host_quotas, then apply.
Result<uint32_t> recount_host_quotas(const QuotaAdjuster& adj, const QuotaMaps& m);

}  // namespace vpnpt
