// `vpnpt attach <wan-if>` without --lan: which interfaces are picked as the
// LAN side, and the one line that says why for each. Tables over
// choose_lans ([lan][unit]), and list_interfaces + choose_lans against the
// real kernel in a throwaway network namespace ([lan][netns]).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "loader/dataplane/lan_autopick.h"
#include "loader/core/netif.h"

using namespace vpnpt;

namespace {

// "A.B.C.D/N" -> prefix.
Ipv4Prefix pfx(const std::string& text) {
  auto slash = text.find('/');
  auto ip = parse_ipv4(text.substr(0, slash));
  REQUIRE(ip);
  return Ipv4Prefix{*ip, static_cast<uint8_t>(std::stoi(text.substr(slash + 1)))};
}

IfaceInfo iface(const std::string& name, uint32_t idx, std::vector<std::string> addrs, std::string kind = "",
                bool up = true) {
  IfaceInfo i;
  i.name = name;
  i.ifindex = idx;
  i.up = up;
  i.kind = std::move(kind);
  for (const auto& a : addrs) i.addrs.push_back(pfx(a));
  return i;
}

// name -> choice, checking the shape every choice has.
std::map<std::string, LanChoice> choose(const std::vector<IfaceInfo>& all, uint32_t wan) {
  auto v = choose_lans(all, wan);
  CHECK(v.size() == all.size());  // one line per interface
  std::map<std::string, LanChoice> out;
  uint32_t prev = 0;
  for (const auto& c : v) {
    INFO(c.why);
    CHECK(c.ifindex > prev);  // ifindex order
    prev = c.ifindex;
    CHECK(c.why.rfind(c.name + (c.picked ? ": picked: " : ": skipped: "), 0) == 0);
    CHECK(c.why.find('\n') == std::string::npos);
    out[c.name] = c;
  }
  return out;
}

std::set<std::string> picked(const std::map<std::string, LanChoice>& m) {
  std::set<std::string> s;
  for (const auto& [n, c] : m)
    if (c.picked) s.insert(n);
  return s;
}

// A small home router: loopback, WAN, a LAN bridge with a port, and some others.
std::vector<IfaceInfo> home_router() {
  IfaceInfo lo = iface("lo", 1, {"127.0.0.1/8"});
  lo.loopback = true;
  lo.ethernet = false;
  IfaceInfo port = iface("eth1", 4, {});
  port.master = 3;
  return {lo,
          iface("wan0", 2, {"203.0.113.1/24"}),
          iface("lan0", 3, {"192.168.1.1/24"}, "bridge"),
          port,
          iface("eth2", 5, {"198.51.100.1/24"}),
          iface("wlan0", 6, {"192.168.2.1/24"}, "", false),
          iface("guest", 7, {"100.64.1.1/24"}, "vlan")};
}

}  // namespace

TEST_CASE("LAN auto-pick: a home router", "[lan][unit]") {
  auto m = choose(home_router(), 2);
  CHECK(picked(m) == std::set<std::string>{"lan0", "guest"});
  CHECK(m["lo"].why == "lo: skipped: loopback");
  CHECK(m["wan0"].why == "wan0: skipped: the WAN");
  CHECK(m["lan0"].why == "lan0: picked: bridge with 192.168.1.1/24 (RFC 1918)");
  CHECK(m["eth1"].why == "eth1: skipped: port of bridge lan0 (served through it)");
  CHECK(m["eth2"].why == "eth2: skipped: no private or shared IPv4 prefix (198.51.100.1/24)");
  CHECK(m["wlan0"].why == "wlan0: skipped: down");
  CHECK(m["guest"].why == "guest: picked: vlan with 100.64.1.1/24 (RFC 6598)");
}

TEST_CASE("LAN auto-pick: the private and shared ranges, at their edges", "[lan][unit]") {
  struct Row {
    const char* addr;
    bool picked;
    const char* range;
  };
  const Row rows[] = {
      {"9.255.255.254/24", false, ""},
      {"10.0.0.1/24", true, "RFC 1918"},
      {"10.255.255.254/24", true, "RFC 1918"},
      {"11.0.0.1/24", false, ""},
      {"172.15.255.254/24", false, ""},
      {"172.16.0.1/24", true, "RFC 1918"},
      {"172.31.255.254/24", true, "RFC 1918"},
      {"172.32.0.1/24", false, ""},
      {"192.167.255.254/24", false, ""},
      {"192.168.0.1/24", true, "RFC 1918"},
      {"192.168.255.254/24", true, "RFC 1918"},
      {"192.169.0.1/24", false, ""},
      {"100.63.255.254/24", false, ""},
      {"100.64.0.1/24", true, "RFC 6598"},
      {"100.127.255.254/24", true, "RFC 6598"},
      {"100.128.0.1/24", false, ""},
      {"169.254.1.1/16", false, ""},
      {"127.0.0.2/8", false, ""},
  };
  for (const auto& r : rows) {
    INFO(r.addr);
    auto m = choose({iface("wan0", 2, {"203.0.113.1/24"}), iface("x", 3, {r.addr})}, 2);
    CHECK(m["x"].picked == r.picked);
    if (r.picked)
      CHECK(m["x"].why == std::string("x: picked: interface with ") + r.addr + " (" + r.range + ")");
    else
      CHECK(m["x"].why == std::string("x: skipped: no private or shared IPv4 prefix (") + r.addr + ")");
  }
}

