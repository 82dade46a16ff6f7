#include "loader/dataplane/link_caps.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/genetlink.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <iterator>
#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "loader/core/fd.h"
#include "loader/core/netlink.h"

namespace vpnpt {
namespace {

// <linux/netdev.h> (kernel >= 6.3) is not in Debian 12's 6.1 headers; these
// values are UAPI and fixed.
constexpr const char* kNetdevFamily = "netdev";
constexpr uint8_t kNetdevCmdDevGet = 1;
constexpr uint16_t kNetdevADevIfindex = 1;
constexpr uint16_t kNetdevADevXdpFeatures = 3;

// ---- rtnetlink: the link itself ----------------------------------------

struct RtLink {
  uint32_t ifindex = 0;
  uint16_t arphrd = 0;
  uint32_t flags = 0;
  std::string name;
  std::string kind;
  std::string slave_kind;  // kind of the master, as seen by the port
  uint32_t master = 0;
  uint32_t link = 0;  // IFLA_LINK: a veth's peer ifindex
  std::optional<int32_t> link_netnsid;
  bool xdp_attached = false;
};

bool is_up(uint32_t flags) { return (flags & IFF_UP) && (flags & IFF_LOWER_UP); }

// IFLA_LINKINFO: the kind of the device and, for a port, of its master.
void read_linkinfo(const Attrs& top, RtLink& out) {
  auto it = top.find(IFLA_LINKINFO);
  if (it == top.end()) return;  // physical devices have no rtnl_link_ops
  Attrs info = parse_attrs(it->second);
  out.kind = attr_string(info, IFLA_INFO_KIND);
  out.slave_kind = attr_string(info, IFLA_INFO_SLAVE_KIND);
}

bool read_xdp_attached(const Attrs& top) {
  auto it = top.find(IFLA_XDP);
  if (it == top.end()) return false;
  auto mode = attr_as<uint8_t>(parse_attrs(it->second), IFLA_XDP_ATTACHED);
  return mode && *mode != XDP_ATTACHED_NONE;
}

RtLink parse_link(std::string_view payload) {
  RtLink out;
  ifinfomsg ifi{};
  std::memcpy(&ifi, payload.data(), std::min(payload.size(), sizeof(ifi)));
  out.ifindex = static_cast<uint32_t>(ifi.ifi_index);
  out.arphrd = ifi.ifi_type;
  out.flags = ifi.ifi_flags;
  if (payload.size() < NLMSG_ALIGN(sizeof(ifi))) return out;
  Attrs top = parse_attrs(payload.substr(NLMSG_ALIGN(sizeof(ifi))));
  out.name = attr_string(top, IFLA_IFNAME);
  out.master = attr_as<uint32_t>(top, IFLA_MASTER).value_or(0);
  out.link = attr_as<uint32_t>(top, IFLA_LINK).value_or(0);
  out.link_netnsid = attr_as<int32_t>(top, IFLA_LINK_NETNSID);
  out.xdp_attached = read_xdp_attached(top);
  read_linkinfo(top, out);
  return out;
}

// RTM_GETLINK for one ifindex; with target_nsid, in the namespace this one
// numbers so (how a veth peer in another namespace is read without entering it).
Result<RtLink> get_link(int rtnl, uint32_t ifindex, std::optional<int32_t> target_nsid) {
  NlMsg msg(RTM_GETLINK, NLM_F_REQUEST);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = static_cast<int>(ifindex);
  msg.append(&ifi, sizeof(ifi));
  if (target_nsid) msg.attr<int32_t>(IFLA_TARGET_NETNSID, *target_nsid);
  auto payload = nl_transact(rtnl, msg, "RTM_GETLINK");
  if (!payload) {
    if (payload.error().err == ENODEV)
      return make_error("no interface with ifindex " + std::to_string(ifindex) + " in this network namespace", ENODEV);
    return payload.error();
  }
  if (payload->size() < sizeof(ifinfomsg)) return make_error("netlink: short RTM_NEWLINK answer", EPROTO);
  return parse_link(*payload);
}

// ---- generic netlink: xdp_features --------------------------------------

// The id of a generic netlink family; nullopt when the kernel lacks it.
Result<std::optional<uint16_t>> genl_family_id(int genl, const char* family) {
  NlMsg msg(GENL_ID_CTRL, NLM_F_REQUEST);
  genlmsghdr g{};
  g.cmd = CTRL_CMD_GETFAMILY;
  g.version = 1;
  msg.append(&g, sizeof(g));
  msg.attr(CTRL_ATTR_FAMILY_NAME, family, std::strlen(family) + 1);
  auto payload = nl_transact(genl, msg, "CTRL_CMD_GETFAMILY");
  if (!payload) {
    if (payload.error().err == ENOENT) return std::optional<uint16_t>{};
    return payload.error();
  }
  auto id = attr_as<uint16_t>(parse_attrs(std::string_view(*payload).substr(GENL_HDRLEN)), CTRL_ATTR_FAMILY_ID);
  if (!id) return make_error(std::string("genetlink: no id for family ") + family, EPROTO);
  return std::optional<uint16_t>(*id);
}

// NETDEV_A_DEV_XDP_FEATURES of ifindex; nullopt on kernels before 6.3,
// which have no "netdev" family.
// A generic-netlink socket and the "netdev" family's id on it (Linux 6.3);
// nullopt on older kernels.
struct NetdevFamily {
  Fd genl;
  uint16_t id;
};
Result<std::optional<NetdevFamily>> open_netdev_family() {
  auto genl = open_netlink(NETLINK_GENERIC);
  if (!genl) return genl.error();
  auto family = genl_family_id(genl->get(), kNetdevFamily);
  if (!family) return family.error();
  if (!*family) return std::optional<NetdevFamily>{};
  return std::optional<NetdevFamily>(NetdevFamily{std::move(*genl), **family});
}

Result<std::optional<uint64_t>> xdp_features_of(uint32_t ifindex) {
  auto netdev = open_netdev_family();
  if (!netdev) return netdev.error();
  if (!*netdev) return std::optional<uint64_t>{};
  NlMsg msg((*netdev)->id, NLM_F_REQUEST);
  genlmsghdr g{};
  g.cmd = kNetdevCmdDevGet;
  g.version = 1;
  msg.append(&g, sizeof(g));
  msg.attr<uint32_t>(kNetdevADevIfindex, ifindex);
  auto payload = nl_transact((*netdev)->genl.get(), msg, "NETDEV_CMD_DEV_GET");
  if (!payload) return payload.error();
  return attr_as<uint64_t>(parse_attrs(std::string_view(*payload).substr(GENL_HDRLEN)), kNetdevADevXdpFeatures);
}

// ---- ethtool ------------------------------------------------------------

int ethtool(int sock, const std::string& ifname, void* cmd) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = static_cast<char*>(cmd);
  return ::ioctl(sock, SIOCETHTOOL, &ifr);
}

std::string driver_of(int sock, const std::string& ifname) {
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  if (ethtool(sock, ifname, &info) != 0) return "";  // e.g. lo: no driver to name
  return std::string(info.driver, strnlen(info.driver, sizeof(info.driver)));
}

// Position of a feature name ("rx-gro") in the device's ETH_SS_FEATURES strings.
std::optional<uint32_t> feature_index(int sock, const std::string& ifname, std::string_view feature) {
  // Flexible-array ethtool structs live in uint64_t storage for alignment.
  std::array<uint64_t, 4> sset{};
  auto* info = reinterpret_cast<ethtool_sset_info*>(sset.data());
  info->cmd = ETHTOOL_GSSET_INFO;
  info->sset_mask = 1ull << ETH_SS_FEATURES;
  if (ethtool(sock, ifname, info) != 0 || !(info->sset_mask & (1ull << ETH_SS_FEATURES))) return std::nullopt;
  uint32_t count = info->data[0];
  std::vector<uint64_t> buf((sizeof(ethtool_gstrings) + size_t{count} * ETH_GSTRING_LEN) / 8 + 1);
  auto* strings = reinterpret_cast<ethtool_gstrings*>(buf.data());
  strings->cmd = ETHTOOL_GSTRINGS;
  strings->string_set = ETH_SS_FEATURES;
  strings->len = count;
  if (ethtool(sock, ifname, strings) != 0) return std::nullopt;
  for (uint32_t i = 0; i < strings->len; ++i) {
    const char* s = reinterpret_cast<const char*>(strings->data) + size_t{i} * ETH_GSTRING_LEN;
    if (std::string_view(s, strnlen(s, ETH_GSTRING_LEN)) == feature) return i;
  }
  return std::nullopt;
}

// The "requested" bit of a feature: veth tests the wanted features
// (veth_gro_requested), not the active ones.
std::optional<bool> feature_requested(int sock, const std::string& ifname, uint32_t index) {
  uint32_t blocks = index / 32 + 1;
  std::vector<uint64_t> buf((sizeof(ethtool_gfeatures) + blocks * sizeof(ethtool_get_features_block)) / 8 + 1);
  auto* gf = reinterpret_cast<ethtool_gfeatures*>(buf.data());
  gf->cmd = ETHTOOL_GFEATURES;
  gf->size = blocks;
  if (ethtool(sock, ifname, gf) != 0) return std::nullopt;
  return (gf->features[index / 32].requested >> (index % 32)) & 1u;
}

// GRO of a device: ETHTOOL_GFEATURES "rx-gro", else the legacy ETHTOOL_GGRO.
std::optional<bool> gro_of(int sock, const std::string& ifname) {
  if (auto idx = feature_index(sock, ifname, "rx-gro"))
    if (auto on = feature_requested(sock, ifname, *idx)) return on;
  ethtool_value v{};
  v.cmd = ETHTOOL_GGRO;
  if (ethtool(sock, ifname, &v) != 0) return std::nullopt;
  return v.data != 0;
}

// TX checksum offload of a device: ETHTOOL_GTXCSUM, true when any of the
// device's active features can leave a checksum to the hardware (for a veth
// NETIF_F_HW_CSUM, "tx-checksum-ip-generic"; `ethtool -K DEV tx off` clears it).
std::optional<bool> tx_csum_of(int sock, const std::string& ifname) {
  ethtool_value v{};
  v.cmd = ETHTOOL_GTXCSUM;
  if (ethtool(sock, ifname, &v) != 0) return std::nullopt;
  return v.data != 0;
}

Fd inet_socket() { return Fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); }

