#include "loader/core/daemon_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

namespace vpnpt {
namespace {

std::optional<pid_t> read_pid(int fd) {
  char buf[32] = {};
  ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return std::nullopt;
  long pid = std::strtol(buf, nullptr, 10);
  if (pid <= 0) return std::nullopt;
  return static_cast<pid_t>(pid);
}

}  // namespace

Result<DaemonLock> DaemonLock::acquire(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return make_error("cannot open lock file " + path, errno);
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    auto pid = read_pid(fd.get());
    return make_error("a vpnpt daemon" + (pid ? " (pid " + std::to_string(*pid) + ")" : std::string()) +
                      " already runs for this attachment; stop it first or use `vpnpt status`");
  }
  if (ftruncate(fd.get(), 0) != 0) return make_error("cannot write lock file " + path, errno);
  return DaemonLock(path, std::move(fd));
}

Status DaemonLock::mark_ready() {
  std::string pid = std::to_string(getpid()) + "\n";
  if (pwrite(fd_.get(), pid.data(), pid.size(), 0) < 0) return make_error("cannot write lock file " + path_, errno);
  return {};
}

DaemonLock::~DaemonLock() {
  if (fd_.valid()) ::unlink(path_.c_str());  // unlink while still holding the lock
}

DaemonInfo daemon_info(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return {};
  if (flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return {};  // nobody holds it: a stale file
  auto pid = read_pid(fd.get());
  if (!pid) return {DaemonState::Starting, std::nullopt};
  return {DaemonState::Running, pid};
}

const char* daemon_state_name(DaemonState s) {
  switch (s) {
    case DaemonState::Starting: return "starting";
    case DaemonState::Running: return "running";
    default: return "stopped";
  }
}

bool stop_daemon(const std::string& path, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool signalled = false;
  while (std::chrono::steady_clock::now() < deadline) {
    auto info = daemon_info(path);
    if (info.state == DaemonState::Stopped) return true;
    // A starting daemon has no pid yet: wait for it to become ready, then stop it.
    if (info.pid && !signalled) {
      ::kill(*info.pid, SIGTERM);
      signalled = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace vpnpt
