#include "conntrack_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "loader/core/netlink.h"

namespace vpnpt::test {
namespace {

void tuple(NlMsg& m, uint16_t which, const TcpTuple& t) {
  size_t tup = m.begin_nest(which);
  size_t ip = m.begin_nest(CTA_TUPLE_IP);
  m.attr<uint32_t>(CTA_IP_V4_SRC, t.saddr);
  m.attr<uint32_t>(CTA_IP_V4_DST, t.daddr);
  m.end_nest(ip);
  size_t proto = m.begin_nest(CTA_TUPLE_PROTO);
  m.attr<uint8_t>(CTA_PROTO_NUM, IPPROTO_TCP);
  m.attr<uint16_t>(CTA_PROTO_SRC_PORT, htons(t.sport));
  m.attr<uint16_t>(CTA_PROTO_DST_PORT, htons(t.dport));
  m.end_nest(proto);
  m.end_nest(tup);
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
  NlMsg m((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
  nfgenmsg g{};
  g.nfgen_family = AF_INET;
  g.version = NFNETLINK_V0;
  m.append(&g, sizeof(g));
  tuple(m, CTA_TUPLE_ORIG, orig);
  tuple(m, CTA_TUPLE_REPLY, reply);
  m.attr<uint32_t>(CTA_TIMEOUT, htonl(600));
  size_t info = m.begin_nest(CTA_PROTOINFO);
  size_t tcp = m.begin_nest(CTA_PROTOINFO_TCP);
  m.attr<uint8_t>(CTA_PROTOINFO_TCP_STATE, TCP_CONNTRACK_ESTABLISHED);
  m.end_nest(tcp);
  m.end_nest(info);

  auto fd = open_netlink(NETLINK_NETFILTER);
  auto r = fd ? nl_transact(fd->get(), m, "IPCTNL_MSG_CT_NEW") : Result<std::string>(fd.error());
  if (r) return 0;
  return r.error().err ? -r.error().err : -EIO;
}

}  // namespace vpnpt::test
