// Prometheus /metrics for one attachment. Values are read from the pinned
// maps at scrape time (nothing is cached, so a scrape always shows what the
// data plane counted, including before this daemon started).
#pragma once

#include <memory>
#include <string>

#include "loader/core/attachment_id.h"
#include "loader/core/result.h"
#include "loader/daemon/slowpath_counters.h"

namespace prometheus {
class Exposer;
}

namespace vpnpt {

inline constexpr const char* kDefaultMetricsAddress = "127.0.0.1:9477";

// Validates "HOST:PORT" (IPv4 literal or name, port 1..65535).
Status check_metrics_address(const std::string& addr);

// One scrape of @id's metrics in the text exposition format, as GET /metrics answers it (for the
// tests: the families, types and labels docs/operations.md lists).
std::string metrics_text(const AttachmentId& id, const std::string& attach_mode, const SlowPathCounters* slow);

class MetricsServer {
 public:
  // @slow may be null (no slow-path families then).
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& address, const AttachmentId& id,
                                                      const std::string& attach_mode, const SlowPathCounters* slow);
  ~MetricsServer();

 private:
  MetricsServer() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<void> collectable_;
};

}  // namespace vpnpt
