// nf_tables over netlink (libmnl): one transaction batch, and one get or
// dump request. The messages themselves are built with libnftnl by the
// caller; this file only sends them and collects the kernel's answers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "loader/core/result.h"

struct mnl_socket;
struct nlmsghdr;

namespace vpnpt {

class NftNetlink {
 public:
  // Builds one message at @buf (the header with nftnl_*_nlmsg_build_hdr and
  // @seq, then the payload) and returns its header.
  using Build = std::function<nlmsghdr*(char* buf, uint32_t seq)>;

  static Result<NftNetlink> open();
  // A non-blocking socket that hears every nf_tables change in this network
  // namespace (multicast group NFNLGRP_NFTABLES), for drain().
  static Result<NftNetlink> open_monitor();
  int fd() const;
  // Hands every notification pending on a monitor socket to @on.
  void drain(const std::function<void(const nlmsghdr*)>& on);

  // Sends @msgs between NFNL_MSG_BATCH_BEGIN and END: the kernel applies all
  // of them or none. Returns 0, or the errno of the first message refused
  // (the whole batch is then undone).
  int transact(const std::vector<Build>& msgs);

  // Sends one request and hands every answer to @on until the kernel is
  // done. Returns 0 or the kernel's errno (ENOENT: no such object).
  int request(const Build& msg, const std::function<void(const nlmsghdr*)>& on);

 private:
  struct Close {
    void operator()(mnl_socket* s) const;
  };
  explicit NftNetlink(mnl_socket* s);
  int receive(uint32_t first_seq, uint32_t last_seq, size_t answers_expected,
              const std::function<void(const nlmsghdr*)>& on);
  std::unique_ptr<mnl_socket, Close> sock_;
  uint32_t port_ = 0;
  uint32_t seq_ = 0;
};

}  // namespace vpnpt