// ---- the namespace of a veth peer -----------------------------------------

// Every network namespace we can name: those `ip netns` pins and every
// process's. A netns id cannot be opened directly; it can only be matched.
std::vector<std::string> netns_candidates() {
  std::vector<std::string> out;
  for (const char* dir : {"/run/netns", "/proc"}) {
    DIR* d = ::opendir(dir);
    if (!d) continue;
    bool proc = std::string_view(dir) == "/proc";
    while (dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      if (proc && n.find_first_not_of("0123456789") != std::string_view::npos) continue;
      out.push_back(std::string(dir) + "/" + e->d_name + (proc ? "/ns/net" : ""));
    }
    ::closedir(d);
  }
  return out;
}

// The id this namespace gives the namespace behind ns_fd (RTM_GETNSID), or -1.
int32_t nsid_of(int rtnl, int ns_fd) {
  NlMsg msg(RTM_GETNSID, NLM_F_REQUEST);
  rtgenmsg g{};
  g.rtgen_family = AF_UNSPEC;
  msg.append(&g, sizeof(g));
  msg.attr<uint32_t>(NETNSA_FD, static_cast<uint32_t>(ns_fd));
  auto payload = nl_transact(rtnl, msg, "RTM_GETNSID");
  if (!payload || payload->size() < NLMSG_ALIGN(sizeof(rtgenmsg))) return -1;
  return attr_as<int32_t>(parse_attrs(std::string_view(*payload).substr(NLMSG_ALIGN(sizeof(rtgenmsg)))), NETNSA_NSID)
      .value_or(-1);
}

