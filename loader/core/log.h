// Logging setup: spdlog for vpnpt itself, with libbpf's and libxdp's own
// printouts routed into it. The verifier log that libbpf prints on a load
// failure goes to debug level, so it shows only with -v; the error that
// reaches the user says to rerun with -v.
#pragma once

#include <string>

#include "loader/core/journal_sink.h"

namespace vpnpt {

// The levels --log-level and the config file's log_level take, least severe
// first (also what shell completion offers).
inline constexpr const char* kLogLevels[] = {"trace", "debug", "info", "warn", "error"};

// level: one of kLogLevels. journald: native journal entries with
// structured fields (loader/core/journal_sink.h) when @journal_socket
// exists, else plain lines without timestamps (journald adds its own) and
// syslog-style <N> priority prefixes.
void init_logging(const std::string& level, bool journald, const std::string& journal_socket = kJournalSocket);

// Every later journal entry names this attachment (VPNPT_WAN=).
void set_log_wan(const std::string& wan);

// True once libbpf printed a verifier log since the last call (and resets).
bool take_verifier_log_seen();

// While alive, libbpf warnings are logged at debug level. Used around
// libxdp's attach, whose dispatcher probe fails by design on some kernels
// (libxdp then falls back to a single program); vpnpt reports the outcome.
class QuietLibbpf {
 public:
  QuietLibbpf();
  ~QuietLibbpf();
  QuietLibbpf(const QuietLibbpf&) = delete;
  QuietLibbpf& operator=(const QuietLibbpf&) = delete;
};

// True when stderr goes to the journal (systemd sets JOURNAL_STREAM).
bool running_under_journald();

}  // namespace vpnpt
