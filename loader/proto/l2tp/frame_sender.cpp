#include "loader/proto/l2tp/frame_sender.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "loader/dataplane/link_caps.h"
#include "loader/core/netif.h"

namespace vpnpt {

Result<FrameSender> FrameSender::open() {
  Fd fd(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));  // protocol 0: send only, receive nothing
  if (!fd.valid()) return make_error("cannot open a packet socket for L2TP tunnel requests", errno);
  return FrameSender(std::move(fd));
}

bool FrameSender::send(uint32_t ifindex, const uint8_t* frame, size_t len) {
  if (len < ETH_HLEN) return false;
  if (!has_l2(ifindex)) {
    frame += ETH_HLEN;
    len -= ETH_HLEN;
  }
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = static_cast<int>(ifindex);
  sll.sll_protocol = htons(ETH_P_IP);
  sll.sll_halen = ETH_ALEN;
  std::memcpy(sll.sll_addr, frame, ETH_ALEN);
  if (sendto(fd_.get(), frame, len, 0, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) < 0) {
    spdlog::warn("cannot send an L2TP tunnel request on {}: {}", ifname_of(ifindex), strerror(errno));
    return false;
  }
  return true;
}

bool FrameSender::has_l2(uint32_t ifindex) {
  auto it = l2_.find(ifindex);
  if (it != l2_.end()) return it->second;
  auto f = link_facts(ifindex);
  bool l2 = !f || f->has_l2;  // unknown: as before, Ethernet
  l2_[ifindex] = l2;
  return l2;
}

}  // namespace vpnpt
