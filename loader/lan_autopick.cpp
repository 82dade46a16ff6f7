#include "loader/lan_autopick.h"

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

#include "loader/fd.h"
#include "loader/netif.h"

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

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
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
  c.why = i.name + ": picked: " + (i.kind.empty() ? std::string("interface") : i.kind) + " with " +
          join(labelled, ", ");
  if (!pub.empty()) c.why += "; also has " + prefixes(pub);  // e.g. a routed public block
  return c;
}

// ---------------------------------------------------------------- rtnetlink

// Attributes of one message: type -> (pointer, length) of the payload.
using Attrs = std::map<uint16_t, std::pair<const char*, size_t>>;

Attrs parse_attrs(const char* p, size_t len) {
  Attrs out;
  while (len >= sizeof(rtattr)) {
    rtattr a;
    std::memcpy(&a, p, sizeof(a));
    if (a.rta_len < sizeof(rtattr) || a.rta_len > len) break;
    out[static_cast<uint16_t>(a.rta_type & NLA_TYPE_MASK)] = {p + RTA_LENGTH(0), a.rta_len - RTA_LENGTH(0)};
    size_t step = RTA_ALIGN(a.rta_len);
    if (step >= len) break;
    p += step;
    len -= step;
  }
  return out;
}

template <class T>
bool attr_value(const Attrs& attrs, uint16_t type, T& out) {
  auto it = attrs.find(type);
  if (it == attrs.end() || it->second.second < sizeof(T)) return false;
  std::memcpy(&out, it->second.first, sizeof(T));
  return true;
}

std::string attr_string(const Attrs& attrs, uint16_t type) {
  auto it = attrs.find(type);
  if (it == attrs.end()) return {};
  return std::string(it->second.first, strnlen(it->second.first, it->second.second));
}

// Sends a dump request of @type for @family (body: @hdr_len bytes, the
// family first, the rest zero) and hands every answer's body to @on(type, body, len). Returns
// EINTR (retry) when the kernel says the dump was interrupted by a change.
template <class F>
Status dump(int fd, uint16_t type, uint8_t family, size_t hdr_len, uint32_t seq, F&& on) {
  alignas(nlmsghdr) char req[NLMSG_SPACE(sizeof(ifinfomsg))] = {};
  nlmsghdr nh{};
  nh.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(hdr_len));
  nh.nlmsg_type = type;
  nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nh.nlmsg_seq = seq;
  std::memcpy(req, &nh, sizeof(nh));
  std::memcpy(req + NLMSG_HDRLEN, &family, 1);  // ifinfomsg and ifaddrmsg both start with the family
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, req, nh.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0)
    return make_error("cannot ask the kernel for its interfaces (rtnetlink)", errno);

  std::vector<char> buf(1 << 16);
  bool interrupted = false;
  for (;;) {
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd, &msg, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error("cannot read the kernel's interface list (rtnetlink)", errno);
    if (msg.msg_flags & MSG_TRUNC) return make_error("rtnetlink answer larger than 64 KiB; cannot list interfaces");
    size_t left = static_cast<size_t>(n);
    const char* p = buf.data();
    while (left >= sizeof(nlmsghdr)) {
      nlmsghdr h;
      std::memcpy(&h, p, sizeof(h));
      if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > left) break;
      const char* body = p + NLMSG_HDRLEN;
      size_t body_len = h.nlmsg_len - NLMSG_HDRLEN;
      size_t step = std::min<size_t>(NLMSG_ALIGN(h.nlmsg_len), left);
      p += step;
      left -= step;
      if (h.nlmsg_seq != seq) continue;
      if (h.nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
      if (h.nlmsg_type == NLMSG_DONE) {
        int err = 0;
        if (body_len >= sizeof(err)) std::memcpy(&err, body, sizeof(err));
        if (err < 0) return make_error("the kernel's interface dump failed (rtnetlink)", -err);
        if (interrupted) return make_error("interfaces changed while listing them", EINTR);
        return {};
      }
      if (h.nlmsg_type == NLMSG_ERROR) {
        nlmsgerr e{};
        if (body_len >= sizeof(e)) std::memcpy(&e, body, sizeof(e));
        if (e.error == 0) continue;  // an ack
        return make_error("the kernel refused to list interfaces (rtnetlink)", -e.error);
      }
      on(h.nlmsg_type, body, body_len);
    }
  }
}

Result<std::vector<IfaceInfo>> list_once(uint32_t seq) {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd.valid()) return make_error("cannot open an rtnetlink socket to list interfaces", errno);
  timeval tv{2, 0};  // the kernel answers at once; never hang the attach on it
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

  std::map<uint32_t, IfaceInfo> by_index;
  auto on_link = [&](uint16_t type, const char* body, size_t len) {
    if (type != RTM_NEWLINK || len < sizeof(ifinfomsg)) return;
    ifinfomsg ifi;
    std::memcpy(&ifi, body, sizeof(ifi));
    if (ifi.ifi_index <= 0) return;
    Attrs attrs = parse_attrs(body + NLMSG_ALIGN(sizeof(ifi)), len - std::min(len, size_t{NLMSG_ALIGN(sizeof(ifi))}));
    IfaceInfo i;
    i.ifindex = static_cast<uint32_t>(ifi.ifi_index);
    i.name = attr_string(attrs, IFLA_IFNAME);
    i.up = ifi.ifi_flags & IFF_UP;
    i.loopback = ifi.ifi_flags & IFF_LOOPBACK;
    i.ethernet = ifi.ifi_type == ARPHRD_ETHER;
    (void)attr_value(attrs, IFLA_MASTER, i.master);
    if (auto li = attrs.find(IFLA_LINKINFO); li != attrs.end()) {
      Attrs info = parse_attrs(li->second.first, li->second.second);
      i.kind = attr_string(info, IFLA_INFO_KIND);
    }
    if (i.name.empty()) i.name = "if" + std::to_string(i.ifindex);
    by_index[i.ifindex] = std::move(i);
  };
  VPNPT_TRY(dump(fd.get(), RTM_GETLINK, AF_UNSPEC, sizeof(ifinfomsg), seq, on_link));

  auto on_addr = [&](uint16_t type, const char* body, size_t len) {
    if (type != RTM_NEWADDR || len < sizeof(ifaddrmsg)) return;
    ifaddrmsg ifa;
    std::memcpy(&ifa, body, sizeof(ifa));
    if (ifa.ifa_family != AF_INET) return;
    auto it = by_index.find(ifa.ifa_index);
    if (it == by_index.end()) return;
    Attrs attrs = parse_attrs(body + NLMSG_ALIGN(sizeof(ifa)), len - std::min(len, size_t{NLMSG_ALIGN(sizeof(ifa))}));
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on a point-to-point link.
    Ipv4Prefix p;
    p.len = ifa.ifa_prefixlen;
    if (!attr_value(attrs, IFA_LOCAL, p.addr) && !attr_value(attrs, IFA_ADDRESS, p.addr)) return;
    it->second.addrs.push_back(p);
  };
  VPNPT_TRY(dump(fd.get(), RTM_GETADDR, AF_INET, sizeof(ifaddrmsg), seq + 1, on_addr));

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
