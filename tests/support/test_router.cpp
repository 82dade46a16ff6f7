#include "test_router.h"

#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace vpnpt::test {
namespace {

void sh(const std::string& cmd) {
  if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) throw std::runtime_error("test router: failed: " + cmd);
}

std::string mac_text(const std::array<uint8_t, 6>& m) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

}  // namespace

TestRouter::TestRouter() {
  sh("ip link set lo up");
  // Fixed MACs: sysfs still shows the old namespace after unshare, so they cannot be read back there.
  lan_mac = {0x02, 0x1a, 0, 0, 0, 0x01};
  wan_mac = {0x02, 0x1b, 0, 0, 0, 0x01};
  sh("ip link add lan0 address " + mac_text(lan_mac) + " type veth peer name lanp");
  sh("ip link add wan0 address " + mac_text(wan_mac) + " type veth peer name wanp");
  sh("ip addr add 192.168.1.1/24 dev lan0");
  sh("ip addr add 203.0.113.1/24 dev wan0");
  for (const char* i : {"lan0", "lanp", "wan0", "wanp"}) sh(std::string("ip link set ") + i + " up");
  for (const auto& n : {kClient, kClient2})
    sh(std::string("ip neigh replace ") + n.ip + " lladdr " + mac_text(n.mac) + " dev lan0 nud permanent");
  sh(std::string("ip neigh replace ") + kServer.ip + " lladdr " + mac_text(kServer.mac) + " dev wan0 nud permanent");
  sh("sysctl -qw net.ipv4.ip_forward=1");
  lan_ifindex = if_nametoindex("lan0");
  wan_ifindex = if_nametoindex("wan0");
}

bool flush_conntrack() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return false;
  struct {
    nlmsghdr nh;
    nfgenmsg nf;
  } req{};
  req.nh.nlmsg_len = sizeof(req);
  req.nh.nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.nf.nfgen_family = AF_INET;
  req.nf.version = NFNETLINK_V0;
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  bool sent = ::sendto(fd, &req, sizeof(req), 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == sizeof(req);
  char buf[512];
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  (void)::recv(fd, buf, sizeof(buf), 0);  // the ack: the flush is done
  ::close(fd);
  return sent;
}

}  // namespace vpnpt::test
