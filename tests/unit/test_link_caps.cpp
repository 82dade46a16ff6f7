// link_facts against real devices built in a throwaway network namespace,
// and xdp_can_receive_redirect answered twice for each: from the kernel's
// xdp_features (this kernel has them) and by the pre-6.3 rule, forced by
// clearing xdp_features. Needs root, ip and ethtool.
#include <catch2/catch.hpp>

// <net/if.h> first: it makes the kernel's <linux/if.h> stand aside.
#include <net/if.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "loader/core/fd.h"
#include "loader/dataplane/link_caps.h"

using namespace vpnpt;

namespace {

bool run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

void sh(const std::string& cmd) {
  if (!run(cmd)) throw std::runtime_error("failed: " + cmd);
}

// The test thread enters a fresh network namespace and returns to its own on
// destruction; the namespace and every device in it die with it.
class ScratchNetns {
 public:
  ScratchNetns() {
    home_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home_ < 0 || ::unshare(CLONE_NEWNET) != 0) throw std::runtime_error("cannot create a netns (root needed)");
    sh("ip link set lo up");
  }
  ~ScratchNetns() {
    (void)::setns(home_, CLONE_NEWNET);
    ::close(home_);
  }
  ScratchNetns(const ScratchNetns&) = delete;
  ScratchNetns& operator=(const ScratchNetns&) = delete;

 private:
  int home_ = -1;
};

// A second, named namespace (ip netns), for a veth peer that lives elsewhere.
class NamedNetns {
 public:
  NamedNetns() : name("vpnpt-caps-" + std::to_string(::getpid())) { sh("ip netns add " + name); }
  ~NamedNetns() { (void)run("ip netns del " + name); }
  NamedNetns(const NamedNetns&) = delete;
  NamedNetns& operator=(const NamedNetns&) = delete;
  std::string exec(const std::string& cmd) const { return "ip netns exec " + name + " " + cmd; }

  const std::string name;
};

uint32_t index_of(const std::string& name) {
  uint32_t idx = if_nametoindex(name.c_str());
  if (idx == 0) throw std::runtime_error("no interface " + name);
  return idx;
}

LinkFacts facts(const std::string& name) {
  auto f = link_facts(index_of(name));
  INFO(name << ": " << (f ? std::string() : f.error().message()));
  REQUIRE(f.ok());
  return f.value();
}

// The answer a kernel without xdp_features (6.1) would get.
XdpTarget pre_6_3(LinkFacts f) {
  f.xdp_features.reset();
  return xdp_can_receive_redirect(f);
}

bool ndo_xmit(const LinkFacts& f) { return f.xdp_features && (*f.xdp_features & kXdpActNdoXmit); }

// Whether this kernel reports xdp_features (6.3+). Before, there is nothing
// of the kernel's to check: xdp_can_receive_redirect() is the rule itself,
// which the pre_6_3() checks cover (the kernel leg runs these on 6.1).
bool features() {
  static const bool has = kernel_reports_xdp_features();
  return has;
}

// XDP_PASS, two instructions: enough to make a veth start its NAPI.
Fd xdp_pass_prog() {
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "caps_pass", "GPL", insns, 2, nullptr);
  if (fd < 0) throw std::runtime_error("cannot load an XDP program");
  return Fd(fd);
}

// One veth pair, both ends up, the peer's GRO explicitly off (a container's default).
void make_veth(const std::string& a, const std::string& b) {
  sh("ip link add " + a + " type veth peer name " + b);
  sh("ethtool -K " + b + " gro off");
  sh("ip link set " + a + " up");
  sh("ip link set " + b + " up");
}

}  // namespace

