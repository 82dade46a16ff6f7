// The config file: every key, its defaults, and one-line errors that name
// the file, the line and the key. Tags [config][config_file]: `[config_file]`
// runs these alone ([config] also matches a BPF load test).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "abi/vpnpt_abi.h"
#include "loader/cli/config_file.h"
#include "loader/core/netif.h"

using namespace vpnpt;
using namespace std::chrono_literals;

namespace {

const std::string kPath = "/etc/vpnpt/vpnpt.conf";

// The error of parsing @text, checked to be one line prefixed with the path.
std::string error_of(const std::string& text) {
  auto r = parse_config(text, kPath);
  REQUIRE(!r);
  const std::string& what = r.error().what;
  CHECK(what.rfind(kPath + ":", 0) == 0);
  CHECK(what.find('\n') == std::string::npos);
  CHECK(what.find('\r') == std::string::npos);
  return what;
}

// @text fails at @line, and the message names @key.
void fails_at(const std::string& text, unsigned line, const std::string& key) {
  INFO(text);
  std::string what = error_of(text);
  INFO(what);
  CHECK(what.find(kPath + ":" + std::to_string(line) + ": ") == 0);
  CHECK(what.find("'" + key + "'") != std::string::npos);
}

const std::string kMinimal = "wan = eth0\nlan = eth1\n";

}  // namespace

TEST_CASE("a full config file sets every key", "[config][config_file]") {
  const std::string text =
      "# vpnpt on the edge router\n"
      "wan = wan0\n"
      "lan = lan0 lan1\n"
      "lan = lan2\n"
      "public_ip = 203.0.113.1\n"
      "mode = native\n"
      "metrics_address = 0.0.0.0:9100\n"
      "log_level = debug\n"
      "pptp = on\n"
      "ipsec = off\n"
      "l2tp = off\n"
      "ip_passthrough = 192.168.1.10\n"
      "pptp_unanswered_timeout = 45s\n"
      "pptp_idle_timeout = 10m\n"
      "pptp_closing_grace = 5\n"
      "ipsec_hold = 750ms\n"
      "ipsec_max_wait = 2s\n"
      "ipsec_stale = 1m\n"
      "ipsec_sa_idle = 1h\n"
      "vlan_depth = 1\n";
  auto r = parse_config(text, kPath);
  INFO((r ? std::string() : r.error().what));
  REQUIRE(r);
  const VpnptConfig& c = *r;
  CHECK(c.wan == "wan0");
  CHECK(c.lans == std::vector<std::string>{"lan0", "lan1", "lan2"});
  REQUIRE(c.public_ip);
  CHECK(format_ipv4(*c.public_ip) == "203.0.113.1");
  CHECK(c.mode == ModeRequest::Native);
  REQUIRE(c.metrics_address);
  CHECK(*c.metrics_address == "0.0.0.0:9100");
  CHECK(c.log_level == "debug");
  CHECK(c.switches_on == VPNPT_SW_PPTP);
  CHECK(c.switches_off == (VPNPT_SW_IPSEC | VPNPT_SW_L2TP));
  REQUIRE(c.ip_passthrough_host);
  CHECK(format_ipv4(*c.ip_passthrough_host) == "192.168.1.10");
  CHECK(c.pptp.unanswered == 45s);
  CHECK(c.pptp.idle == 600s);
  CHECK(c.pptp.closing_grace == 5s);
  CHECK(c.ipsec_binder.hold == 750ms);
  CHECK(c.ipsec_binder.max_wait == 2s);
  CHECK(c.ipsec_binder.stale == 60s);
  CHECK(c.ipsec.sa_idle == 3600s);
  CHECK(c.vlan_depth == 1);
  CHECK(c.lines.at("wan") == 2);
  CHECK(c.lines.at("lan") == 3);
  CHECK(c.lines.at("vlan_depth") == 20);
}

