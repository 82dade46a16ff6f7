// The choice of data path per interface from the facts of the attachment's
// devices: XDP only where every device it forwards to can take XDP frames.
#include <catch2/catch.hpp>

#include "loader/dataplane/data_path.h"

using namespace vpnpt;

namespace {

LinkFacts dev(uint32_t ifindex, const char* kind, bool xmit, bool l2 = true) {
  LinkFacts f;
  f.ifindex = ifindex;
  f.name = "if" + std::to_string(ifindex);
  f.kind = kind;
  f.has_l2 = l2;
  f.arphrd_type = l2 ? 1 : 0xfffe;
  f.up = true;
  f.xdp_features = xmit ? kXdpActNdoXmit : 0;
  if (std::string(kind) == "veth") {
    VethPeer peer;  // up, with GRO as far as xmit says, complete checksums (TX checksum offload off)
    peer.ifindex = ifindex + 100;
    peer.up = true;
    peer.gro = xmit;
    peer.xdp_attached = false;
    peer.tx_csum = false;
    f.peer = peer;
  }
  return f;
}

std::vector<uint32_t> modes(const std::vector<PathChoice>& c) {
  std::vector<uint32_t> m;
  for (const auto& x : c) m.push_back(x.mode);
  return m;
}

constexpr uint32_t W = VPNPT_ROLE_WAN, L = VPNPT_ROLE_LAN;
constexpr uint32_t N = VPNPT_MODE_NATIVE, T = VPNPT_MODE_TC;

}  // namespace

TEST_CASE("data path: XDP where every target takes XDP frames, TC elsewhere", "[path][unit]") {
  SECTION("physical WAN and LAN that both transmit XDP frames: XDP on both") {
    auto c = choose_paths(ModeRequest::Auto, {dev(2, "", true), dev(3, "", true)}, {W, L});
    CHECK(modes(c) == std::vector<uint32_t>{N, N});
    CHECK(c[0].why == VPNPT_WHY_XDP_OK);
  }
  SECTION("bridge LAN: the WAN cannot redirect into it; then the physical WAN runs no XDP program to transmit with") {
    auto c = choose_paths(ModeRequest::Auto, {dev(2, "", true), dev(3, "bridge", false)}, {W, L});
    CHECK(modes(c) == std::vector<uint32_t>{T, T});
    CHECK(c[0].why == VPNPT_WHY_TARGET);
    CHECK(c[0].why_ifindex == 3);
    CHECK(c[1].why == VPNPT_WHY_TARGET);
    CHECK(c[1].why_ifindex == 2);
  }
  SECTION("a veth LAN whose peer has no GRO: only the WAN side changes") {
    auto c = choose_paths(ModeRequest::Auto, {dev(2, "veth", true), dev(3, "veth", false)}, {W, L});
    CHECK(modes(c) == std::vector<uint32_t>{T, N});
  }
  SECTION("one of two LANs cannot take XDP frames: the WAN goes TC, and so its physical sources") {
    auto c = choose_paths(ModeRequest::Auto, {dev(2, "", true), dev(3, "", true), dev(4, "vlan", false)}, {W, L, L});
    CHECK(modes(c) == std::vector<uint32_t>{T, T, T});
    CHECK(c[0].why_ifindex == 4);
  }
  SECTION("veths that can all take XDP frames: XDP everywhere") {
    auto c =
        choose_paths(ModeRequest::Auto, {dev(2, "veth", true), dev(3, "veth", true), dev(4, "veth", true)}, {W, L, L});
    CHECK(modes(c) == std::vector<uint32_t>{N, N, N});
  }
  SECTION("an L3 WAN: TC there, and the LAN cannot redirect into it") {
    auto c = choose_paths(ModeRequest::Auto, {dev(2, "tun", false, false), dev(3, "", true)}, {W, L});
    CHECK(modes(c) == std::vector<uint32_t>{T, T});
    CHECK(c[0].why == VPNPT_WHY_NO_L2);
    CHECK(c[1].why == VPNPT_WHY_TARGET);
  }
  SECTION("a physical target on the TC path runs no XDP program to transmit with: its sources go TC too") {
    auto c = choose_paths(ModeRequest::Auto, {dev(2, "vlan", false), dev(3, "", true), dev(4, "", true)}, {W, L, L});
    // LANs cannot redirect into the vlan WAN: TC. The WAN could redirect into the physical LANs,
    // but they run no XDP program of their own now: TC as well.
    CHECK(modes(c) == std::vector<uint32_t>{T, T, T});
    CHECK(c[0].why == VPNPT_WHY_TARGET);
  }
  SECTION("a veth target on the TC path still takes XDP frames (its peer's GRO/XDP is what counts)") {
    auto c =
        choose_paths(ModeRequest::Auto, {dev(2, "veth", true), dev(3, "veth", true), dev(4, "vlan", false)}, {L, W, L});
    // The WAN (3) goes TC because of the vlan LAN; LAN 2 (veth) may still redirect into the veth WAN
    // (the vlan LAN is planned native too: its attach fails and falls back to TC).
    CHECK(modes(c) == std::vector<uint32_t>{N, T, N});
  }
  SECTION("asked-for modes are kept as asked") {
    auto c = choose_paths(ModeRequest::Tc, {dev(2, "", true), dev(3, "", true)}, {W, L});
    CHECK(modes(c) == std::vector<uint32_t>{T, T});
    CHECK(c[0].why == VPNPT_WHY_REQUESTED);
    c = choose_paths(ModeRequest::Skb, {dev(2, "", true), dev(3, "bridge", false)}, {W, L});
    CHECK(modes(c) == std::vector<uint32_t>{VPNPT_MODE_SKB, VPNPT_MODE_SKB});
  }
}

