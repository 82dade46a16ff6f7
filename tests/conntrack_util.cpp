#include "conntrack_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace vpnpt::test {
namespace {

// A netlink message with nested attributes, built front to back.
class Msg {
 public:
  explicit Msg(uint16_t type, uint16_t flags) {
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    put(&h, sizeof(h));
    nfgenmsg g{};
    g.nfgen_family = AF_INET;
    g.version = NFNETLINK_V0;
    put(&g, sizeof(g));
  }
  template <class T>
  void attr(uint16_t type, T v) {
    size_t at = open(type);
    put(&v, sizeof(v));
    close(at);
  }
  size_t open(uint16_t type) {  // a nested attribute (or any): close() fixes its length
    size_t at = buf_.size();
    nlattr a{};
    a.nla_type = type;
    put(&a, sizeof(a));
    return at;
  }
  void close(size_t at) {
    auto len = static_cast<uint16_t>(buf_.size() - at);
    std::memcpy(buf_.data() + at, &len, sizeof(len));
    buf_.resize(NLA_ALIGN(buf_.size()));
  }
  std::vector<char>& finish() {
    auto len = static_cast<uint32_t>(buf_.size());
    std::memcpy(buf_.data(), &len, sizeof(len));
    return buf_;
  }

 private:
  void put(const void* p, size_t n) {
    buf_.insert(buf_.end(), static_cast<const char*>(p), static_cast<const char*>(p) + n);
    buf_.resize(NLA_ALIGN(buf_.size()));
  }
  std::vector<char> buf_;
};

void tuple(Msg& m, uint16_t which, const TcpTuple& t) {
  size_t tup = m.open(which | NLA_F_NESTED);
  size_t ip = m.open(CTA_TUPLE_IP | NLA_F_NESTED);
  m.attr<uint32_t>(CTA_IP_V4_SRC, t.saddr);
  m.attr<uint32_t>(CTA_IP_V4_DST, t.daddr);
  m.close(ip);
  size_t proto = m.open(CTA_TUPLE_PROTO | NLA_F_NESTED);
  m.attr<uint8_t>(CTA_PROTO_NUM, IPPROTO_TCP);
  m.attr<uint16_t>(CTA_PROTO_SRC_PORT, htons(t.sport));
  m.attr<uint16_t>(CTA_PROTO_DST_PORT, htons(t.dport));
  m.close(proto);
  m.close(tup);
}

}  // namespace

PrivateNetns::PrivateNetns() {
  home_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home_ < 0 || ::unshare(CLONE_NEWNET) != 0) throw std::runtime_error("cannot create a network namespace");
}

PrivateNetns::~PrivateNetns() {
  if (home_ >= 0) {
    (void)::setns(home_, CLONE_NEWNET);  // the private one goes away with its last reference
    ::close(home_);
  }
}

int ct_add_tcp(const TcpTuple& orig, const TcpTuple& reply) {
  Msg m((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
  tuple(m, CTA_TUPLE_ORIG, orig);
  tuple(m, CTA_TUPLE_REPLY, reply);
  m.attr<uint32_t>(CTA_TIMEOUT, htonl(600));
  size_t info = m.open(CTA_PROTOINFO | NLA_F_NESTED);
  size_t tcp = m.open(CTA_PROTOINFO_TCP | NLA_F_NESTED);
  m.attr<uint8_t>(CTA_PROTOINFO_TCP_STATE, TCP_CONNTRACK_ESTABLISHED);
  m.close(tcp);
  m.close(info);
  auto& bytes = m.finish();

  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return -errno;
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  bool ok = ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) ==
            static_cast<ssize_t>(bytes.size());
  char buf[1024];
  ssize_t n = ok ? ::recv(fd, buf, sizeof(buf), 0) : -1;
  ::close(fd);
  if (n < static_cast<ssize_t>(sizeof(nlmsghdr) + sizeof(nlmsgerr))) return -EIO;
  auto* h = reinterpret_cast<nlmsghdr*>(buf);
  auto* e = reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h));
  return h->nlmsg_type == NLMSG_ERROR ? e->error : -EPROTO;
}

}  // namespace vpnpt::test
