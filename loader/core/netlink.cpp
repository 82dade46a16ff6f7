#include "loader/core/netlink.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>

namespace vpnpt {

NlMsg::NlMsg(uint16_t type, uint16_t flags) {
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = flags;
  append(&h, sizeof(h));
}

void NlMsg::append(const void* data, size_t len) {
  const auto* p = static_cast<const char*>(data);
  buf_.insert(buf_.end(), p, p + len);
  buf_.resize(NLMSG_ALIGN(buf_.size()));
}

void NlMsg::attr(uint16_t type, const void* data, size_t len) {
  nlattr a{};
  a.nla_type = type;
  a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
  append(&a, NLA_HDRLEN);
  if (len) append(data, len);
}

size_t NlMsg::begin_nest(uint16_t type) {
  size_t at = buf_.size();
  attr(static_cast<uint16_t>(type | NLA_F_NESTED), nullptr, 0);
  return at;
}

void NlMsg::end_nest(size_t at) {
  auto len = static_cast<uint16_t>(buf_.size() - at);
  std::memcpy(buf_.data() + at, &len, sizeof(len));  // nla_len, the nest's first field
}

std::vector<char>& NlMsg::finish(uint32_t seq) {
  auto* h = reinterpret_cast<nlmsghdr*>(buf_.data());
  h->nlmsg_len = static_cast<uint32_t>(buf_.size());
  h->nlmsg_seq = seq;
  return buf_;
}

Attrs parse_attrs(std::string_view area) {
  Attrs out;
  while (area.size() >= NLA_HDRLEN) {
    nlattr a;
    std::memcpy(&a, area.data(), sizeof(a));
    if (a.nla_len < NLA_HDRLEN || a.nla_len > area.size()) break;
    out[a.nla_type & NLA_TYPE_MASK] = area.substr(NLA_HDRLEN, a.nla_len - NLA_HDRLEN);
    area.remove_prefix(std::min<size_t>(NLA_ALIGN(a.nla_len), area.size()));
  }
  return out;
}

std::string attr_string(const Attrs& attrs, uint16_t type) {
  auto it = attrs.find(type);
  if (it == attrs.end()) return "";
  std::string_view s = it->second;
  return std::string(s.substr(0, s.find('\0')));
}

Result<Fd> open_netlink(int protocol) {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol));
  if (!fd.valid()) return make_error("cannot open a netlink socket", errno);
  // A kernel that never answers must not hang the daemon.
  timeval tv{2, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

Result<std::string> nl_transact(int fd, NlMsg& msg, const char* what) {
  static std::atomic<uint32_t> seq_counter{0};
  uint32_t seq = ++seq_counter;
  auto& req = msg.finish(seq);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0)
    return make_error(std::string("netlink: cannot send ") + what, errno);
  std::vector<char> buf(64 * 1024);
  for (;;) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) return make_error(std::string("netlink: no answer to ") + what, errno);
    size_t len = static_cast<size_t>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;  // a stale answer to an earlier, timed-out request
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        if (e->error == 0) return std::string();  // the acknowledgement of a request that asked for one
        return make_error(std::string("netlink: ") + what + " failed", e->error);
      }
      return std::string(static_cast<const char*>(NLMSG_DATA(h)), h->nlmsg_len - NLMSG_HDRLEN);
    }
  }
}

Status nl_dump(int fd, NlMsg& msg, uint32_t seq, const char* what,
               const std::function<void(uint16_t type, std::string_view payload)>& on) {
  auto& req = msg.finish(seq);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0)
    return make_error(std::string("cannot ask the kernel for its ") + what + " (netlink)", errno);
  std::vector<char> buf(1 << 16);
  bool interrupted = false;
  for (;;) {
    iovec iov{buf.data(), buf.size()};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd, &m, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(std::string("cannot read the kernel's list of ") + what + " (netlink)", errno);
    if (m.msg_flags & MSG_TRUNC)
      return make_error(std::string("netlink answer larger than 64 KiB; cannot list ") + what);
    size_t left = static_cast<size_t>(n);
    const char* p = buf.data();
    while (left >= sizeof(nlmsghdr)) {
      nlmsghdr h;
      std::memcpy(&h, p, sizeof(h));
      if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > left) break;
      std::string_view body(p + NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN);
      size_t step = std::min<size_t>(NLMSG_ALIGN(h.nlmsg_len), left);
      p += step;
      left -= step;
      if (h.nlmsg_seq != seq) continue;
      if (h.nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
      if (h.nlmsg_type == NLMSG_DONE) {
        int err = 0;
        if (body.size() >= sizeof(err)) std::memcpy(&err, body.data(), sizeof(err));
        if (err < 0) return make_error(std::string("the kernel's dump of its ") + what + " failed (netlink)", -err);
        if (interrupted) return make_error(std::string(what) + " changed while listing them", EINTR);
        return {};
      }
      if (h.nlmsg_type == NLMSG_ERROR) {
        nlmsgerr e{};
        if (body.size() >= sizeof(e)) std::memcpy(&e, body.data(), sizeof(e));
        if (e.error == 0) continue;  // an ack
        return make_error(std::string("the kernel refused to list its ") + what + " (netlink)", -e.error);
      }
      on(h.nlmsg_type, body);
    }
  }
}

}  // namespace vpnpt
