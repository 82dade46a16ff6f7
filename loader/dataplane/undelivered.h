// Frames vpnpt's XDP programs redirected that the kernel could not hand to
// the target device (bpf/trace_undelivered.bpf.c, vpnpt_undelivered_v1):
// the daemon attaches the tracing programs; `vpnpt diagnose` and the
// metrics read the pinned counts, with the device and the reason.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loader/core/result.h"

struct trace_undelivered_bpf;

namespace vpnpt {

struct Undelivered {
  uint32_t from_ifindex = 0, to_ifindex = 0;
  int32_t err = 0;     // negative errno
  uint32_t stage = 0;  // enum vpnpt_undelivered_stage
  uint64_t frames = 0;
};

// The tracing programs, attached for the attachment at @pin_dir (whose
// interface map tells vpnpt's interfaces apart); detached on destruction.
class UndeliveredTrace {
 public:
  static Result<UndeliveredTrace> attach(const std::string& pin_dir);

 private:
  struct Destroy {
    void operator()(trace_undelivered_bpf* s) const;
  };
  explicit UndeliveredTrace(trace_undelivered_bpf* s) : s_(s) {}
  std::unique_ptr<trace_undelivered_bpf, Destroy> s_;
};

// The counts pinned at @pin_dir, largest first; empty if nothing was traced.
std::vector<Undelivered> read_undelivered(const std::string& pin_dir);

// Why, in words: "lan0 cannot take XDP frames (no XDP transmit)".
std::string undelivered_reason(const Undelivered& u);

}  // namespace vpnpt
