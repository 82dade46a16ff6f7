// A router namespace with the real programs and helpers to drive L2TP through them.
#pragma once

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <catch2/catch.hpp>
#include <vector>

#include "l2tp_builder.h"
#include "loader/core/clock.h"
#include "loader/proto/l2tp/l2tp_table.h"
#include "loader/proto/pptp/pptp_slowpath.h"
#include "prog_runner.h"
#include "test_router.h"

namespace vpnpt::test {

inline pkt::EthOpts eth_of(const std::array<uint8_t, 6>& src, const std::array<uint8_t, 6>& dst) {
  pkt::EthOpts e;
  std::copy(src.begin(), src.end(), e.src);
  std::copy(dst.begin(), dst.end(), e.dst);
  return e;
}

struct L2tpRig {
  static inline const uint32_t kPub = pkt::ip("203.0.113.1");
  static inline const uint32_t kSrv = pkt::ip(TestRouter::kServer.ip);
  static inline const uint32_t kA = pkt::ip(TestRouter::kClient.ip);
  static inline const uint32_t kB = pkt::ip(TestRouter::kClient2.ip);

  TestRouter rt;
  Dataplane dp;
  L2tpRig() { dp.configure(kPub, rt.wan_ifindex); }

  // A frame from a LAN client (as it arrives on lan0) or from the server (on wan0).
  pkt::Bytes from_client(uint32_t client, uint16_t sport, uint16_t dport, const pkt::Bytes& l2tp, uint8_t ttl = 64,
                         bool udp_csum = true) const {
    pkt::Ipv4Opts o;
    o.ttl = ttl;
    o.l4_checksum = udp_csum;
    const auto& mac = client == kB ? TestRouter::kClient2.mac : TestRouter::kClient.mac;
    return pkt::frame(client, kSrv, pkt::kProtoUdp, pkt::udp(sport, dport, l2tp), o, eth_of(mac, rt.lan_mac));
  }
  pkt::Bytes from_server(uint16_t sport, uint16_t dport, const pkt::Bytes& l2tp, uint8_t ttl = 64,
                         bool udp_csum = true) const {
    pkt::Ipv4Opts o;
    o.ttl = ttl;
    o.l4_checksum = udp_csum;
    return pkt::frame(kSrv, kPub, pkt::kProtoUdp, pkt::udp(sport, dport, l2tp), o,
                      eth_of(TestRouter::kServer.mac, rt.wan_mac));
  }
  // What the server should see from a client / a client from the server after translation.
  pkt::Bytes at_server(uint16_t sport, uint16_t dport, const pkt::Bytes& l2tp, uint8_t ttl = 63,
                       bool udp_csum = true) const {
    pkt::Ipv4Opts o;
    o.ttl = ttl;
    o.l4_checksum = udp_csum;
    return pkt::frame(kPub, kSrv, pkt::kProtoUdp, pkt::udp(sport, dport, l2tp), o,
                      eth_of(rt.wan_mac, TestRouter::kServer.mac));
  }
  pkt::Bytes at_client(uint32_t client, uint16_t sport, uint16_t dport, const pkt::Bytes& l2tp, uint8_t ttl = 63,
                       bool udp_csum = true) const {
    pkt::Ipv4Opts o;
    o.ttl = ttl;
    o.l4_checksum = udp_csum;
    const auto& mac = client == kB ? TestRouter::kClient2.mac : TestRouter::kClient.mac;
    return pkt::frame(kSrv, client, pkt::kProtoUdp, pkt::udp(sport, dport, l2tp), o, eth_of(rt.lan_mac, mac));
  }

  RunResult lan(const pkt::Bytes& f) const { return run_xdp(dp.progs.lan_fd(), f, 1, rt.lan_ifindex); }
  RunResult wan(const pkt::Bytes& f) const { return run_xdp(dp.progs.wan_fd(), f, 1, rt.wan_ifindex); }

  void daemon_alive(bool alive) const {
    uint32_t zero = 0;
    vpnpt_daemon d{};
    d.heartbeat_ns = alive ? monotonic_ns() : 0;
    REQUIRE(bpf_map_update_elem(dp.map_fd(VPNPT_MAP_DAEMON), &zero, &d, BPF_ANY) == 0);
  }

  L2tpMaps l2tp_maps() const {
    return {dp.map_fd(VPNPT_MAP_L2TP_TUNNELS), dp.map_fd(VPNPT_MAP_L2TP_OUT), dp.map_fd(VPNPT_MAP_L2TP_PORTS),
            dp.map_fd(VPNPT_MAP_L2TP_KERNEL), dp.map_fd(VPNPT_MAP_L2TP_QUOTE)};
  }

  // Installs a tunnel as the daemon does (slot, index, port): the server addresses it as @xlat on
  // @public_port (per-port NAT: @xlat is only its slot).
  void add_tunnel(uint32_t client, uint16_t client_port, uint16_t client_tid, uint16_t xlat, uint16_t public_port = 0,
                  uint32_t flags = 0) const {
    if (!public_port) public_port = client_port;
    vpnpt_l2tp_tunnel t{};
    t.state = VPNPT_L2TP_ESTABLISHED;
    t.server = kSrv;
    t.client = client;
    t.client_port = htons(client_port);
    t.public_port = htons(public_port);
    t.client_tunnel_id = htons(client_tid);
    t.flags = flags;
    auto tab = L2tpTable::map(l2tp_maps());
    REQUIRE(tab);
    REQUIRE(tab->is_free(xlat));
    REQUIRE(tab->insert(xlat, t));
  }

  // The tunnel in slot @xid as the data plane left it.
  vpnpt_l2tp_tunnel tunnel_at(uint16_t xid) const {
    uint32_t k = xid;
    vpnpt_l2tp_tunnel t{};
    REQUIRE(bpf_map_lookup_elem(dp.map_fd(VPNPT_MAP_L2TP_TUNNELS), &k, &t) == 0);
    return t;
  }

  std::vector<vpnpt_l2tp_punt> punts() const {
    std::vector<vpnpt_l2tp_punt> out;
    auto cb = [](void* ctx, void* data, size_t size) -> int {
      if (size >= sizeof(vpnpt_l2tp_punt))
        static_cast<std::vector<vpnpt_l2tp_punt>*>(ctx)->push_back(*static_cast<vpnpt_l2tp_punt*>(data));
      return 0;
    };
    ring_buffer* rb = ring_buffer__new(dp.map_fd(VPNPT_MAP_L2TP_PUNT), cb, &out, nullptr);
    REQUIRE(rb);
    ring_buffer__consume(rb);
    ring_buffer__free(rb);
    return out;
  }
};

}  // namespace vpnpt::test
