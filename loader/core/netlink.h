// Netlink plumbing shared by the modules that ask the kernel about links
// and neighbours: building a request, one request-answer exchange, and
// reading attributes.
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loader/core/fd.h"
#include "loader/core/result.h"

namespace vpnpt {

// A netlink message under construction: header, fixed part, attributes.
class NlMsg {
 public:
  NlMsg(uint16_t type, uint16_t flags);
  void append(const void* data, size_t len);
  void attr(uint16_t type, const void* data, size_t len);
  template <class T>
  void attr(uint16_t type, T value) {
    attr(type, &value, sizeof(value));
  }
  // A nested attribute: the attributes added until end_nest(begin_nest(...)) are inside it.
  size_t begin_nest(uint16_t type);
  void end_nest(size_t at);
  // Finishes the header and returns the bytes to send.
  std::vector<char>& finish(uint32_t seq);

 private:
  std::vector<char> buf_;
};

// Attributes of one nesting level, by type (the nested flag masked off).
using Attrs = std::map<uint16_t, std::string_view>;
Attrs parse_attrs(std::string_view area);

template <class T>
std::optional<T> attr_as(const Attrs& attrs, uint16_t type) {
  auto it = attrs.find(type);
  if (it == attrs.end() || it->second.size() < sizeof(T)) return std::nullopt;
  T v;
  std::memcpy(&v, it->second.data(), sizeof(T));
  return v;
}

std::string attr_string(const Attrs& attrs, uint16_t type);

// A netlink socket whose reads time out after 2 s.
Result<Fd> open_netlink(int protocol);

// Sends one request and returns the payload (after nlmsghdr) of its answer;
// an acknowledgement (NLM_F_ACK) is an empty payload, an NLMSG_ERROR answer
// an Error carrying the kernel's errno.
Result<std::string> nl_transact(int fd, NlMsg& msg, const char* what);

// Sends a dump request (@msg with NLM_F_DUMP) as sequence @seq and hands
// every answer's type and payload (after nlmsghdr) to @on, until NLMSG_DONE.
// A dump the kernel says changed under it (NLM_F_DUMP_INTR) ends in an
// Error with EINTR: ask again. @what names the list in errors ("interfaces").
Status nl_dump(int fd, NlMsg& msg, uint32_t seq, const char* what,
               const std::function<void(uint16_t type, std::string_view payload)>& on);

}  // namespace vpnpt