TEST_CASE("keys not given keep the CLI defaults", "[config][config_file]") {
  auto r = parse_config(kMinimal, kPath);
  REQUIRE(r);
  const VpnptConfig& c = *r;
  CHECK(c.wan == "eth0");
  CHECK(c.lans == std::vector<std::string>{"eth1"});
  CHECK(!c.public_ip);
  CHECK(c.mode == ModeRequest::Auto);
  REQUIRE(c.metrics_address);
  CHECK(*c.metrics_address == kDefaultMetricsAddress);
  CHECK(c.log_level == "info");
  CHECK(c.switches_on == 0);
  CHECK(c.switches_off == 0);
  CHECK(!c.ip_passthrough_host);
  const PptpTimeouts pt;
  CHECK(c.pptp.unanswered == pt.unanswered);
  CHECK(c.pptp.idle == pt.idle);
  CHECK(c.pptp.closing_grace == pt.closing_grace);
  CHECK(c.pptp.stream_idle == pt.stream_idle);
  CHECK(c.pptp.fin_grace == pt.fin_grace);
  const BinderConfig b;
  CHECK(c.ipsec_binder.hold == b.hold);
  CHECK(c.ipsec_binder.max_wait == b.max_wait);
  CHECK(c.ipsec_binder.stale == b.stale);
  CHECK(c.ipsec.sa_idle == IpsecTimeouts{}.sa_idle);
  CHECK(c.vlan_depth == VPNPT_VLAN_DEPTH_MAX);
}

TEST_CASE("off values", "[config][config_file]") {
  auto r = parse_config(kMinimal + "metrics_address = off\nip_passthrough = off\n", kPath);
  REQUIRE(r);
  CHECK(!r->metrics_address);
  CHECK(!r->ip_passthrough_host);
}

TEST_CASE("durations", "[config][config_file]") {
  CHECK(*parse_duration("5s") == 5s);
  CHECK(*parse_duration("5") == 5s);
  CHECK(*parse_duration("500ms") == 500ms);
  CHECK(*parse_duration("2m") == 120s);
  CHECK(*parse_duration("1h") == 3600s);
  CHECK(*parse_duration("168h") == 168h);
  for (const char* bad : {"", "s", "five", "5 s", "5S", "-5s", "+5s", "1.5s", "5d", "5sec", "0", "0ms", "169h",
                          "604800001ms", "99999999999999999999999s"}) {
    INFO(bad);
    auto r = parse_duration(bad);
    REQUIRE(!r);
    CHECK(r.error().what.find(std::string("'") + bad + "'") != std::string::npos);
  }
}

