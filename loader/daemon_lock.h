// One control-plane daemon per attachment: an flock'ed pid file under
// /run/vpnpt. The kernel drops the lock when the daemon dies, however it
// dies, so a stale file never blocks a restart.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "loader/fd.h"
#include "loader/result.h"

namespace vpnpt {

class DaemonLock {
 public:
  // Takes the lock or reports the pid that holds it.
  static Result<DaemonLock> acquire(const std::string& path);
  DaemonLock(DaemonLock&&) = default;
  ~DaemonLock();

 private:
  DaemonLock(std::string path, Fd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  Fd fd_;
};

// Pid of the daemon holding @path, if one is alive.
std::optional<pid_t> daemon_pid(const std::string& path);

// Stops the daemon holding @path (SIGTERM, waits up to @timeout_ms). True if none runs afterwards.
bool stop_daemon(const std::string& path, int timeout_ms);

}  // namespace vpnpt
