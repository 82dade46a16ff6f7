// SIGHUP's comparison of the running configuration with the file: which
// changes a reload applies and which it only names as needing a restart.
// The reload itself, on a running daemon: netns-lab/tests/daemon/reload.sh.
#include <catch2/catch.hpp>

#include "loader/cli/config_file.h"
#include "loader/cli/reload.h"

using namespace vpnpt;

namespace {

VpnptConfig parsed(const std::string& text) {
  auto c = parse_config(text, "test.conf");
  REQUIRE(c);
  return *c;
}

std::vector<std::string> keys(const std::vector<ConfigChange>& v) {
  std::vector<std::string> k;
  for (const auto& c : v) k.push_back(c.key);
  return k;
}

}  // namespace

TEST_CASE("reload: the same file changes nothing", "[config_file][reload]") {
  auto a = parsed("wan = eth0\nlan = eth1\npptp = off\npptp_idle_timeout = 60s\n");
  CHECK(diff_config(a, a).empty());
}

TEST_CASE("reload: switches, passthrough, log level and timeouts apply live", "[config_file][reload]") {
  auto a = parsed("wan = eth0\npptp = on\n");
  auto b = parsed(
      "wan = eth0\npptp = off\nl2tp = off\nip_passthrough = 192.168.1.10\nlog_level = debug\n"
      "pptp_idle_timeout = 60s\nipsec_hold = 2500ms\nipsec_sa_idle = 2m\n");
  auto d = diff_config(a, b);
  CHECK(d.restart.empty());
  CHECK(keys(d.live) == std::vector<std::string>{"pptp", "l2tp", "ip_passthrough", "log_level", "pptp_idle_timeout",
                                                 "ipsec_hold", "ipsec_sa_idle"});
  CHECK(describe_changes(d.live) ==
        "pptp on -> off, l2tp as set -> off, ip_passthrough off -> 192.168.1.10, log_level info -> debug, "
        "pptp_idle_timeout 300s -> 60s, ipsec_hold 5s -> 2500ms, ipsec_sa_idle 600s -> 120s");
}

TEST_CASE("reload: interfaces, mode, VLAN depth, public IP and metrics need a restart", "[config_file][reload]") {
  auto a = parsed("wan = eth0\nlan = eth1\n");
  auto b = parsed(
      "wan = eth9\nlan = eth1 eth2\nmode = skb\nvlan_depth = 0\npublic_ip = 203.0.113.7\nmetrics_address = off\n");
  auto d = diff_config(a, b);
  CHECK(d.live.empty());
  CHECK(keys(d.restart) ==
        std::vector<std::string>{"wan", "lan", "mode", "vlan_depth", "public_ip", "metrics_address"});
  CHECK(d.restart[1].from == "eth1");
  CHECK(d.restart[1].to == "eth1 eth2");
  CHECK(d.restart[2].to == "skb");
}

TEST_CASE("reload: what needs a restart keeps its running value, the rest applies", "[config_file][reload]") {
  auto running = parsed("wan = eth0\nlan = eth1\npptp_idle_timeout = 60s\n");
  auto next = parsed(
      "wan = eth9\nlan = eth1 eth2\nmode = skb\nvlan_depth = 0\npublic_ip = 203.0.113.7\n"
      "metrics_address = off\npptp_idle_timeout = 90s\n");
  auto kept = keep_restart_keys(next, running);
  CHECK(diff_config(running, kept).restart.empty());
  CHECK(keys(diff_config(running, kept).live) == std::vector<std::string>{"pptp_idle_timeout"});
  // The next reload of the same file names the pending restart again.
  CHECK(diff_config(kept, next).restart.size() == 6);
}

TEST_CASE("reload: a line taken out of the file leaves its switch as set", "[config_file][reload]") {
  auto d = diff_config(parsed("wan = eth0\nipsec = off\n"), parsed("wan = eth0\n"));
  REQUIRE(d.live.size() == 1);
  CHECK(describe_changes(d.live) == "ipsec off -> as set");
}