TEST_CASE("every key's bad values name the line and the key", "[config][config_file]") {
  struct Bad {
    const char* line;
    const char* key;
    const char* says;  // a piece of the message
  };
  const Bad bad[] = {
      {"wan = eth0 eth1", "wan", "one interface"},
      {"wan = a/b", "wan", "not an interface name"},
      {"wan = averyveryverylongname", "wan", "at most 15"},
      {"lan = eth2 ..", "lan", "not an interface name"},
      {"lan = eth2 x:1", "lan", "not an interface name"},
      {"lan = eth2 eth2", "lan", "twice"},
      {"public_ip = 203.0.113", "public_ip", "'203.0.113'"},
      {"public_ip = example.com", "public_ip", "IPv4"},
      {"public_ip = 255.255.255.255", "public_ip", "unicast"},
      {"public_ip = 224.0.0.1", "public_ip", "unicast"},
      {"public_ip = 127.0.0.1", "public_ip", "unicast"},
      {"public_ip = 0.0.0.0", "public_ip", "unicast"},
      {"mode = drv", "mode", "'drv'"},
      {"mode = Native", "mode", "auto, native, skb or tc"},
      {"metrics_address = 127.0.0.1", "metrics_address", "HOST:PORT"},
      {"metrics_address = 127.0.0.1:0", "metrics_address", "port"},
      {"metrics_address = 127.0.0.1:70000", "metrics_address", "port"},
      {"metrics_address = no", "metrics_address", "or off"},
      {"metrics_address = a:1 b:2", "metrics_address", "one value"},
      {"log_level = verbose", "log_level", "'verbose'"},
      {"log_level = INFO", "log_level", "trace, debug, info, warn or error"},
      {"pptp = yes", "pptp", "on or off"},
      {"ipsec = 1", "ipsec", "on or off"},
      {"l2tp = ON", "l2tp", "on or off"},
      {"ip_passthrough = on", "ip_passthrough", "off or"},
      {"ip_passthrough = 10.0.0", "ip_passthrough", "'10.0.0'"},
      {"ip_passthrough = 239.1.1.1", "ip_passthrough", "unicast"},
      {"pptp_unanswered_timeout = soon", "pptp_unanswered_timeout", "duration like 30s"},
      {"pptp_unanswered_timeout = 0", "pptp_unanswered_timeout", "more than 0"},
      {"pptp_idle_timeout = -5s", "pptp_idle_timeout", "duration"},
      {"pptp_idle_timeout = 8d", "pptp_idle_timeout", "duration"},
      {"pptp_idle_timeout = 200h", "pptp_idle_timeout", "at most 7 days"},
      {"pptp_closing_grace = 1500ms", "pptp_closing_grace", "whole seconds"},
      {"pptp_closing_grace = 0s", "pptp_closing_grace", "more than 0"},
      {"ipsec_hold = five", "ipsec_hold", "needs a duration like 5s or 500ms, got 'five'"},
      {"ipsec_hold = 0ms", "ipsec_hold", "more than 0"},
      {"ipsec_max_wait = 1.5s", "ipsec_max_wait", "duration"},
      {"ipsec_stale = 15 s", "ipsec_stale", "duration"},
      {"ipsec_stale = 0", "ipsec_stale", "more than 0"},
      {"ipsec_sa_idle = 10ms", "ipsec_sa_idle", "whole seconds"},
      {"ipsec_sa_idle = 99999999999999999999999s", "ipsec_sa_idle", "at most 7 days"},
      {"vlan_depth = 3", "vlan_depth", "0, 1 or 2"},
      {"vlan_depth = -1", "vlan_depth", "'-1'"},
      {"vlan_depth = 01", "vlan_depth", "'01'"},
      {"vlan_depth = two", "vlan_depth", "'two'"},
  };
  for (const auto& b : bad) {
    // The bad line is line 3, after a valid wan and lan (for 'wan' itself: after a lan and a comment).
    std::string text = (std::string(b.key) == "wan" ? "lan = eth1\n# uplink\n" : kMinimal) + b.line + "\n";
    fails_at(text, 3, b.key);
    std::string what = error_of(text);
    INFO(what);
    CHECK(what.find(b.says) != std::string::npos);
  }
}

TEST_CASE("a key without a value", "[config][config_file]") {
  for (const char* key : {"wan", "lan", "mode", "pptp", "ipsec_hold"}) {
    fails_at(kMinimal + key + " =\n", 3, key);
    fails_at(kMinimal + key + " =   # nothing\n", 3, key);
  }
}

TEST_CASE("unknown keys, with a suggestion when one is close", "[config][config_file]") {
  std::string what = error_of(kMinimal + "\n\n\n\npptp_timout = 30s\n");
  CHECK(what == kPath + ":7: unknown key 'pptp_timout' (did you mean 'pptp_idle_timeout'?)");

  struct Typo {
    const char* key;
    const char* meant;
  };
  for (auto t : {Typo{"WAN", "wan"}, Typo{"lans", "lan"}, Typo{"pubic_ip", "public_ip"},
                 Typo{"metrics-address", "metrics_address"}, Typo{"vlan_dept", "vlan_depth"},
                 Typo{"ipsec_maxwait", "ipsec_max_wait"}, Typo{"loglevel", "log_level"},
                 Typo{"ipsec_idle", "ipsec_sa_idle"}, Typo{"pptp_unanswered", "pptp_unanswered_timeout"}}) {
    INFO(t.key);
    fails_at(kMinimal + t.key + " = x\n", 3, t.key);
    CHECK(error_of(kMinimal + t.key + " = x\n").find(std::string("(did you mean '") + t.meant + "'?)") !=
          std::string::npos);
  }
  std::string none = error_of(kMinimal + "colour = blue\n");
  CHECK(none == kPath + ":3: unknown key 'colour'");
}

