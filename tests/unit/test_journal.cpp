// Under journald, vpnpt writes native journal entries whose fields say who
// a line is about, so `journalctl VPNPT_HOST=...` finds one host's story.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>

#include "loader/core/journal_sink.h"
#include "loader/core/log_subject.h"

using namespace vpnpt;

namespace {

// A datagram socket standing in for journald's.
struct FakeJournal {
  std::string path = "/tmp/vpnpt-test-journal-" + std::to_string(getpid());
  int fd = -1;
  FakeJournal() {
    unlink(path.c_str());
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path.c_str());
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
    timeval tv{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~FakeJournal() {
    close(fd);
    unlink(path.c_str());
  }
  // The next entry's fields, decoded from the native protocol (both forms).
  std::map<std::string, std::string> next() {
    char buf[65536];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    REQUIRE(n > 0);
    std::string d(buf, static_cast<size_t>(n));
    std::map<std::string, std::string> f;
    size_t i = 0;
    while (i < d.size()) {
      size_t nl = d.find('\n', i);
      REQUIRE(nl != std::string::npos);
      std::string line = d.substr(i, nl - i);
      size_t eq = line.find('=');
      if (eq != std::string::npos) {
        f[line.substr(0, eq)] = line.substr(eq + 1);
        i = nl + 1;
        continue;
      }
      uint64_t len = 0;
      for (int b = 0; b < 8; ++b) len |= uint64_t{static_cast<uint8_t>(d[nl + 1 + b])} << (8 * b);
      f[line] = d.substr(nl + 9, len);
      REQUIRE(d[nl + 9 + len] == '\n');
      i = nl + 10 + len;
    }
    return f;
  }
};

uint32_t addr(const char* s) {
  in_addr a{};
  REQUIRE(inet_pton(AF_INET, s, &a) == 1);
  return a.s_addr;
}

}  // namespace

TEST_CASE("journal entries carry who a line is about", "[log][journal]") {
  FakeJournal j;
  auto sink = std::make_shared<JournalSink>(j.path);
  auto logger = std::make_shared<spdlog::logger>("journal-test", sink);
  logger->set_level(spdlog::level::trace);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  sink->set_wan("wan0");

  log_about({addr("192.168.1.20"), addr("203.0.113.5"), "pptp"}, spdlog::level::info, "PPTP call set up: {}", 7);
  auto e = j.next();
  CHECK(e["MESSAGE"] == "PPTP call set up: 7");
  CHECK(e["PRIORITY"] == "6");
  CHECK(e["SYSLOG_IDENTIFIER"] == "vpnpt");
  CHECK(e["VPNPT_WAN"] == "wan0");
  CHECK(e["VPNPT_HOST"] == "192.168.1.20");
  CHECK(e["VPNPT_SERVER"] == "203.0.113.5");
  CHECK(e["VPNPT_PROTO"] == "pptp");

  // Outside log_about a line is about nobody in particular.
  spdlog::warn("metrics endpoint busy");
  e = j.next();
  CHECK(e["PRIORITY"] == "4");
  CHECK(e.count("VPNPT_HOST") == 0);
  CHECK(e.count("VPNPT_PROTO") == 0);

  // A server alone (an SPI no host owns yet), and a multi-line message in the binary-safe form.
  log_about({0, addr("198.51.100.7"), "ipsec"}, spdlog::level::err, "line one\nline two");
  e = j.next();
  CHECK(e["MESSAGE"] == "line one\nline two");
  CHECK(e["PRIORITY"] == "3");
  CHECK(e.count("VPNPT_HOST") == 0);
  CHECK(e["VPNPT_SERVER"] == "198.51.100.7");
  CHECK(e["VPNPT_PROTO"] == "ipsec");
  spdlog::set_default_logger(previous);
}
