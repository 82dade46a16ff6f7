// An spdlog sink that writes native journal entries (the datagram protocol
// of systemd's /run/systemd/journal/socket, as sd_journal_send(3) does, with
// no libsystemd): MESSAGE, PRIORITY, SYSLOG_IDENTIFIER=vpnpt, and the
// record's subject as VPNPT_HOST=, VPNPT_SERVER=, VPNPT_PROTO=
// (loader/core/log_subject.h), plus VPNPT_WAN= once the attachment is known.
// A record the socket refuses is written to stderr instead (journald's
// stream, with a <N> priority prefix): a line is never lost.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <string>

namespace vpnpt {

inline constexpr const char* kJournalSocket = "/run/systemd/journal/socket";

class JournalSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit JournalSink(std::string socket_path = kJournalSocket);
  ~JournalSink() override;
  JournalSink(const JournalSink&) = delete;
  JournalSink& operator=(const JournalSink&) = delete;

  // The attachment every record belongs to (VPNPT_WAN=); "" for none.
  void set_wan(const std::string& wan);

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  std::string path_;
  std::string wan_;
  int fd_ = -1;
};

// The journal entry of one record (fields in the native protocol's binary-safe form).
std::string journal_entry(const spdlog::details::log_msg& msg, const std::string& wan);

// syslog priority of an spdlog level: trace/debug 7, info 6, warn 4, error 3, critical 2.
int journal_priority(spdlog::level::level_enum lvl);

}  // namespace vpnpt
