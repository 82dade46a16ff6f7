// The control-plane daemon: runs in the foreground after `vpnpt attach`
// until SIGINT/SIGTERM. It drains data-plane events, runs periodic work
// (slow paths and timers land here) and serves metrics. Stopping it leaves
// the data plane and every pinned session in place.
#pragma once

#include <string>

#include "loader/attachment.h"
#include "loader/ipsec_slowpath.h"
#include "loader/l2tp_slowpath.h"
#include "loader/pptp_slowpath.h"
#include "loader/result.h"

namespace vpnpt {

struct DaemonOptions {
  std::string metrics_address;  // empty: no metrics endpoint
  PptpTimeouts pptp;
  BinderConfig ipsec_binder;
  IpsecTimeouts ipsec;
  L2tpTimeouts l2tp;
  bool detect_kernel_helpers = true;  // defer PPTP to the kernel's helper when it is attached
};

Status run_daemon(Attached& att, const DaemonOptions& opts);

}  // namespace vpnpt