TEST_CASE("LAN auto-pick: each skip rule", "[lan][unit]") {
  IfaceInfo wan = iface("wan0", 2, {"203.0.113.1/24"});

  SECTION("the WAN is never a LAN, even with a private address") {
    auto m = choose({iface("wan0", 2, {"10.0.0.2/24"})}, 2);
    CHECK(m["wan0"].why == "wan0: skipped: the WAN");
  }
  SECTION("a bond's port is served through the bond; an unknown master is named by index") {
    IfaceInfo p1 = iface("eth1", 4, {"192.168.5.1/24"});  // even with an address of its own
    p1.master = 3;
    IfaceInfo p2 = iface("eth3", 5, {});
    p2.master = 42;
    auto m = choose({wan, iface("bond0", 3, {"192.168.1.1/24"}, "bond"), p1, p2}, 2);
    CHECK(picked(m) == std::set<std::string>{"bond0"});
    CHECK(m["eth1"].why == "eth1: skipped: port of bond bond0 (served through it)");
    CHECK(m["eth3"].why == "eth3: skipped: enslaved to if42 (served through it)");
  }
  SECTION("a VRF member keeps its addresses and is judged on them") {
    IfaceInfo member = iface("eth1", 4, {"192.168.1.1/24"});
    member.master = 3;
    auto m = choose({wan, iface("vrf-lan", 3, {}, "vrf"), member}, 2);
    CHECK(picked(m) == std::set<std::string>{"eth1"});
    CHECK(m["vrf-lan"].why == "vrf-lan: skipped: no IPv4 address");
  }
  SECTION("a down bridge is skipped; a bridge without addresses is skipped") {
    auto m = choose({wan, iface("br0", 3, {"192.168.1.1/24"}, "bridge", false), iface("br1", 4, {}, "bridge")}, 2);
    CHECK(picked(m).empty());
    CHECK(m["br0"].why == "br0: skipped: down");
    CHECK(m["br1"].why == "br1: skipped: no IPv4 address");
  }
  SECTION("a layer-3 tunnel with a private address is a VPN, not a LAN") {
    IfaceInfo wg = iface("wg0", 3, {"10.8.0.1/24"}, "wireguard");
    wg.ethernet = false;
    auto m = choose({wan, wg}, 2);
    CHECK(m["wg0"].why == "wg0: skipped: not Ethernet (a tunnel or point-to-point link, not a LAN segment)");
  }
  SECTION("public-only, and several public addresses, are skipped and listed") {
    auto m = choose({wan, iface("dmz", 3, {"198.51.100.1/28", "192.0.2.1/24"})}, 2);
    CHECK(m["dmz"].why == "dmz: skipped: no private or shared IPv4 prefix (198.51.100.1/28, 192.0.2.1/24)");
  }
}

TEST_CASE("LAN auto-pick: a private and a public address on one interface is a LAN", "[lan][unit]") {
  auto m = choose(
      {iface("wan0", 2, {"203.0.113.1/24"}), iface("lan0", 3, {"198.51.100.1/28", "192.168.1.1/24"}, "bridge")}, 2);
  CHECK(m["lan0"].picked);
  CHECK(m["lan0"].why == "lan0: picked: bridge with 192.168.1.1/24 (RFC 1918); also has 198.51.100.1/28");
}

TEST_CASE("LAN auto-pick: the WAN's own subnet is the WAN side", "[lan][unit]") {
  // Double NAT: the WAN itself is on the modem's private LAN 192.168.0.0/24.
  IfaceInfo wan = iface("wan0", 2, {"192.168.0.2/24"});
  SECTION("an interface on the WAN's subnet is skipped; the real LAN is picked") {
    auto m = choose({wan, iface("eth1", 3, {"192.168.0.5/24"}), iface("lan0", 4, {"192.168.1.1/24"}, "bridge")}, 2);
    CHECK(picked(m) == std::set<std::string>{"lan0"});
    CHECK(m["eth1"].why ==
          "eth1: skipped: 192.168.0.5/24 is on the WAN's subnet (wan0 has 192.168.0.2/24): that is "
          "the WAN side");
  }
  SECTION("a wider or narrower prefix that overlaps the WAN's is the WAN side too") {
    auto m = choose({wan, iface("a", 3, {"192.168.0.129/25"}), iface("b", 4, {"192.168.0.1/16"})}, 2);
    CHECK(picked(m).empty());
  }
  SECTION("an interface with the WAN's subnet and another private prefix is picked for the other") {
    auto m = choose({wan, iface("lan0", 3, {"192.168.0.5/24", "10.1.0.1/16"})}, 2);
    CHECK(m["lan0"].why == "lan0: picked: interface with 10.1.0.1/16 (RFC 1918)");
  }
  SECTION("a WAN on shared address space (CGNAT) next to a 100.64/10 LAN elsewhere") {
    auto m = choose({iface("wan0", 2, {"100.72.3.4/22"}), iface("lan0", 3, {"100.100.0.1/24"}),
                     iface("lan1", 4, {"100.72.1.1/24"})},
                    2);
    CHECK(picked(m) == std::set<std::string>{"lan0"});
  }
}

