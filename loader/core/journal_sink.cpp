#include "loader/core/journal_sink.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "loader/core/log_subject.h"
#include "loader/core/netif.h"

namespace vpnpt {
namespace {

// KEY=value\n when the value is one line; otherwise KEY\n, its length as a
// little-endian 64-bit integer, the value and \n (systemd's native protocol).
void add_field(std::string& out, const char* key, std::string_view value) {
  if (value.find('\n') == std::string_view::npos) {
    out.append(key).append("=").append(value).append("\n");
    return;
  }
  out.append(key).append("\n");
  uint64_t n = value.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out.append(value).append("\n");
}

}  // namespace

int journal_priority(spdlog::level::level_enum lvl) {
  switch (lvl) {
    case spdlog::level::trace:
    case spdlog::level::debug: return 7;
    case spdlog::level::warn: return 4;
    case spdlog::level::err: return 3;
    case spdlog::level::critical: return 2;
    default: return 6;
  }
}

std::string journal_entry(const spdlog::details::log_msg& msg, const std::string& wan) {
  std::string e;
  add_field(e, "MESSAGE", std::string_view(msg.payload.data(), msg.payload.size()));
  add_field(e, "PRIORITY", std::to_string(journal_priority(msg.level)));
  add_field(e, "SYSLOG_IDENTIFIER", "vpnpt");
  if (!wan.empty()) add_field(e, "VPNPT_WAN", wan);
  const LogSubject& s = current_log_subject();
  if (s.host) add_field(e, "VPNPT_HOST", format_ipv4(s.host));
  if (s.server) add_field(e, "VPNPT_SERVER", format_ipv4(s.server));
  if (s.proto) add_field(e, "VPNPT_PROTO", s.proto);
  return e;
}

JournalSink::JournalSink(std::string socket_path) : path_(std::move(socket_path)) {
  fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

JournalSink::~JournalSink() {
  if (fd_ >= 0) close(fd_);
}

void JournalSink::set_wan(const std::string& wan) {
  std::lock_guard<std::mutex> lock(mutex_);
  wan_ = wan;
}

void JournalSink::sink_it_(const spdlog::details::log_msg& msg) {
  std::string entry = journal_entry(msg, wan_);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path_.c_str(), sizeof(sa.sun_path) - 1);
  if (fd_ >= 0 && sendto(fd_, entry.data(), entry.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa),
                         sizeof(sa)) == static_cast<ssize_t>(entry.size()))
    return;
  // journald gone or the entry too large for a datagram: the stream still takes the line.
  std::fprintf(stderr, "<%d>%.*s\n", journal_priority(msg.level), static_cast<int>(msg.payload.size()),
               msg.payload.data());
}

}  // namespace vpnpt
