#include "loader/proto/l2tp/l2tp_table.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "loader/core/array_scan.h"
#include "loader/session/probe.h"
#include "loader/session/quote_index.h"

namespace vpnpt {
namespace {

uint32_t load_state(const vpnpt_l2tp_tunnel& t) { return __atomic_load_n(&t.state, __ATOMIC_ACQUIRE); }

// The per-port NAT ports' array index, or -1 outside 61000..61999 (@port in network order).
int port_index(uint16_t port) {
  uint32_t i = static_cast<uint32_t>(ntohs(port)) - VPNPT_L2TP_PORT_NAT_FIRST;
  return i < VPNPT_L2TP_PORT_NAT_PORTS ? static_cast<int>(i) : -1;
}

}  // namespace

std::vector<L2tpTunnel> live_l2tp_tunnels(int tunnels_fd) {
  std::vector<L2tpTunnel> out;
  scan_array<vpnpt_l2tp_tunnel>(tunnels_fd, VPNPT_L2TP_MAX_TUNNELS, [&](uint32_t i, const vpnpt_l2tp_tunnel& t) {
    if (vpnpt_session_in_use(t.state)) out.push_back({static_cast<uint16_t>(i), t});
  });
  return out;
}

uint32_t used_l2tp_out_slots(int out_fd) {
  uint32_t n = 0;
  scan_array<vpnpt_l2tp_out_slot>(out_fd, VPNPT_L2TP_OUT_SLOTS,
                                  [&](uint32_t, const vpnpt_l2tp_out_slot& s) { n += s.tag != 0; });
  return n;
}

Result<L2tpTable> L2tpTable::map(const L2tpMaps& m) {
  L2tpTable t;
  auto tunnels = MappedArray<vpnpt_l2tp_tunnel>::map(m.tunnels, VPNPT_L2TP_MAX_TUNNELS, VPNPT_MAP_L2TP_TUNNELS);
  if (!tunnels) return tunnels.error();
  auto out = MappedArray<vpnpt_l2tp_out_slot>::map(m.out, VPNPT_L2TP_OUT_SLOTS, VPNPT_MAP_L2TP_OUT);
  if (!out) return out.error();
  auto ports = MappedArray<vpnpt_l2tp_port>::map(m.ports, VPNPT_L2TP_PORT_NAT_PORTS, VPNPT_MAP_L2TP_PORTS);
  if (!ports) return ports.error();
  t.tunnels_ = std::move(*tunnels);
  t.out_ = std::move(*out);
  t.ports_ = std::move(*ports);
  return t;
}

std::vector<L2tpTunnel> L2tpTable::live() const {
  std::vector<L2tpTunnel> out;
  for (uint32_t i = 1; i < VPNPT_L2TP_MAX_TUNNELS; ++i)
    if (vpnpt_session_in_use(load_state(tunnels_[i])))
      out.push_back({static_cast<uint16_t>(i), get(static_cast<uint16_t>(i))});
  return out;
}

vpnpt_l2tp_tunnel L2tpTable::get(uint16_t xid) const {
  vpnpt_l2tp_tunnel t;
  std::memcpy(&t, &tunnels_[xid], sizeof(t));
  return t;
}

bool L2tpTable::is_free(uint16_t xid) const { return xid != 0 && load_state(tunnels_[xid]) == VPNPT_L2TP_FREE; }

std::optional<uint16_t> L2tpTable::find_inbound(uint32_t server, uint16_t public_port, uint16_t tunnel_id) const {
  if (tunnel_id) {
    uint16_t x = ntohs(tunnel_id);
    const auto& t = tunnels_[x];
    if (vpnpt_session_in_use(load_state(t)) && t.server == server && t.public_port == public_port &&
        !(t.flags & VPNPT_L2TP_F_PORT_NAT))
      return x;
  }
  auto owner = port_owner(public_port);
  if (owner && tunnels_[*owner].server == server) return owner;
  return std::nullopt;
}

std::optional<uint32_t> L2tpTable::source_slot(uint32_t client, uint32_t server, uint16_t client_port) const {
  const vpnpt_run r = vpnpt_l2tp_out_run(client, server, client_port);
  return probe_first(r, VPNPT_L2TP_OUT_PROBES, [&](uint32_t idx) {
    const auto& s = out_[idx];
    if (__atomic_load_n(&s.tag, __ATOMIC_ACQUIRE) != r.tag) return false;
    const auto& t = tunnels_[s.xid];  // the tag is a hash: check the tunnel really is this source's
    return vpnpt_session_in_use(load_state(t)) && t.client == client && t.server == server &&
           t.client_port == client_port;
  });
}

std::vector<uint16_t> L2tpTable::find_outbound(uint32_t client, uint32_t server, uint16_t client_port) const {
  std::vector<uint16_t> out;
  auto idx = source_slot(client, server, client_port);
  if (!idx) return out;
  // The chain is the daemon's own and acyclic; the bound only guards against a corrupted table.
  for (uint16_t x = out_[*idx].xid; x && out.size() < VPNPT_L2TP_MAX_TUNNELS; x = tunnels_[x].next) out.push_back(x);
  return out;
}

std::optional<uint16_t> L2tpTable::port_owner(uint16_t public_port) const {
  int pi = port_index(public_port);
  if (pi < 0) return std::nullopt;
  uint32_t x1 = __atomic_load_n(&ports_[pi].xid1, __ATOMIC_ACQUIRE);
  if (!x1 || x1 > VPNPT_L2TP_MAX_TUNNELS) return std::nullopt;
  const auto& t = tunnels_[x1 - 1];
  if (!vpnpt_session_in_use(load_state(t)) || t.public_port != public_port || !(t.flags & VPNPT_L2TP_F_PORT_NAT))
    return std::nullopt;
  return static_cast<uint16_t>(x1 - 1);
}

bool L2tpTable::insert(uint16_t xid, vpnpt_l2tp_tunnel t) {
  // The source's index slot if it has tunnels to the server already (the new one goes first in
  // the chain), else a free slot of its run.
  auto idx = source_slot(t.client, t.server, t.client_port);
  t.next = idx ? out_[*idx].xid : 0;
  if (!idx) {
    idx = probe_first(vpnpt_l2tp_out_run(t.client, t.server, t.client_port), VPNPT_L2TP_OUT_PROBES,
                      [&](uint32_t i) { return out_[i].tag == 0; });
    if (!idx) return false;
  }
  // The slot's fields, then its state: a hook that sees the state sees the fields.
  uint32_t state = t.state;
  t.state = VPNPT_L2TP_FREE;
  t.out_slot = *idx + 1;
  auto& s = tunnels_[xid];
  std::memcpy(reinterpret_cast<uint8_t*>(&s) + sizeof(s.state), reinterpret_cast<const uint8_t*>(&t) + sizeof(t.state),
              sizeof(t) - sizeof(t.state));
  __atomic_store_n(&s.state, state, __ATOMIC_RELEASE);
  // Then the index names it (a 16-bit store the hook reads whole), and its tag is set if new.
  __atomic_store_n(&out_[*idx].xid, xid, __ATOMIC_RELEASE);
  __atomic_store_n(&out_[*idx].tag, vpnpt_l2tp_out_tag(t.client, t.server, t.client_port), __ATOMIC_RELEASE);
  if (t.flags & VPNPT_L2TP_F_PORT_NAT) {
    int pi = port_index(t.public_port);
    if (pi >= 0) __atomic_store_n(&ports_[pi].xid1, uint32_t{xid} + 1, __ATOMIC_RELEASE);
  }
  return true;
}

void L2tpTable::erase(uint16_t xid) {
  auto& s = tunnels_[xid];
  // Out of its source's chain first, so the source's packets move on to its next tunnel at once.
  if (s.out_slot && s.out_slot <= VPNPT_L2TP_OUT_SLOTS) {
    auto& o = out_[s.out_slot - 1];
    if (o.tag && o.xid == xid) {
      if (s.next)
        __atomic_store_n(&o.xid, s.next, __ATOMIC_RELEASE);
      else
        __atomic_store_n(&o.tag, 0u, __ATOMIC_RELEASE);
    } else if (o.tag) {
      uint32_t steps = 0;
      for (uint16_t x = o.xid; x && steps++ < VPNPT_L2TP_MAX_TUNNELS; x = tunnels_[x].next)
        if (tunnels_[x].next == xid) {
          tunnels_[x].next = s.next;
          break;
        }
    }
  }
  __atomic_store_n(&s.state, uint32_t{VPNPT_L2TP_FREE}, __ATOMIC_RELEASE);
  int pi = port_index(s.public_port);
  if (pi >= 0 && ports_[pi].xid1 == uint32_t{xid} + 1) __atomic_store_n(&ports_[pi].xid1, 0u, __ATOMIC_RELEASE);
  std::memset(reinterpret_cast<uint8_t*>(&s) + sizeof(s.state), 0, sizeof(s) - sizeof(s.state));
}

std::vector<MapFill> l2tp_fill_levels(const L2tpMaps& m) {
  // Slot 0 is never a tunnel: Tunnel ID 0 means "none".
  auto tunnels = live_l2tp_tunnels(m.tunnels);
  uint32_t port_nat = 0;
  for (const auto& t : tunnels) port_nat += (t.t.flags & VPNPT_L2TP_F_PORT_NAT) != 0;
  return {{VPNPT_MAP_L2TP_TUNNELS, static_cast<uint32_t>(tunnels.size()), VPNPT_L2TP_MAX_TUNNELS - 1},
          {VPNPT_MAP_L2TP_OUT, used_l2tp_out_slots(m.out), VPNPT_L2TP_OUT_SLOTS},
          {VPNPT_MAP_L2TP_PORTS, port_nat, VPNPT_L2TP_PORT_NAT_PORTS},
          {VPNPT_MAP_L2TP_QUOTE, used_quote_slots(m.quote), VPNPT_QUOTE_SLOTS}};
}

}  // namespace vpnpt
