#include "loader/core/log.h"

#include <bpf/libbpf.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <xdp/libxdp.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace vpnpt {
namespace {

std::atomic<bool> g_in_verifier_log{false};
std::atomic<bool> g_verifier_log_seen{false};
thread_local int t_quiet = 0;

// Formats a libbpf/libxdp printf-style message into one spdlog record per
// line (the verifier log arrives as a single multi-line message).
void forward(spdlog::level::level_enum lvl, const char* tag, const char* fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return;
  std::string msg(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(msg.data(), msg.size(), fmt, ap);
  msg.resize(static_cast<size_t>(n));

  size_t start = 0;
  while (start < msg.size()) {
    size_t nl = msg.find('\n', start);
    std::string line = msg.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? msg.size() : nl + 1;
    if (line.empty()) continue;
    // libbpf frames the verifier log with these markers, at WARN level.
    if (line.find("BEGIN PROG LOAD LOG") != std::string::npos) {
      g_in_verifier_log = true;
      g_verifier_log_seen = true;
    }
    auto l = lvl;
    if (g_in_verifier_log || (t_quiet > 0 && l > spdlog::level::debug)) l = spdlog::level::debug;
    if (line.find("END PROG LOAD LOG") != std::string::npos) g_in_verifier_log = false;
    spdlog::log(l, "{}: {}", tag, line);
  }
}

spdlog::level::level_enum map_level(int libbpf_level) {
  switch (libbpf_level) {
    case LIBBPF_WARN: return spdlog::level::warn;
    case LIBBPF_INFO: return spdlog::level::debug;  // chatty: pin/reuse notes
    default: return spdlog::level::trace;
  }
}

int libbpf_print(enum libbpf_print_level level, const char* fmt, va_list ap) {
  forward(map_level(level), "libbpf", fmt, ap);
  return 0;
}

int libxdp_print(enum libxdp_print_level level, const char* fmt, va_list ap) {
  // libxdp logs its dispatcher fallback at WARN; vpnpt reports the outcome itself.
  auto lvl = level == LIBXDP_WARN ? spdlog::level::info : spdlog::level::debug;
  forward(lvl, "libxdp", fmt, ap);
  return 0;
}

}  // namespace

// "<N>" syslog priority for journald (sd-daemon(3) prefixes), so the journal
// keeps each line's level: trace/debug 7, info 6, warn 4, error 3, critical 2.
class JournalPriority : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static constexpr const char* kPrio[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
    const char* p = kPrio[std::min<int>(msg.level, 6)];
    dest.append(p, p + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JournalPriority>(); }
};

bool running_under_journald() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (!js) return false;
  unsigned long dev = 0, ino = 0;
  if (std::sscanf(js, "%lu:%lu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (fstat(2, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

namespace {
std::shared_ptr<JournalSink> g_journal;
}  // namespace

void set_log_wan(const std::string& wan) {
  if (g_journal) g_journal->set_wan(wan);
}

void init_logging(const std::string& level, bool journald, const std::string& journal_socket) {
  std::shared_ptr<spdlog::logger> logger;
  struct stat st {};
  if (journald && stat(journal_socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    g_journal = std::make_shared<JournalSink>(journal_socket);
    logger = std::make_shared<spdlog::logger>("vpnpt", g_journal);
  } else {
    logger = spdlog::stderr_color_mt("vpnpt");
  }
  if (g_journal) {
    // The entry carries MESSAGE and PRIORITY itself.
    logger->set_pattern("%v");
  } else if (journald) {
    // journald timestamps and tags each line itself; it reads the level from the prefix.
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<JournalPriority>('*').set_pattern("%*%v");
    logger->set_formatter(std::move(f));
  } else
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  libbpf_set_print(libbpf_print);
  libxdp_set_print(libxdp_print);
}

QuietLibbpf::QuietLibbpf() { ++t_quiet; }
QuietLibbpf::~QuietLibbpf() { --t_quiet; }

bool take_verifier_log_seen() { return g_verifier_log_seen.exchange(false); }

}  // namespace vpnpt
