// Transmits finished frames (L2TP tunnel requests the daemon rewrote) on an
// interface, bypassing the stack as XDP would. The frames come from a LAN
// (Ethernet); a device without a link-layer header (an L3 WAN such as ppp0)
// is sent the IP packet alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

#include "loader/core/fd.h"
#include "loader/core/result.h"

namespace vpnpt {

class FrameSender {
 public:
  static Result<FrameSender> open();
  // False (and one warning) if the frame could not be sent.
  bool send(uint32_t ifindex, const uint8_t* frame, size_t len);

 private:
  explicit FrameSender(Fd fd) : fd_(std::move(fd)) {}
  bool has_l2(uint32_t ifindex);
  Fd fd_;
  std::map<uint32_t, bool> l2_;  // per interface: has a link-layer header
};

}  // namespace vpnpt
