#include "loader/log.h"

#include <bpf/libbpf.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <xdp/libxdp.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace vpnpt {
namespace {

std::atomic<bool> g_in_verifier_log{false};
std::atomic<bool> g_verifier_log_seen{false};
thread_local int t_quiet = 0;

// Formats a libbpf/libxdp printf-style message into one spdlog record per line.
void forward(spdlog::level::level_enum lvl, const char* tag, const char* fmt, va_list ap) {
  char buf[4096];
  int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
  if (n <= 0) return;
  std::string msg(buf, std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1));
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
  if (msg.empty()) return;

  // libbpf frames the verifier log with these markers, at WARN level.
  if (msg.find("BEGIN PROG LOAD LOG") != std::string::npos) {
    g_in_verifier_log = true;
    g_verifier_log_seen = true;
  }
  bool verifier = g_in_verifier_log.load();
  if (msg.find("END PROG LOAD LOG") != std::string::npos) g_in_verifier_log = false;
  if (verifier || (t_quiet > 0 && lvl > spdlog::level::debug)) lvl = spdlog::level::debug;
  spdlog::log(lvl, "{}: {}", tag, msg);
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

bool running_under_journald() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (!js) return false;
  unsigned long dev = 0, ino = 0;
  if (std::sscanf(js, "%lu:%lu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (fstat(2, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

void init_logging(const std::string& level, bool journald) {
  auto logger = spdlog::stderr_color_mt("vpnpt");
  if (journald)
    logger->set_pattern("%v");  // journald timestamps and tags each line itself
  else
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
