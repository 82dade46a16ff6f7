// Who a log line is about. Under journald every record carries its subject
// as journal fields (loader/core/journal_sink.h): VPNPT_HOST=, VPNPT_SERVER=
// and VPNPT_PROTO=, so `journalctl VPNPT_HOST=192.168.1.20` finds one LAN
// host's story (its calls, SAs and tunnels: set up, refused, ended). On a
// terminal the subject is already in the words of the line.
#pragma once

#include <spdlog/spdlog.h>

#include <cstdint>
#include <utility>

namespace vpnpt {

struct LogSubject {
  uint32_t host = 0;            // LAN host, network order; 0: none
  uint32_t server = 0;          // the VPN server, network order; 0: none
  const char* proto = nullptr;  // "pptp", "ipsec", "l2tp" (loader/core/protocols.h keys)
};

// The subject of the record being logged on this thread (all zero outside log_about).
const LogSubject& current_log_subject();

// While alive, records logged on this thread are about @s.
class LogSubjectScope {
 public:
  explicit LogSubjectScope(const LogSubject& s);
  ~LogSubjectScope();
  LogSubjectScope(const LogSubjectScope&) = delete;
  LogSubjectScope& operator=(const LogSubjectScope&) = delete;

 private:
  LogSubject saved_;
};

// spdlog::log(@lvl, ...) about @s.
template <typename... Args>
void log_about(const LogSubject& s, spdlog::level::level_enum lvl, spdlog::format_string_t<Args...> fmt,
               Args&&... args) {
  LogSubjectScope scope(s);
  spdlog::log(lvl, fmt, std::forward<Args>(args)...);
}

}  // namespace vpnpt
