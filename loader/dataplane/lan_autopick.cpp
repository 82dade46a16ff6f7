#include "loader/dataplane/lan_autopick.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>

#include "loader/core/fd.h"
#include "loader/core/strings.h"
#include "loader/core/netlink.h"
#include "loader/core/netif.h"

namespace vpnpt {
namespace {

// ---------------------------------------------------------------- choosing

uint32_t host_order(uint32_t be) { return ntohl(be); }

uint32_t mask_of(uint8_t len) { return len == 0 ? 0u : ~uint32_t{0} << (32 - std::min<uint8_t>(len, 32)); }

bool in_net(uint32_t be_addr, uint32_t net, uint8_t len) { return (host_order(be_addr) & mask_of(len)) == net; }

// "RFC 1918" / "RFC 6598" for a private or shared address, nullptr otherwise.
const char* private_range(uint32_t be_addr) {
  if (in_net(be_addr, 0x0a000000, 8) || in_net(be_addr, 0xac100000, 12) || in_net(be_addr, 0xc0a80000, 16))
    return "RFC 1918";
  if (in_net(be_addr, 0x64400000, 10)) return "RFC 6598";
  return nullptr;
}

// The two prefixes share addresses (one network contains the other).
bool overlap(const Ipv4Prefix& a, const Ipv4Prefix& b) {
  uint32_t m = mask_of(std::min(a.len, b.len));
  return (host_order(a.addr) & m) == (host_order(b.addr) & m);
}

std::string prefixes(const std::vector<Ipv4Prefix>& ps) {
  std::vector<std::string> parts;
  for (const auto& p : ps) parts.push_back(format_prefix(p));
  return join(parts, ", ");
}

LanChoice judge(const IfaceInfo& i, const std::map<uint32_t, const IfaceInfo*>& by_index, const IfaceInfo* wan) {
  LanChoice c{i.ifindex, i.name, false, {}};
  auto skip = [&](const std::string& reason) {
    c.why = i.name + ": skipped: " + reason;
    return c;
  };
  if (wan && i.ifindex == wan->ifindex) return skip("the WAN");
  if (i.loopback) return skip("loopback");
  if (i.master) {
    auto it = by_index.find(i.master);
    const IfaceInfo* m = it == by_index.end() ? nullptr : it->second;
    // A VRF or an OVS datapath as master leaves the device its own addresses: judge it below.
    if (!m || (m->kind != "vrf" && m->kind != "openvswitch")) {
      if (!m) return skip("enslaved to if" + std::to_string(i.master) + " (served through it)");
      return skip("port of " + (m->kind.empty() ? std::string("master") : m->kind) + " " + m->name +
                  " (served through it)");
    }
  }
  if (!i.up) return skip("down");
  if (!i.ethernet) return skip("not Ethernet (a tunnel or point-to-point link, not a LAN segment)");
  if (i.addrs.empty()) return skip("no IPv4 address");

  std::vector<Ipv4Prefix> priv, pub, on_wan;
  std::vector<std::string> labelled;
  for (const auto& a : i.addrs) {
    const char* range = private_range(a.addr);
    if (!range) {
      pub.push_back(a);
      continue;
    }
    bool wan_side = false;
    if (wan)
      for (const auto& w : wan->addrs)
        if (overlap(a, w)) wan_side = true;
    if (wan_side) {
      on_wan.push_back(a);
      continue;
    }
    priv.push_back(a);
    labelled.push_back(format_prefix(a) + " (" + range + ")");
  }
  if (priv.empty() && !on_wan.empty()) {
    std::string wan_has = wan ? " (" + wan->name + " has " + prefixes(wan->addrs) + ")" : "";
    return skip(prefixes(on_wan) + " is on the WAN's subnet" + wan_has + ": that is the WAN side");
  }
  if (priv.empty()) return skip("no private or shared IPv4 prefix (" + prefixes(i.addrs) + ")");

  c.picked = true;
  c.why =
      i.name + ": picked: " + (i.kind.empty() ? std::string("interface") : i.kind) + " with " + join(labelled, ", ");
  if (!pub.empty()) c.why += "; also has " + prefixes(pub);  // e.g. a routed public block
  return c;
}

// ---------------------------------------------------------------- rtnetlink

// The fixed part of a message, its attributes after it.
template <class Hdr>
std::optional<std::pair<Hdr, Attrs>> split(std::string_view body) {
  if (body.size() < sizeof(Hdr)) return std::nullopt;
  Hdr h;
  std::memcpy(&h, body.data(), sizeof(h));
  body.remove_prefix(std::min(body.size(), size_t{NLMSG_ALIGN(sizeof(Hdr))}));
  return std::pair{h, parse_attrs(body)};
}

Result<std::vector<IfaceInfo>> list_once(uint32_t seq) {
  auto fd = open_netlink(NETLINK_ROUTE);  // 2 s timeout: never hang the attach on the kernel
  if (!fd) return make_error("cannot open an rtnetlink socket to list interfaces: " + fd.error().message());

  std::map<uint32_t, IfaceInfo> by_index;
  auto on_link = [&](uint16_t type, std::string_view body) {
    auto m = type == RTM_NEWLINK ? split<ifinfomsg>(body) : std::nullopt;
    if (!m || m->first.ifi_index <= 0) return;
    const auto& [ifi, attrs] = *m;
    IfaceInfo i;
    i.ifindex = static_cast<uint32_t>(ifi.ifi_index);
    i.name = attr_string(attrs, IFLA_IFNAME);
    i.up = ifi.ifi_flags & IFF_UP;
    i.loopback = ifi.ifi_flags & IFF_LOOPBACK;
    i.ethernet = ifi.ifi_type == ARPHRD_ETHER;
    i.master = attr_as<uint32_t>(attrs, IFLA_MASTER).value_or(0);
    if (auto li = attrs.find(IFLA_LINKINFO); li != attrs.end())
      i.kind = attr_string(parse_attrs(li->second), IFLA_INFO_KIND);
    if (i.name.empty()) i.name = "if" + std::to_string(i.ifindex);
    by_index[i.ifindex] = std::move(i);
  };
  NlMsg links(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP);
  ifinfomsg all_links{};
  all_links.ifi_family = AF_UNSPEC;
  links.append(&all_links, sizeof(all_links));
  VPNPT_TRY(nl_dump(fd->get(), links, seq, "interfaces", on_link));

  auto on_addr = [&](uint16_t type, std::string_view body) {
    auto m = type == RTM_NEWADDR ? split<ifaddrmsg>(body) : std::nullopt;
    if (!m || m->first.ifa_family != AF_INET) return;
    const auto& [ifa, attrs] = *m;
    auto it = by_index.find(ifa.ifa_index);
    if (it == by_index.end()) return;
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on a point-to-point link.
    auto addr = attr_as<uint32_t>(attrs, IFA_LOCAL);
    if (!addr) addr = attr_as<uint32_t>(attrs, IFA_ADDRESS);
    if (!addr) return;
    Ipv4Prefix p;
    p.addr = *addr;
    p.len = ifa.ifa_prefixlen;
    it->second.addrs.push_back(p);
  };
  NlMsg addrs(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP);
  ifaddrmsg v4{};
  v4.ifa_family = AF_INET;
  addrs.append(&v4, sizeof(v4));
  VPNPT_TRY(nl_dump(fd->get(), addrs, seq + 1, "interface addresses", on_addr));

  std::vector<IfaceInfo> out;
  out.reserve(by_index.size());
  for (auto& [idx, i] : by_index) out.push_back(std::move(i));
  return out;
}

}  // namespace

std::string format_prefix(const Ipv4Prefix& p) { return format_ipv4(p.addr) + "/" + std::to_string(p.len); }

std::vector<LanChoice> choose_lans(const std::vector<IfaceInfo>& all, uint32_t wan_ifindex) {
  std::map<uint32_t, const IfaceInfo*> by_index;
  for (const auto& i : all) by_index[i.ifindex] = &i;
  const IfaceInfo* wan = nullptr;
  if (auto it = by_index.find(wan_ifindex); it != by_index.end()) wan = it->second;
  std::vector<LanChoice> out;
  for (const auto& [idx, i] : by_index) out.push_back(judge(*i, by_index, wan));
  return out;
}

Result<std::vector<IfaceInfo>> list_interfaces() {
  // A link or address change during a dump makes the kernel flag it
  // (NLM_F_DUMP_INTR); the answer may then be inconsistent: ask again.
  Error last;
  for (uint32_t attempt = 0; attempt < 5; ++attempt) {
    auto r = list_once(0x1a90 + attempt * 2);
    if (r || r.error().err != EINTR) return r;
    last = r.error();
  }
  return last;
}

}  // namespace vpnpt