TEST_CASE("LAN auto-pick: nothing to pick", "[lan][unit]") {
  IfaceInfo lo = iface("lo", 1, {"127.0.0.1/8"});
  lo.loopback = true;
  CHECK(picked(choose({lo, iface("wan0", 2, {"203.0.113.1/24"})}, 2)).empty());
  CHECK(choose_lans({}, 2).empty());
}

namespace {

void sh(const std::string& cmd) {
  if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) throw std::runtime_error("failed: " + cmd);
}

// Enters a new, empty network namespace; returns to the caller's on destruction
// (the namespace and its interfaces go away with their last reference).
class ThrowawayNetns {
 public:
  ThrowawayNetns() {
    home_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home_ < 0 || ::unshare(CLONE_NEWNET) != 0) throw std::runtime_error("cannot create a netns");
  }
  ~ThrowawayNetns() {
    if (home_ >= 0) {
      (void)::setns(home_, CLONE_NEWNET);
      ::close(home_);
    }
  }
  ThrowawayNetns(const ThrowawayNetns&) = delete;
  ThrowawayNetns& operator=(const ThrowawayNetns&) = delete;

 private:
  int home_ = -1;
};

}  // namespace

TEST_CASE("LAN auto-pick on the kernel's own interface list", "[lan][netns]") {
  ThrowawayNetns ns;
  sh("ip link set lo up");
  sh("ip link add br-lan type bridge");
  sh("ip link add lanp0 type veth peer name lanp1");
  sh("ip link set lanp0 master br-lan");
  sh("ip addr add 192.168.7.1/24 dev br-lan");
  sh("ip link add wan0 type veth peer name wanp");
  sh("ip addr add 203.0.113.1/24 dev wan0");
  sh("ip link add priv0 type veth peer name privp");
  sh("ip addr add 10.9.0.1/24 dev priv0");
  sh("ip link add pub0 type veth peer name pubp");
  sh("ip addr add 198.51.100.1/24 dev pub0");
  sh("ip addr add 192.168.9.1/24 dev pub0 && ip addr del 192.168.9.1/24 dev pub0");  // gone again: not listed
  sh("ip link add down0 type veth peer name down1");
  sh("ip addr add 192.168.8.1/24 dev down0");  // never set up
  for (const char* i : {"br-lan", "lanp0", "lanp1", "wan0", "wanp", "priv0", "privp", "pub0", "pubp"})
    sh(std::string("ip link set ") + i + " up");

  auto all = list_interfaces();
  REQUIRE(all);
  std::map<std::string, IfaceInfo> by_name;
  for (const auto& i : *all) by_name[i.name] = i;
  for (const char* n :
       {"lo", "br-lan", "lanp0", "lanp1", "wan0", "wanp", "priv0", "privp", "pub0", "pubp", "down0", "down1"}) {
    INFO(n);
    REQUIRE(by_name.count(n));
    CHECK(by_name[n].ifindex == *ifindex_of(n));
  }
  // Not a count: a new namespace also gets the fallback tunnels (tunl0, sit0...) of loaded modules.

  const IfaceInfo& br = by_name["br-lan"];
  CHECK(br.kind == "bridge");
  CHECK(br.up);
  CHECK(br.ethernet);
  REQUIRE(br.addrs.size() == 1);
  CHECK(format_prefix(br.addrs[0]) == "192.168.7.1/24");
  CHECK(by_name["lanp0"].master == br.ifindex);
  CHECK(by_name["lanp0"].kind == "veth");
  CHECK(by_name["lanp0"].addrs.empty());
  CHECK(by_name["lo"].loopback);
  CHECK_FALSE(by_name["lo"].ethernet);
  CHECK_FALSE(by_name["down0"].up);
  REQUIRE(by_name["pub0"].addrs.size() == 1);
  CHECK(format_prefix(by_name["pub0"].addrs[0]) == "198.51.100.1/24");

  uint32_t wan = *ifindex_of("wan0");
  auto m = choose(*all, wan);
  CHECK(picked(m) == std::set<std::string>{"br-lan", "priv0"});
  CHECK(m["br-lan"].why == "br-lan: picked: bridge with 192.168.7.1/24 (RFC 1918)");
  CHECK(m["priv0"].why == "priv0: picked: veth with 10.9.0.1/24 (RFC 1918)");
  CHECK(m["lanp0"].why == "lanp0: skipped: port of bridge br-lan (served through it)");
  CHECK(m["pub0"].why == "pub0: skipped: no private or shared IPv4 prefix (198.51.100.1/24)");
  CHECK(m["down0"].why == "down0: skipped: down");
  CHECK(m["wan0"].why == "wan0: skipped: the WAN");
  CHECK(m["lo"].why == "lo: skipped: loopback");
  CHECK(m["privp"].why == "privp: skipped: no IPv4 address");
}
