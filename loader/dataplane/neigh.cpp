#include "loader/dataplane/neigh.h"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>

#include "loader/core/netlink.h"

namespace vpnpt {

namespace {

// The kernel's NUD_VALID (not UAPI): states with a usable link-layer address.
constexpr uint16_t kNudValid = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;

// The entry's NUD state; nullopt if the kernel has none.
Result<std::optional<uint16_t>> neighbour_state(int fd, uint32_t ifindex, uint32_t addr) {
  NlMsg msg(RTM_GETNEIGH, NLM_F_REQUEST);
  ndmsg nd{};
  nd.ndm_family = AF_INET;
  nd.ndm_ifindex = static_cast<int>(ifindex);
  msg.append(&nd, sizeof(nd));
  msg.attr(NDA_DST, addr);
  auto r = nl_transact(fd, msg, "neighbour lookup");
  if (!r && r.error().err == ENOENT) return std::optional<uint16_t>();
  if (!r) return r.error();
  if (r->size() < sizeof(ndmsg)) return make_error("neighbour lookup: short answer");
  std::memcpy(&nd, r->data(), sizeof(nd));
  return std::optional<uint16_t>(nd.ndm_state);
}

}  // namespace

Status resolve_neighbour(uint32_t ifindex, uint32_t addr) {
  auto fd = open_netlink(NETLINK_ROUTE);
  if (!fd) return fd.error();
  // A valid entry is left alone: NTF_USE would reset even a permanent one to INCOMPLETE (seen on 6.18).
  auto state = neighbour_state(fd->get(), ifindex, addr);
  if (!state) return state.error();
  if (*state && (**state & kNudValid)) return {};
  NlMsg msg(RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE);
  ndmsg nd{};
  nd.ndm_family = AF_INET;
  nd.ndm_ifindex = static_cast<int>(ifindex);
  nd.ndm_state = NUD_NONE;
  nd.ndm_flags = NTF_USE;  // neigh_event_send(): start resolving now
  msg.append(&nd, sizeof(nd));
  msg.attr(NDA_DST, addr);
  auto r = nl_transact(fd->get(), msg, "neighbour resolution");
  if (!r) return r.error();
  return {};
}

}  // namespace vpnpt
