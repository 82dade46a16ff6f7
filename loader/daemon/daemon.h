// The control-plane daemon: runs in the foreground after `vpnpt attach`
// until SIGINT/SIGTERM. It drains data-plane events, runs periodic work
// (slow paths and timers land here) and serves metrics. Stopping it leaves
// the data plane and every pinned session in place. SIGHUP reloads the
// configuration (loader/cli/reload.h). Under systemd it reports READY=1 once
// serving and pings the watchdog (loader/daemon/sd_notify.h).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "loader/dataplane/attachment.h"
#include "loader/proto/ipsec/ipsec_slowpath.h"
#include "loader/proto/l2tp/l2tp_slowpath.h"
#include "loader/proto/pptp/pptp_slowpath.h"
#include "loader/core/result.h"

namespace vpnpt {

// The slow paths' timeouts that a reload may change.
struct ReloadableTimeouts {
  PptpTimeouts pptp;
  BinderConfig ipsec_binder;
  IpsecTimeouts ipsec;
};

struct DaemonOptions {
  std::string metrics_address;  // empty: no metrics endpoint
  ReloadableTimeouts timeouts;
  L2tpTimeouts l2tp;
  bool detect_kernel_helpers = true;  // defer PPTP to the kernel's helper when it is attached
  // SIGHUP: re-reads the configuration and applies what it can (it logs
  // what). Returns the timeouts to run with from now on, or nullopt when
  // nothing is to change in the daemon (an invalid file: it said why).
  // Unset: SIGHUP is logged and ignored.
  std::function<std::optional<ReloadableTimeouts>()> reload;
};

Status run_daemon(Attached& att, const DaemonOptions& opts);

}  // namespace vpnpt