// Opens the namespace this one numbers nsid, or an invalid Fd.
Fd netns_by_id(int rtnl, int32_t nsid) {
  std::set<std::pair<dev_t, ino_t>> seen;
  for (const auto& path : netns_candidates()) {
    Fd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!ns.valid() || ::fstat(ns.get(), &st) != 0) continue;
    if (!seen.insert({st.st_dev, st.st_ino}).second) continue;  // many processes share a namespace
    if (nsid_of(rtnl, ns.get()) == nsid) return ns;
  }
  return Fd();
}

// A socket in another namespace, for ethtool there: setns affects only the
// calling thread, so a short-lived thread enters the namespace and opens it.
// Under the systemd unit (tools/vpnpt.service.in: RestrictNamespaces=yes) setns fails: the peer's
// GRO then stays unknown, which the rules treat as "no".
Fd inet_socket_in(int ns_fd) {
  Fd out;
  std::thread t([&] {
    if (::setns(ns_fd, CLONE_NEWNET) == 0) out = inet_socket();
  });
  t.join();
  return out;
}

// ---- assembling the facts ----------------------------------------------

// What the far end of a veth looks like; missing pieces stay nullopt.
VethPeer veth_peer(int rtnl, int sock, const RtLink& self) {
  VethPeer p;
  p.ifindex = self.link;
  p.netnsid = self.link_netnsid;
  auto link = get_link(rtnl, self.link, self.link_netnsid);
  if (!link) return p;  // e.g. no rights in the peer's namespace: unknown
  p.name = link->name;
  p.up = is_up(link->flags);
  p.xdp_attached = link->xdp_attached;
  if (!self.link_netnsid) {
    p.gro = gro_of(sock, p.name);
    p.tx_csum = tx_csum_of(sock, p.name);
    return p;
  }
  Fd ns = netns_by_id(rtnl, *self.link_netnsid);
  if (!ns.valid()) return p;
  Fd there = inet_socket_in(ns.get());
  if (there.valid()) {
    p.gro = gro_of(there.get(), p.name);
    p.tx_csum = tx_csum_of(there.get(), p.name);
  }
  return p;
}

}  // namespace