TEST_CASE("veth: redirect needs the peer up with GRO or an XDP program", "[link][netns]") {
  ScratchNetns ns;
  make_veth("v0", "v0p");

  auto f = facts("v0");
  CHECK(f.name == "v0");
  CHECK(f.kind == "veth");
  CHECK(f.driver == "veth");
  CHECK(f.arphrd_type == ARPHRD_ETHER);
  CHECK(f.has_l2);
  CHECK(f.up);
  CHECK_FALSE(f.is_bridge_port);
  CHECK(f.master_ifindex == 0);
  CHECK_FALSE(f.xdp_attached);
  REQUIRE(f.xdp_features.has_value() == features());
  REQUIRE(f.peer.has_value());
  CHECK(f.peer->ifindex == index_of("v0p"));
  CHECK(f.peer->name == "v0p");
  CHECK_FALSE(f.peer->netnsid.has_value());
  CHECK(f.peer->up == true);
  CHECK(f.peer->gro == false);
  CHECK(f.peer->xdp_attached == false);
  CHECK(f.peer->tx_csum == true);  // the veth default: it hands over partial checksums
  CHECK(partial_csum_ingress(f).possible);
  CHECK(partial_csum_ingress(f).why == "veth peer v0p sends with TX checksum offload on");

  // Peer GRO off, no XDP: the kernel clears NDO_XMIT and both rules say no.
  if (features()) CHECK_FALSE(ndo_xmit(f));
  auto now = xdp_can_receive_redirect(f);
  CHECK_FALSE(now.ok);
  CHECK(now.why == "veth peer v0p has neither GRO nor XDP");
  auto old = pre_6_3(f);
  CHECK_FALSE(old.ok);
  CHECK(old.why == "veth peer v0p has neither GRO nor XDP");

  // The other end sees the same pair from its side.
  auto back = facts("v0p");
  REQUIRE(back.peer.has_value());
  CHECK(back.peer->name == "v0");

  SECTION("peer GRO on: yes") {
    sh("ethtool -K v0p gro on");
    f = facts("v0");
    CHECK(f.peer->gro == true);
    now = xdp_can_receive_redirect(f);
    CHECK(now.ok);
    if (features()) {
      CHECK(ndo_xmit(f));
      CHECK(now.why == "xdp_features: NDO_XMIT, veth peer v0p up");
    }
    old = pre_6_3(f);
    CHECK(old.ok);
    CHECK(old.why == "veth peer v0p has GRO");

    // Peer down: the kernel keeps NDO_XMIT, but veth_xdp_xmit would drop.
    sh("ip link set v0p down");
    f = facts("v0");
    CHECK_FALSE(f.up);  // no carrier without the peer
    CHECK(f.peer->up == false);
    if (features()) CHECK(ndo_xmit(f));
    now = xdp_can_receive_redirect(f);
    CHECK_FALSE(now.ok);
    CHECK(now.why == "veth peer v0p is down");
    CHECK_FALSE(pre_6_3(f).ok);
  }

  SECTION("peer TX checksum offload off: complete checksums only") {
    sh("ethtool -K v0p tx off");
    f = facts("v0");
    CHECK(f.peer->tx_csum == false);
    CHECK_FALSE(partial_csum_ingress(f).possible);
    sh("ethtool -K v0p tx on");
    CHECK(facts("v0").peer->tx_csum == true);
  }

  SECTION("peer with an XDP program, GRO off: yes") {
    Fd prog = xdp_pass_prog();
    uint32_t peer_idx = index_of("v0p");
    REQUIRE(bpf_xdp_attach(static_cast<int>(peer_idx), prog.get(), XDP_FLAGS_DRV_MODE, nullptr) == 0);
    f = facts("v0");
    CHECK(f.peer->xdp_attached == true);
    CHECK(f.peer->gro == false);
    CHECK(facts("v0p").xdp_attached);
    if (features()) CHECK(ndo_xmit(f));
    CHECK(xdp_can_receive_redirect(f).ok);
    old = pre_6_3(f);
    CHECK(old.ok);
    CHECK(old.why == "veth peer v0p has an XDP program");
    CHECK(bpf_xdp_detach(static_cast<int>(peer_idx), XDP_FLAGS_DRV_MODE, nullptr) == 0);
  }
}

