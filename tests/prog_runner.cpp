#include "prog_runner.h"

#include <bpf/bpf.h>

#include <stdexcept>

namespace vpnpt::test {

RunResult run_xdp(int prog_fd, const pkt::Bytes& in, uint32_t repeat) {
  RunResult r;
  r.out.resize(in.size() + 512);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = r.out.data(),
              .data_size_in = static_cast<__u32>(in.size()), .data_size_out = static_cast<__u32>(r.out.size()),
              .repeat = static_cast<int>(repeat));
  r.err = bpf_prog_test_run_opts(prog_fd, &opts);
  if (r.err) r.err = -errno;
  r.verdict = opts.retval;
  r.out.resize(opts.data_size_out);
  r.ns_per_run = opts.duration;
  return r;
}

const char* verdict_name(uint32_t v) {
  switch (v) {
    case XDP_ABORTED: return "XDP_ABORTED";
    case XDP_DROP: return "XDP_DROP";
    case XDP_PASS: return "XDP_PASS";
    case XDP_TX: return "XDP_TX";
    case XDP_REDIRECT: return "XDP_REDIRECT";
    default: return "XDP_?";
  }
}

Snapshot snapshot(const UnpinnedPrograms& p) {
  Snapshot s;
  if (!sum_percpu_counters(p.counters_fd(), s.counters.data(), VPNPT_COUNTER_SLOTS) ||
      !sum_percpu_counters(p.reasons_fd(), s.reasons.data(), VPNPT_REASON_SLOTS))
    throw std::runtime_error("cannot read counters");
  return s;
}

namespace {
UnpinnedPrograms load_or_throw(const LoadConfig& cfg) {
  auto p = load_unpinned(cfg);
  if (!p) throw std::runtime_error(p.error().message());
  return std::move(*p);
}
}  // namespace

Dataplane::Dataplane(const LoadConfig& cfg) : progs(load_or_throw(cfg)) {}

}  // namespace vpnpt::test