TEST_CASE("a key given twice names both lines", "[config][config_file]") {
  std::string what = error_of("wan = eth0\nlan = eth1\nmode = skb\n# again\nmode = native\n");
  CHECK(what.find(kPath + ":5: ") == 0);
  CHECK(what.find("'mode'") != std::string::npos);
  CHECK(what.find("lines 3 and 5") != std::string::npos);
  // Even with the same value, and for switches and timeouts too.
  fails_at(kMinimal + "pptp = on\npptp = on\n", 4, "pptp");
  fails_at(kMinimal + "ipsec_hold = 5s\nipsec_hold = 5s\n", 4, "ipsec_hold");
  fails_at("wan = eth0\nlan = eth1\nwan = eth0\n", 3, "wan");
}

TEST_CASE("lan lines accumulate; an interface is listed once", "[config][config_file]") {
  auto r = parse_config("wan = eth0\nlan = eth1\nlan = eth2 eth3\n", kPath);
  REQUIRE(r);
  CHECK(r->lans == std::vector<std::string>{"eth1", "eth2", "eth3"});
  std::string what = error_of("wan = eth0\nlan = eth1\nlan = eth2 eth1\n");
  CHECK(what.find(kPath + ":3: ") == 0);
  CHECK(what.find("'lan'") != std::string::npos);
  CHECK(what.find("'eth1'") != std::string::npos);
  CHECK(what.find("lines 2 and 3") != std::string::npos);
  // The WAN cannot also be a LAN.
  what = error_of("lan = eth1\nlan = eth0\nwan = eth0\n");
  CHECK(what.find(kPath + ":2: ") == 0);
  CHECK(what.find("'lan'") != std::string::npos);
  CHECK(what.find("'wan' (line 3)") != std::string::npos);
}

TEST_CASE("wan is required; without lan, attach picks the LAN side", "[config][config_file]") {
  CHECK(error_of("lan = eth1\n") == kPath + ": no 'wan' given (add a line like 'wan = eth0')");
  auto r = parse_config("wan = eth0\n", kPath);
  REQUIRE(r);
  CHECK(r->wan == "eth0");
  CHECK(r->lans.empty());
  CHECK(error_of("") == kPath + ": no 'wan' given (add a line like 'wan = eth0')");
  CHECK(error_of("# only comments\n\n") == kPath + ": no 'wan' given (add a line like 'wan = eth0')");
}

TEST_CASE("ipsec_max_wait may not be shorter than ipsec_hold", "[config][config_file]") {
  std::string what = error_of(kMinimal + "ipsec_hold = 5s\nipsec_max_wait = 3s\n");
  CHECK(what.find(kPath + ":4: ") == 0);
  CHECK(what.find("'ipsec_max_wait' (3s)") != std::string::npos);
  CHECK(what.find("'ipsec_hold' (5s)") != std::string::npos);
  // Set on one side only: the line of the key that was set, the other named as the default.
  what = error_of(kMinimal + "ipsec_hold = 20s\n");
  CHECK(what.find(kPath + ":3: ") == 0);
  CHECK(what.find("'ipsec_hold' (20s)") != std::string::npos);
  CHECK(what.find("'ipsec_max_wait' (10s, the default)") != std::string::npos);
  what = error_of(kMinimal + "\nipsec_max_wait = 4500ms\n");
  CHECK(what.find(kPath + ":4: ") == 0);
  CHECK(what.find("'ipsec_max_wait' (4500ms)") != std::string::npos);
  CHECK(what.find("'ipsec_hold' (5s, the default)") != std::string::npos);
  // Equal is fine.
  CHECK(parse_config(kMinimal + "ipsec_hold = 3s\nipsec_max_wait = 3000ms\n", kPath));
}

