#include "loader/daemon/jobs.h"

namespace vpnpt {

Status Jobs::every(std::chrono::milliseconds period, std::string name, Fn fn) {
  if (period.count() <= 0 || period % tick_ != std::chrono::milliseconds(0))
    return make_error("job " + name + ": its period (" + std::to_string(period.count()) +
                      " ms) is not a whole number of ticks (" + std::to_string(tick_.count()) + " ms)");
  jobs_.push_back({std::move(name), static_cast<uint64_t>(period / tick_), std::move(fn)});
  return {};
}

void Jobs::run(uint64_t tick, uint64_t now_ns) const {
  for (const auto& j : jobs_)
    if (tick % j.every_ticks == 0) j.fn(now_ns);
}

std::vector<Jobs::Entry> Jobs::list() const {
  std::vector<Entry> out;
  for (const auto& j : jobs_) out.push_back({j.name, j.every_ticks});
  return out;
}

}  // namespace vpnpt