TEST_CASE("veth: a peer in another namespace is read through its netns id", "[link][netns]") {
  ScratchNetns ns;
  NamedNetns other;
  sh("ip link add v1 type veth peer name v1p");
  sh("ip link set v1p netns " + other.name);
  sh(other.exec("ethtool -K v1p gro on"));
  sh(other.exec("ip link set v1p up"));
  sh("ip link set v1 up");

  auto f = facts("v1");
  REQUIRE(f.peer.has_value());
  CHECK(f.peer->netnsid.has_value());
  CHECK(f.peer->name == "v1p");
  CHECK(f.peer->up == true);
  CHECK(f.peer->gro == true);  // ethtool inside the peer's namespace
  CHECK(f.peer->xdp_attached == false);
  CHECK(f.peer->tx_csum == true);
  sh(other.exec("ethtool -K v1p tx off"));
  CHECK(facts("v1").peer->tx_csum == false);  // ethtool inside the peer's namespace
  CHECK(xdp_can_receive_redirect(f).ok);
  CHECK(pre_6_3(f).ok);

  sh(other.exec("ethtool -K v1p gro off"));
  f = facts("v1");
  CHECK(f.peer->gro == false);
  if (features()) CHECK_FALSE(ndo_xmit(f));
  CHECK_FALSE(xdp_can_receive_redirect(f).ok);
  auto old = pre_6_3(f);
  CHECK_FALSE(old.ok);
  CHECK(old.why == "veth peer v1p has neither GRO nor XDP");
}

TEST_CASE("bridge and bridge port", "[link][netns]") {
  ScratchNetns ns;
  sh("ip link add br0 type bridge");
  make_veth("b0", "b0p");
  sh("ip link set b0 master br0");
  sh("ip link set br0 up");

  auto br = facts("br0");
  CHECK(br.kind == "bridge");
  CHECK(br.driver == "bridge");
  CHECK(br.has_l2);
  CHECK(br.up);
  CHECK_FALSE(br.is_bridge_port);
  CHECK_FALSE(br.peer.has_value());
  REQUIRE(br.xdp_features.has_value() == features());
  auto now = xdp_can_receive_redirect(br);
  CHECK_FALSE(now.ok);
  if (features()) {
    CHECK_FALSE(ndo_xmit(br));
    CHECK(now.why == "bridge: xdp_features lacks NDO_XMIT");
  }
  auto old = pre_6_3(br);
  CHECK_FALSE(old.ok);
  CHECK(old.why == "bridge: no XDP transmit");

  auto port = facts("b0");
  CHECK(port.kind == "veth");
  CHECK(port.is_bridge_port);
  CHECK(port.master_ifindex == br.ifindex);
  CHECK_FALSE(facts("b0p").is_bridge_port);
}

TEST_CASE("tun, tap, macvlan, vlan, dummy and loopback cannot take redirects", "[link][netns]") {
  ScratchNetns ns;

  if (access("/dev/net/tun", F_OK) != 0) sh("modprobe tun");  // no node until the module is in (no udev static nodes)
  sh("ip tuntap add dev tun0 mode tun");
  sh("ip link set tun0 up");
  auto tun = facts("tun0");
  CHECK(tun.kind == "tun");
  CHECK(tun.driver == "tun");
  CHECK(tun.arphrd_type == ARPHRD_NONE);
  CHECK_FALSE(tun.has_l2);
  CHECK_FALSE(tun.up);  // no reader: no carrier
  CHECK(tun.xdp_features.has_value() == features());
  CHECK_FALSE(xdp_can_receive_redirect(tun).ok);
  CHECK_FALSE(pre_6_3(tun).ok);

  // A tap implements ndo_xdp_xmit, but without a reader frames go nowhere.
  sh("ip tuntap add dev tap0 mode tap");
  sh("ip link set tap0 up");
  auto tap = facts("tap0");
  CHECK(tap.kind == "tun");
  CHECK(tap.has_l2);
  CHECK_FALSE(tap.up);
  if (features()) {
    CHECK(ndo_xmit(tap));
    CHECK(xdp_can_receive_redirect(tap).why == "tap without a reader (no carrier)");
  }
  CHECK_FALSE(xdp_can_receive_redirect(tap).ok);
  CHECK_FALSE(pre_6_3(tap).ok);

  make_veth("m0", "m0p");
  // macvlan is in every kernel vpnpt targets (dummy and 802.1Q devices are not in this lab's:
  // their rule is the same kind rule, tested on made-up facts in [link] and [path]).
  {
    REQUIRE(run("ip link add mv0 link m0 type macvlan mode bridge"));
    sh("ip link set mv0 up");
    auto mv = facts("mv0");
    CHECK(mv.kind == "macvlan");
    CHECK(mv.has_l2);
    CHECK(mv.up);
    if (features()) CHECK_FALSE(ndo_xmit(mv));
    CHECK_FALSE(xdp_can_receive_redirect(mv).ok);
    CHECK(pre_6_3(mv).why == "macvlan: no XDP transmit");
  }
  for (const char* kind : {"vlan", "dummy"}) {  // made-up facts: the kernel here has neither device
    LinkFacts f;
    f.name = "x0";
    f.kind = kind;
    f.has_l2 = true;
    f.up = true;
    CHECK_FALSE(xdp_can_receive_redirect(f).ok);
    CHECK(xdp_can_receive_redirect(f).why == std::string(kind) + ": no XDP transmit");
  }

  auto lo = facts("lo");
  CHECK(lo.arphrd_type == ARPHRD_LOOPBACK);
  CHECK_FALSE(lo.has_l2);
  CHECK(lo.kind.empty());
  CHECK(lo.driver.empty());
  CHECK_FALSE(xdp_can_receive_redirect(lo).ok);
  CHECK(pre_6_3(lo).why == "loopback: no XDP transmit");
}

