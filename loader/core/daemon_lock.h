// One control-plane daemon per attachment: an flock'ed pid file under
// /run/vpnpt. The kernel drops the lock when the daemon dies, however it
// dies, so a stale file never blocks a restart.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "loader/core/fd.h"
#include "loader/core/result.h"

namespace vpnpt {

class DaemonLock {
 public:
  // Takes the lock or reports the pid that holds it. The pid is written
  // only by mark_ready(), so a daemon still attaching is "starting".
  static Result<DaemonLock> acquire(const std::string& path);
  Status mark_ready();
  DaemonLock(DaemonLock&&) = default;
  ~DaemonLock();

 private:
  DaemonLock(std::string path, Fd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  Fd fd_;
};

enum class DaemonState { Stopped, Starting, Running };

struct DaemonInfo {
  DaemonState state = DaemonState::Stopped;
  std::optional<pid_t> pid;  // set when Running
};

DaemonInfo daemon_info(const std::string& path);
const char* daemon_state_name(DaemonState s);

// Stops the daemon holding @path (SIGTERM, waits up to @timeout_ms). True if none runs afterwards.
bool stop_daemon(const std::string& path, int timeout_ms);

}  // namespace vpnpt
