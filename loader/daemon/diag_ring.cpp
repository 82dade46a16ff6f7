#include "loader/daemon/diag_ring.h"

#include <bpf/bpf.h>
#include <time.h>

#include <algorithm>

namespace vpnpt {

uint64_t wall_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::vector<vpnpt_diag_entry> read_diag(int fd) {
  std::vector<vpnpt_diag_entry> out;
  for (uint32_t i = 0; i < VPNPT_DIAG_SLOTS; ++i) {
    vpnpt_diag_entry e{};
    if (bpf_map_lookup_elem(fd, &i, &e) == 0 && e.seq) out.push_back(e);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  return out;
}

DiagRing::DiagRing(int fd) : fd_(fd) {
  // Continue after what an earlier daemon recorded.
  for (const auto& e : read_diag(fd_)) next_seq_ = std::max<uint64_t>(next_seq_, e.seq + 1);
}

void DiagRing::record(vpnpt_diag_entry e) {
  e.seq = next_seq_++;
  e.wall_ns = wall_ns();
  uint32_t slot = static_cast<uint32_t>(e.seq % VPNPT_DIAG_SLOTS);
  bpf_map_update_elem(fd_, &slot, &e, BPF_ANY);
}

std::vector<vpnpt_diag_entry> DiagRing::entries() const { return read_diag(fd_); }

}  // namespace vpnpt