TEST_CASE("an ifindex that does not exist is an error", "[link][netns]") {
  ScratchNetns ns;
  auto f = link_facts(4242);
  REQUIRE_FALSE(f.ok());
  CHECK(f.error().err == ENODEV);
}

TEST_CASE("pre-6.3 rule for physical devices goes by driver", "[link]") {
  LinkFacts nic;
  nic.name = "eth0";
  nic.arphrd_type = ARPHRD_ETHER;
  nic.has_l2 = true;
  nic.up = true;
  for (const char* yes : {"i40e", "ice", "ixgbe", "igb", "igc", "mlx5_core", "bnxt_en", "virtio_net", "ena", "qede",
                          "sfc_siena", "mvneta", "mvpp2", "st_gmac", "fsl_dpaa2_eth", "hv_netvsc"}) {
    nic.driver = yes;
    INFO(yes);
    CHECK(xdp_can_receive_redirect(nic).ok);
    CHECK(xdp_can_receive_redirect(nic).why == std::string("driver ") + yes + " has ndo_xdp_xmit");
  }
  for (const char* no : {"e1000e", "r8169", "mlx4_en", "nfp", "sfc", "ixgbevf", "iavf", "tg3", ""}) {
    nic.driver = no;
    INFO(no);
    CHECK_FALSE(xdp_can_receive_redirect(nic).ok);
  }
  // The driver list is for physical devices only.
  nic.driver = "i40e";
  nic.kind = "bond";
  CHECK_FALSE(xdp_can_receive_redirect(nic).ok);
  nic.kind.clear();
  nic.has_l2 = false;
  CHECK_FALSE(xdp_can_receive_redirect(nic).ok);

  // With xdp_features the driver name no longer matters, only NDO_XMIT.
  nic.has_l2 = true;
  nic.driver = "e1000e";
  nic.xdp_features = kXdpActNdoXmit | 1 | 2;
  CHECK(xdp_can_receive_redirect(nic).ok);
  nic.driver = "i40e";
  nic.xdp_features = 1 | 2;
  CHECK_FALSE(xdp_can_receive_redirect(nic).ok);
}

TEST_CASE("pre-6.3 rule: a veth peer we could not read is a no", "[link]") {
  LinkFacts v;
  v.name = "v9";
  v.kind = "veth";
  v.arphrd_type = ARPHRD_ETHER;
  v.has_l2 = true;
  v.peer = VethPeer{};
  v.peer->name = "c9";
  CHECK(xdp_can_receive_redirect(v).why == "veth peer c9 state unknown");
  v.peer->up = true;
  CHECK_FALSE(xdp_can_receive_redirect(v).ok);  // GRO and XDP unknown
  v.peer->xdp_attached = false;
  v.peer->gro = true;
  CHECK(xdp_can_receive_redirect(v).ok);
  v.peer->up = false;
  CHECK_FALSE(xdp_can_receive_redirect(v).ok);
}
