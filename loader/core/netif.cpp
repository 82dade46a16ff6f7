#include "loader/core/netif.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstring>

namespace vpnpt {

Result<uint32_t> ifindex_of(const std::string& name) {
  if (name.empty() || name.size() >= IF_NAMESIZE) return make_error("invalid interface name '" + name + "'");
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0)
    return make_error("unknown interface '" + name + "' in this network namespace; `ip link` lists the names");
  return static_cast<uint32_t>(idx);
}

std::string ifname_of(uint32_t ifindex) {
  char buf[IF_NAMESIZE] = {};
  if (if_indextoname(ifindex, buf)) return buf;
  return "if" + std::to_string(ifindex);
}

Result<uint32_t> primary_ipv4(const std::string& ifname) {
  struct ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return make_error("cannot list interface addresses", errno);
  // getifaddrs lists addresses in kernel order: the primary one comes first.
  uint32_t found = 0;
  for (auto* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
    if (ifname != a->ifa_name) continue;
    found = reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr;
    break;
  }
  freeifaddrs(list);
  if (!found)
    return make_error("WAN interface '" + ifname + "' has no IPv4 address; add one or give --public-ip A.B.C.D");
  return found;
}

Result<uint32_t> parse_ipv4(const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1)
    return make_error("'" + text + "' is not an IPv4 address (expected A.B.C.D)");
  return static_cast<uint32_t>(a.s_addr);
}

std::string format_ipv4(uint32_t be_addr) {
  char buf[INET_ADDRSTRLEN] = {};
  in_addr a{};
  a.s_addr = be_addr;
  inet_ntop(AF_INET, &a, buf, sizeof(buf));
  return buf;
}

}  // namespace vpnpt