// Issue 17, finding 13: a veth runs XDP on the skb its peer sent without
// finishing a partial checksum, and XDP cannot see that it is partial.
TEST_CASE("data path: an interface whose frames may carry partial checksums goes TC", "[path][unit]") {
  auto with_tx_csum = [](LinkFacts f, std::optional<bool> on) {
    f.peer->tx_csum = on;
    return f;
  };
  SECTION("a veth LAN whose peer sends with TX checksum offload: TC there; the WAN still redirects into it") {
    auto c = choose_paths(ModeRequest::Auto, {dev(2, "veth", true), with_tx_csum(dev(3, "veth", true), true)}, {W, L});
    CHECK(modes(c) == std::vector<uint32_t>{N, T});
    CHECK(c[1].why == VPNPT_WHY_PARTIAL_CSUM);
    CHECK(c[1].why_ifindex == 3);
    CHECK(c[0].why == VPNPT_WHY_XDP_OK);
  }
  SECTION("both sides' peers with offload: TC on both") {
    auto c = choose_paths(ModeRequest::Auto,
                          {with_tx_csum(dev(2, "veth", true), true), with_tx_csum(dev(3, "veth", true), true)}, {W, L});
    CHECK(modes(c) == std::vector<uint32_t>{T, T});
    CHECK(c[0].why == VPNPT_WHY_PARTIAL_CSUM);
    CHECK(c[1].why == VPNPT_WHY_PARTIAL_CSUM);
  }
  SECTION("offload of the peer unknown (its namespace cannot be entered): assumed on") {
    auto c =
        choose_paths(ModeRequest::Auto, {dev(2, "", true), with_tx_csum(dev(3, "veth", true), std::nullopt)}, {W, L});
    CHECK(c[1].mode == T);
    CHECK(c[1].why == VPNPT_WHY_PARTIAL_CSUM);
    CHECK(partial_csum_ingress(with_tx_csum(dev(3, "veth", true), std::nullopt)).why.find("unknown") !=
          std::string::npos);
  }
  SECTION("offload off on the peer: XDP as before") {
    auto c = choose_paths(ModeRequest::Auto, {dev(2, "veth", true), with_tx_csum(dev(3, "veth", true), false)}, {W, L});
    CHECK(modes(c) == std::vector<uint32_t>{N, N});
    CHECK_FALSE(partial_csum_ingress(dev(3, "veth", true)).possible);
  }
  SECTION("a tap LAN (a VM's virtio-net header may ask for a checksum): TC") {
    auto c = choose_paths(ModeRequest::Auto, {dev(2, "", true), dev(3, "tun", true)}, {W, L});
    CHECK(c[1].mode == T);
    CHECK(c[1].why == VPNPT_WHY_PARTIAL_CSUM);
  }
  SECTION("physical devices carry complete checksums from the wire") {
    CHECK_FALSE(partial_csum_ingress(dev(2, "", true)).possible);
  }
  SECTION("--mode native is kept as asked (and then the checksums are wrong: docs/dataplane.md)") {
    auto c =
        choose_paths(ModeRequest::Native, {dev(2, "veth", true), with_tx_csum(dev(3, "veth", true), true)}, {W, L});
    CHECK(modes(c) == std::vector<uint32_t>{N, N});
  }
}