TEST_CASE("comments, blank lines and whitespace", "[config][config_file]") {
  // '#' starts a comment at the start of a line or after whitespace; glued to a value it is part of it.
  fails_at(kMinimal + "mode = skb#fast\n", 3, "mode");
  auto r = parse_config(
      "\n   # indented comment\n\twan\t=\teth0\t\nlan=eth1   eth2  # two LANs\nmode = skb # fast enough\n   \n", kPath);
  INFO((r ? std::string() : r.error().what));
  REQUIRE(r);
  CHECK(r->wan == "eth0");
  CHECK(r->lans == std::vector<std::string>{"eth1", "eth2"});
  CHECK(r->mode == ModeRequest::Skb);
  CHECK(r->lines.at("mode") == 5);
}

TEST_CASE("malformed lines", "[config][config_file]") {
  std::string what = error_of(kMinimal + "[vpnpt]\n");
  CHECK(what.find(kPath + ":3: ") == 0);
  CHECK(what.find("'[vpnpt]'") != std::string::npos);
  what = error_of(kMinimal + "mode skb\n");
  CHECK(what.find(kPath + ":3: expected 'key = value', got 'mode skb'") == 0);
  what = error_of(kMinimal + " = eth3\n");
  CHECK(what.find(kPath + ":3: expected 'key = value'") == 0);
  // Control bytes are escaped: the message stays one line.
  what = error_of(kMinimal + "mode = a\x1b[2Jb\n");
  CHECK(what.find("'a\\x1b[2Jb'") != std::string::npos);
}

TEST_CASE("CRLF line endings and a UTF-8 BOM", "[config][config_file]") {
  auto r = parse_config("\xEF\xBB\xBFwan = eth0\r\nlan = eth1 eth2\r\n# c\r\nvlan_depth = 0\r\n\r\n", kPath);
  INFO((r ? std::string() : r.error().what));
  REQUIRE(r);
  CHECK(r->wan == "eth0");
  CHECK(r->lans == std::vector<std::string>{"eth1", "eth2"});
  CHECK(r->vlan_depth == 0);
  // Line numbers still count CRLF lines, and the CR is not in the message.
  fails_at("wan = eth0\r\nlan = eth1\r\nvlan_depth = 3\r\n", 3, "vlan_depth");
  // No final newline.
  CHECK(parse_config("wan = eth0\nlan = eth1", kPath));
}

