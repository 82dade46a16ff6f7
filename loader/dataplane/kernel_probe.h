// What the running kernel offers vpnpt, found out before anything loads:
// BPF map and program types, helpers, the conntrack kfuncs (in vmlinux or
// nf_conntrack's module BTF). A kernel without one vpnpt's programs call
// would fail at load (or worse, at run time), so attach refuses it up front
// with one line naming every missing piece and the kernel each needs.
// The minimum is Linux 6.1 (Debian 12), the oldest kernel the suite runs on
// (docs/kernels.md); some 5.x kernels would pass these probes but are not tested.
//
// Features that are optional degrade openly instead: without xdp_features
// (kernel < 6.3) link_caps decides by a conservative rule; without the
// xdp tracepoints `diagnose` cannot count undelivered frames (undelivered.h).
#pragma once

#include <string>
#include <vector>

#include "loader/core/result.h"

namespace vpnpt {

struct KernelFeature {
  const char* name;   // what vpnpt's programs use: "bpf_xdp_load_bytes", "BPF ring buffer"
  const char* since;  // the first Linux release with it: "5.18"
  bool present;
};

// Probes every required feature of the running kernel (loads tiny test
// programs and reads BTF: needs root). The conntrack kfuncs are found only
// with nf_conntrack loaded: require_kernel_features() loads it first.
std::vector<KernelFeature> probe_kernel_features();

// OK when every feature is present; else one line:
// "this kernel (5.15.0-91-generic) lacks bpf_xdp_load_bytes (5.18), ...: vpnpt needs Linux 6.1 or later".
Status check_kernel_features(const std::vector<KernelFeature>& features, const std::string& release);

// Loads nf_conntrack, then probes once per process and checks; what
// load_object calls.
Status require_kernel_features();

// uname -r.
std::string kernel_release();

// What vpnpt does without on this kernel, one line each for the log, status
// and the metrics ({feature, effect}); empty when nothing is degraded.
struct KernelDegradation {
  std::string feature, effect;
};
std::vector<KernelDegradation> kernel_degradations();

}  // namespace vpnpt
