#include "loader/daemon/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "loader/core/fd.h"

namespace vpnpt {

bool sd_notify_state(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return false;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  size_t len = std::strlen(path);
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) return false;
  std::memcpy(sa.sun_path, path, len);
  if (path[0] == '@') sa.sun_path[0] = '\0';  // an abstract socket
  Fd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return false;
  auto salen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  return sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa), salen) ==
         static_cast<ssize_t>(state.size());
}

std::optional<std::chrono::microseconds> sd_watchdog_interval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (!usec || !*usec) return std::nullopt;
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid && *pid && std::strtol(pid, nullptr, 10) != getpid())
    return std::nullopt;
  char* end = nullptr;
  unsigned long long v = std::strtoull(usec, &end, 10);
  if (*end || v == 0) return std::nullopt;
  return std::chrono::microseconds(v);
}

}  // namespace vpnpt