Result<LinkFacts> link_facts(uint32_t ifindex) {
  auto rtnl = open_netlink(NETLINK_ROUTE);
  if (!rtnl) return rtnl.error();
  auto link = get_link(rtnl->get(), ifindex, std::nullopt);
  if (!link) return link.error();
  Fd sock = inet_socket();
  if (!sock.valid()) return make_error("cannot open a socket for ethtool", errno);
  auto features = xdp_features_of(ifindex);
  if (!features) return features.error();

  LinkFacts f;
  f.ifindex = ifindex;
  f.name = link->name;
  f.arphrd_type = link->arphrd;
  f.has_l2 = link->arphrd == ARPHRD_ETHER;
  f.kind = link->kind;
  f.driver = driver_of(sock.get(), link->name);
  f.up = is_up(link->flags);
  f.master_ifindex = link->master;
  // The port's own linkinfo names its master's kind: no second look-up.
  f.is_bridge_port = link->master != 0 && link->slave_kind == "bridge";
  f.xdp_attached = link->xdp_attached;
  f.xdp_features = *features;
  if (f.kind == "veth" && link->link != 0) f.peer = veth_peer(rtnl->get(), sock.get(), *link);
  return f;
}

// ---- the redirect-target rule ----------------------------------------------

namespace {

std::string peer_label(const VethPeer& p) { return p.name.empty() ? "if" + std::to_string(p.ifindex) : p.name; }

// veth_xdp_xmit puts frames on the peer's receive ring only while the peer's
// NAPI runs, i.e. the peer is up and has GRO requested or an XDP program
// (6.1 drivers/net/veth.c: veth_open, "if (!rcu_access_pointer(rq->napi))").
XdpTarget veth_peer_rule(const VethPeer& p, bool need_gro_or_xdp) {
  std::string label = "veth peer " + peer_label(p);
  if (!p.up) return {false, label + " state unknown"};
  if (!*p.up) return {false, label + " is down"};
  if (!need_gro_or_xdp) return {true, "xdp_features: NDO_XMIT, " + label + " up"};
  if (p.xdp_attached.value_or(false)) return {true, label + " has an XDP program"};
  if (p.gro.value_or(false)) return {true, label + " has GRO"};
  if (!p.gro || !p.xdp_attached) return {false, label + ": GRO/XDP unknown"};
  return {false, label + " has neither GRO nor XDP"};
}

// Kernel >= 6.3: the driver says whether it implements ndo_xdp_xmit, and
// veth clears the bit unless its peer has GRO or XDP. What the bit does not
// cover: a veth peer that is down, a tap without a reader (no carrier).
XdpTarget rule_from_xdp_features(const LinkFacts& f) {
  if (!(*f.xdp_features & kXdpActNdoXmit)) {
    if (f.kind == "veth" && f.peer && f.peer->gro == false && f.peer->xdp_attached == false)
      return {false, "veth peer " + peer_label(*f.peer) + " has neither GRO nor XDP"};
    return {false, (f.kind.empty() ? f.driver : f.kind) + ": xdp_features lacks NDO_XMIT"};
  }
  if (f.kind == "veth") {
    if (!f.peer) return {false, "veth without a peer"};
    return veth_peer_rule(*f.peer, false);
  }
  if (f.kind == "tun" && !f.up) return {false, "tap without a reader (no carrier)"};
  return {true, "xdp_features: NDO_XMIT"};
}

// Drivers whose net_device_ops set .ndo_xdp_xmit in Linux 6.1 (checked in
// Debian's linux-source-6.1 6.1.192, grep '\.ndo_xdp_xmit' drivers/net), by
// the name ETHTOOL_GDRVINFO reports. Left out: "sfc" (its EF100 ops lack it
// under the same name), VF drivers (ixgbevf, iavf, mlx5 representors: none),
// mlx4_en and nfp (XDP_TX only), bonding/tun/veth (virtual, by kind).
constexpr std::string_view kNdoXdpXmitDrivers61[] = {
    "atlantic",  "bnxt_en",     "cpsw",     "cpsw-switch", "ena",        "fsl_dpa", "fsl_dpaa2_eth", "fsl_enetc",
    "funeth",    "hv_netvsc",   "i40e",     "ice",         "igb",        "igc",     "ixgbe",         "mana",
    "mlx5_core", "mtk_soc_eth", "mvneta",   "mvpp2",       "netsec",     "qede",    "rvu-nicpf",     "sfc_siena",
    "st_gmac",   "st_mac100",   "st_xgmac", "vif",         "virtio_net",
};

// Kernel < 6.3: no xdp_features, so a conservative rule: yes only where
// ndo_xdp_xmit is known to exist and to work.
XdpTarget rule_pre_6_3(const LinkFacts& f) {
  if (f.arphrd_type == ARPHRD_LOOPBACK) return {false, "loopback: no XDP transmit"};
  if (!f.has_l2) return {false, "no Ethernet header (ARPHRD " + std::to_string(f.arphrd_type) + ")"};
  if (f.kind == "veth") {
    if (!f.peer) return {false, "veth without a peer"};
    return veth_peer_rule(*f.peer, true);
  }
  // tap has ndo_xdp_xmit, but frames only leave while a reader is attached.
  if (f.kind == "tun") return {false, "tun/tap: no XDP transmit assumed"};
  if (!f.kind.empty()) return {false, f.kind + ": no XDP transmit"};
  if (f.driver.empty()) return {false, "unknown driver: no XDP transmit assumed"};
  if (std::find(std::begin(kNdoXdpXmitDrivers61), std::end(kNdoXdpXmitDrivers61), f.driver) !=
      std::end(kNdoXdpXmitDrivers61))
    return {true, "driver " + f.driver + " has ndo_xdp_xmit"};
  return {false, "driver " + f.driver + ": no ndo_xdp_xmit known"};
}

}  // namespace

XdpTarget xdp_can_receive_redirect(const LinkFacts& f) {
  // vpnpt's XDP programs forward Ethernet frames: a device without an
  // Ethernet header cannot carry them whatever it implements.
  if (f.xdp_features && f.has_l2) return rule_from_xdp_features(f);
  if (f.xdp_features) return {false, "no Ethernet header (ARPHRD " + std::to_string(f.arphrd_type) + ")"};
  return rule_pre_6_3(f);
}

PartialCsum partial_csum_ingress(const LinkFacts& f) {
  if (f.kind == "veth") {
    if (!f.peer) return {true, "veth without a known peer: partial checksums assumed"};
    std::string label = "veth peer " + peer_label(*f.peer);
    if (!f.peer->tx_csum) return {true, label + ": TX checksum offload unknown, partial checksums assumed"};
    if (*f.peer->tx_csum) return {true, label + " sends with TX checksum offload on"};
    return {};
  }
  if (f.kind == "tun" && f.has_l2) return {true, "tap: a VM may hand over partial checksums"};
  return {};
}

bool kernel_reports_xdp_features() {
  auto netdev = open_netdev_family();
  return netdev && netdev->has_value();
}

}  // namespace vpnpt
