#include "loader/daemon_lock.h"

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
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd.get(), 0) != 0 || pwrite(fd.get(), pid.data(), pid.size(), 0) < 0)
    return make_error("cannot write lock file " + path, errno);
  return DaemonLock(path, std::move(fd));
}

DaemonLock::~DaemonLock() {
  if (fd_.valid()) ::unlink(path_.c_str());  // unlink while still holding the lock
}

std::optional<pid_t> daemon_pid(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  if (flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return std::nullopt;  // nobody holds it
  return read_pid(fd.get());
}

bool stop_daemon(const std::string& path, int timeout_ms) {
  auto pid = daemon_pid(path);
  if (!pid) return true;
  ::kill(*pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!daemon_pid(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace vpnpt
