// Userspace side of the L2TP tables (abi/vpnpt_abi.h): tunnel slots indexed
// by translated Tunnel ID, the open-addressed outbound index (one slot per
// source, naming the first tunnel of the source's chain) and the per-port
// NAT ports. The daemon is their only writer. It maps them read-write and
// changes single fields in place, so the counters and stamps the hooks add
// meanwhile are never overwritten with a stale copy. A slot is published by
// writing its state after its fields, the order the hooks' checks rely on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "abi/vpnpt_abi.h"
#include "loader/core/mapped_array.h"
#include "loader/core/result.h"
#include "loader/session/maps.h"

namespace vpnpt {

struct L2tpTunnel {
  uint16_t xid;  // the slot: the Tunnel ID the server uses, unless per-port NAT
  vpnpt_l2tp_tunnel t;
};

// Live tunnels (requested, established, closing) in id order, read-only: for inspection.
std::vector<L2tpTunnel> live_l2tp_tunnels(int tunnels_fd);

// Index slots in use, read-only (fill levels).
uint32_t used_l2tp_out_slots(int out_fd);

class L2tpTable {
 public:
  static Result<L2tpTable> map(const L2tpMaps& m);

  std::vector<L2tpTunnel> live() const;
  // A copy of slot @xid (the hooks may be counting in it).
  vpnpt_l2tp_tunnel get(uint16_t xid) const;
  // The slot itself, for the daemon's in-place changes.
  vpnpt_l2tp_tunnel& slot(uint16_t xid) { return tunnels_[xid]; }
  bool is_free(uint16_t xid) const;

  // The hooks' two look-ups (addresses and ports in network order).
  std::optional<uint16_t> find_inbound(uint32_t server, uint16_t public_port, uint16_t tunnel_id) const;
  // All of a source's tunnels to the server, the one the index names first.
  std::vector<uint16_t> find_outbound(uint32_t client, uint32_t server, uint16_t client_port) const;
  // The per-port NAT tunnel that owns @public_port (network order), if any.
  std::optional<uint16_t> port_owner(uint16_t public_port) const;

  // Publishes @t in free slot @xid, first in its source's chain (and names its port, for
  // per-port NAT). False, with nothing written, if a new source's index run has no free slot.
  bool insert(uint16_t xid, vpnpt_l2tp_tunnel t);
  // Retires slot @xid: out of its source's chain, then its state, its port, the rest.
  void erase(uint16_t xid);

 private:
  L2tpTable() = default;
  // The index slot that names the source's tunnels, if it has any.
  std::optional<uint32_t> source_slot(uint32_t client, uint32_t server, uint16_t client_port) const;

  MappedArray<vpnpt_l2tp_tunnel> tunnels_;
  MappedArray<vpnpt_l2tp_out_slot> out_;
  MappedArray<vpnpt_l2tp_port> ports_;
};

// The L2TP rows of `vpnpt status` and the metrics: tunnels, outbound index, ports, quote index.
std::vector<MapFill> l2tp_fill_levels(const L2tpMaps& m);

}  // namespace vpnpt
