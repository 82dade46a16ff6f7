#include "loader/dataplane/nft_netlink.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <ctime>

extern "C" {
#include <libnftnl/common.h>
}

namespace vpnpt {

void NftNetlink::Close::operator()(mnl_socket* s) const { mnl_socket_close(s); }

NftNetlink::NftNetlink(mnl_socket* s)
    : sock_(s), port_(mnl_socket_get_portid(s)), seq_(static_cast<uint32_t>(time(nullptr))) {}

Result<NftNetlink> NftNetlink::open() {
  mnl_socket* s = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
  if (!s) return make_error("cannot open a netfilter netlink socket", errno);
  NftNetlink nl(s);
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) return make_error("cannot bind a netfilter netlink socket", errno);
  nl.port_ = mnl_socket_get_portid(s);
  // A kernel that never answers must not hang the daemon's loop.
  timeval tv{2, 0};
  setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return nl;
}

Result<NftNetlink> NftNetlink::open_monitor() {
  mnl_socket* s = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (!s) return make_error("cannot open a netfilter netlink socket", errno);
  NftNetlink nl(s);
  if (mnl_socket_bind(s, 1u << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0)
    return make_error("cannot listen to nf_tables notifications", errno);
  return nl;
}

int NftNetlink::fd() const { return mnl_socket_get_fd(sock_.get()); }

void NftNetlink::drain(const std::function<void(const nlmsghdr*)>& on) {
  std::vector<char> buf(32768);
  for (;;) {
    // ENOBUFS (notifications lost to a full socket) is reported like a change: the caller checks anyway.
    ssize_t n = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
    if (n < 0 && errno == ENOBUFS) {
      on(nullptr);
      continue;
    }
    if (n <= 0) return;
    int left = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, left);
         nlh = mnl_nlmsg_next(nlh, &left))
      on(nlh);
  }
}

int NftNetlink::transact(const std::vector<Build>& msgs) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  mnl_nlmsg_batch* b = mnl_nlmsg_batch_start(buf.data(), buf.size());
  uint32_t first = seq_;
  nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(b)), seq_++);
  mnl_nlmsg_batch_next(b);
  for (const auto& m : msgs) {
    nlmsghdr* nlh = m(static_cast<char*>(mnl_nlmsg_batch_current(b)), seq_++);
    nlh->nlmsg_flags |= NLM_F_ACK;  // one answer per message: errors name the message refused
    mnl_nlmsg_batch_next(b);
  }
  nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(b)), seq_++);
  mnl_nlmsg_batch_next(b);
  size_t len = mnl_nlmsg_batch_size(b);
  mnl_nlmsg_batch_stop(b);
  if (mnl_socket_sendto(sock_.get(), buf.data(), len) < 0) return errno;
  return receive(first, seq_ - 1, msgs.size(), nullptr);
}

int NftNetlink::request(const Build& msg, const std::function<void(const nlmsghdr*)>& on) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  uint32_t seq = seq_++;
  nlmsghdr* nlh = msg(buf.data(), seq);
  if (mnl_socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) < 0) return errno;
  // A dump ends in NLMSG_DONE; a single get in its one answer.
  return receive(seq, seq, (nlh->nlmsg_flags & NLM_F_DUMP) ? 0 : 1, on);
}

// Reads answers to the messages numbered @first_seq..@last_seq until the
// exchange is over: @acks_expected acknowledgements (a batch), NLMSG_DONE
// (a dump, @acks_expected 0), the one answer to a get (@acks_expected 1,
// one sequence number), or a refused batch start; or the socket's timeout.
int NftNetlink::receive(uint32_t first_seq, uint32_t last_seq, size_t acks_expected,
                        const std::function<void(const nlmsghdr*)>& on) {
  std::vector<char> buf(32768);  // MNL_SOCKET_DUMP_SIZE (libmnl >= 1.0.5): dumps come in pages of up to 32 KiB
  bool single_get = acks_expected == 1 && first_seq == last_seq;
  size_t acks = 0;
  int first_err = 0;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
    int left = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, left);
         nlh = mnl_nlmsg_next(nlh, &left)) {
      if (nlh->nlmsg_seq < first_seq || nlh->nlmsg_seq > last_seq) continue;  // a late answer to an earlier call
      if (nlh->nlmsg_type == NLMSG_DONE) return first_err;
      if (nlh->nlmsg_type != NLMSG_ERROR) {
        if (on) on(nlh);
        if (single_get) return 0;
        continue;
      }
      int err = -static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
      if (err && !first_err) first_err = err;
      // A dump or get that failed; or a batch whose start was refused (no nf_tables).
      if (acks_expected <= 1 && err) return first_err;
      if (err && nlh->nlmsg_seq == first_seq) return first_err;
      if (++acks >= acks_expected) return first_err;
    }
  }
}

}  // namespace vpnpt