TEST_CASE("load_config reads a file and names it in errors", "[config][config_file]") {
  auto dir = std::filesystem::temp_directory_path() / ("vpnpt-config-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string good = (dir / "good.conf").string();
  const std::string bad = (dir / "bad.conf").string();
  const std::string missing = (dir / "missing.conf").string();
  std::ofstream(good) << "wan = eth0\nlan = eth1\nmode = skb\n";
  std::ofstream(bad) << "wan = eth0\nlan = eth1\nvlan_depth = 7\n";

  auto r = load_config(good);
  REQUIRE(r);
  CHECK(r->mode == ModeRequest::Skb);

  auto e = load_config(bad);
  REQUIRE(!e);
  CHECK(e.error().what.find(bad + ":3: ") == 0);
  CHECK(e.error().what.find("'vlan_depth'") != std::string::npos);

  auto m = load_config(missing);
  REQUIRE(!m);
  CHECK(m.error().err == ENOENT);
  CHECK(m.error().what.find(missing) != std::string::npos);
  CHECK(m.error().message().find("No such file") != std::string::npos);

  auto d = load_config(dir.string());
  REQUIRE(!d);
  CHECK(d.error().what.find(dir.string()) != std::string::npos);
  CHECK(d.error().what.find("directory") != std::string::npos);

  std::filesystem::remove_all(dir);
}

TEST_CASE("tools/vpnpt.conf.example parses, and its commented values are the defaults", "[config][config_file]") {
  auto example = std::filesystem::path(VPNPT_SOURCE_DIR) / "tools" / "vpnpt.conf.example";
  std::ifstream in(example);
  REQUIRE(in.good());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  auto as_is = parse_config(text, example.string());
  INFO((as_is ? std::string() : as_is.error().what));
  REQUIRE(as_is);
  CHECK(as_is->wan == "eth0");
  CHECK(as_is->lans == std::vector<std::string>{"eth1", "eth2"});

  // Uncomment every "#key = value" line: the result must equal the built-in defaults.
  std::string uncommented, line;
  std::istringstream lines(text);
  while (std::getline(lines, line)) {
    bool key_line = line.size() > 1 && line[0] == '#' && std::islower(static_cast<unsigned char>(line[1])) &&
                    line.find(" = ") != std::string::npos;
    uncommented += (key_line ? line.substr(1) : line) + "\n";
  }
  auto all = parse_config(uncommented, example.string());
  INFO((all ? std::string() : all.error().what));
  REQUIRE(all);
  const VpnptConfig& c = *all;
  const VpnptConfig d;
  CHECK(c.lans == std::vector<std::string>{"eth1", "eth2", "eth3"});
  REQUIRE(c.public_ip);
  CHECK(format_ipv4(*c.public_ip) == "203.0.113.1");
  CHECK(c.mode == d.mode);
  CHECK(c.metrics_address == d.metrics_address);
  CHECK(c.log_level == d.log_level);
  CHECK(c.switches_on == VPNPT_SW_ALL);
  CHECK(c.switches_off == 0);
  CHECK(c.ip_passthrough_host == d.ip_passthrough_host);
  CHECK(c.pptp.unanswered == d.pptp.unanswered);
  CHECK(c.pptp.idle == d.pptp.idle);
  CHECK(c.pptp.closing_grace == d.pptp.closing_grace);
  CHECK(c.ipsec_binder.hold == d.ipsec_binder.hold);
  CHECK(c.ipsec_binder.max_wait == d.ipsec_binder.max_wait);
  CHECK(c.ipsec_binder.stale == d.ipsec_binder.stale);
  CHECK(c.ipsec.sa_idle == d.ipsec.sa_idle);
  CHECK(c.vlan_depth == d.vlan_depth);
  CHECK(c.lines.size() == 18);  // every key is in the example
}

// vpnpt.conf(5) is generated from config_keys(): its defaults are the example's
// commented values, which the case above ties to the built-in defaults.
TEST_CASE("config_keys() documents every key with the example's defaults", "[config][config_file]") {
  std::ifstream in(std::filesystem::path(VPNPT_SOURCE_DIR) / "tools" / "vpnpt.conf.example");
  REQUIRE(in.good());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto has = [&](const std::string& s) { return text.find(s) != std::string::npos; };
  CHECK(config_keys().size() == 18);
  for (const auto& k : config_keys()) {
    const std::string name = k.name;
    INFO(name);
    CHECK(std::string(k.value).size() > 0);
    CHECK(std::string(k.text).size() > 10);
    CHECK(k.repeatable == (name == "lan"));
    CHECK((has("\n" + name + " = ") || has("\n#" + name + " = ")));
    if (k.default_value) CHECK(has("\n#" + name + " = " + k.default_value + "\n"));
  }
}

TEST_CASE("load_config reads a pipe (--config <(...))", "[config][config_file]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const std::string text = "wan = eth0\nlan = eth1\n";
  REQUIRE(::write(fds[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fds[1]);
  auto r = load_config("/proc/self/fd/" + std::to_string(fds[0]));
  ::close(fds[0]);
  INFO((r ? std::string() : r.error().what));
  REQUIRE(r);
  CHECK(r->wan == "eth0");
}
