// L2TP control-plane work the data plane hands over (docs/l2tp.md):
// setting up tunnels from the clients' requests (SCCRQ) that the LAN hook
// queued, with a Tunnel ID unique on the gateway (rewriting the Assigned
// Tunnel ID AVP on a collision) or, when that AVP is hidden, a public port
// of the client's own; following the control messages the
// hooks copy (the server's answer, StopCCN, sessions coming and going);
// and expiring tunnels. The data plane translates established tunnels
// without it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>

#include "abi/vpnpt_abi.h"
#include "loader/proto/l2tp/l2tp_table.h"
#include "loader/session/quote_index.h"

namespace vpnpt {

struct L2tpTimeouts {
  std::chrono::seconds unanswered{30};          // SCCRQ without any answer from the server
  std::chrono::seconds idle{300};               // no traffic either way (L2TP sends Hello every 60 s by default)
  std::chrono::seconds closing_grace{10};       // after StopCCN: its acknowledgement still has to pass
  std::chrono::milliseconds setup_stale{3000};  // a queued request older than this is dropped (the client resends)
  uint32_t host_max_tunnels = VPNPT_HOST_MAX_TUNNELS;  // one LAN host's share of the tunnel table
};

// Public ports handed out for per-port NAT (hidden Assigned Tunnel ID).
constexpr uint16_t kL2tpPortNatFirst = VPNPT_L2TP_PORT_NAT_FIRST,
                   kL2tpPortNatLast = VPNPT_L2TP_PORT_NAT_FIRST + VPNPT_L2TP_PORT_NAT_PORTS - 1;

// What became of a queued tunnel request.
struct L2tpSetup {
  bool sent = false;
  uint32_t refusal = 0;     // enum vpnpt_l2tp_refusal when not sent
  bool new_tunnel = false;  // false for a retransmitted request of a known tunnel
  uint16_t xid = 0;         // the tunnel's slot
  vpnpt_l2tp_tunnel tunnel{};

  // The Tunnel ID the server sees for the tunnel (0 for per-port NAT: it sees the client's own, hidden).
  uint16_t wire_id() const { return tunnel.flags & VPNPT_L2TP_F_PORT_NAT ? 0 : xid; }
};

struct L2tpStats {
  uint64_t tunnels_set_up = 0;
  uint64_t ids_translated = 0;                            // the client's Tunnel ID collided and was rewritten
  uint64_t port_nat = 0;                                  // hidden Tunnel ID: per-port NAT
  std::array<uint64_t, VPNPT_L2TP_REFUSE_MAX> refused{};  // by enum vpnpt_l2tp_refusal
  std::array<uint64_t, 8> ended{};                        // by enum vpnpt_diag_close
};

class L2tpSlowPath {
 public:
  // Transmits a finished Ethernet frame on @ifindex; false if it could not.
  using Send = std::function<bool(uint32_t ifindex, const uint8_t* frame, size_t len)>;
  // Told about tunnels that end, with why (enum vpnpt_diag_close).
  using OnClose = std::function<void(uint16_t xid, const vpnpt_l2tp_tunnel&, uint32_t why)>;

  // Maps the tables read-write (ready() says whether that worked) and counts the tunnels it adopts.
  L2tpSlowPath(const L2tpMaps& maps, L2tpTimeouts t, Send send, OnClose on_close = {});

  // Whether the tables could be mapped; until they are, every request is refused (table_full).
  const Status& ready() const { return ready_; }

  // A record from the punt ring. SETUP records return what was done with them.
  // A tunnel request queued before L2TP was switched off (@switched_on false) is refused: the
  // daemon flushed L2TP's tunnels when the switch went off, and none may appear after that.
  std::optional<L2tpSetup> on_punt(const vpnpt_l2tp_punt& rec, size_t size, uint32_t public_ip, uint64_t now_ns,
                                   bool switched_on = true);

  void sweep(uint64_t now_ns);
  // Recounts the ICMP quote index from the tunnels alive now (every sweep does).
  QuoteRecount recount_quotes() const;
  // Removes every tunnel (L2TP was switched off). Returns how many.
  uint32_t flush();

  const L2tpStats& stats() const { return stats_; }

 private:
  // A tunnel request from the LAN: addresses and ports in network order, as on the wire.
  struct Request {
    uint32_t client = 0, server = 0;
    uint16_t sport = 0;
    uint16_t want = 0;    // the client's Assigned Tunnel ID (0: hidden)
    bool hidden = false;  // its Assigned Tunnel ID is hidden: per-port NAT
    uint32_t lan_ifindex = 0;
  };
  L2tpSetup setup(const vpnpt_l2tp_punt& rec, uint32_t public_ip, uint64_t now_ns);
  std::optional<uint16_t> retransmitted(const Request& r, const std::vector<uint16_t>& mine, uint64_t now_ns) const;
  void allocate(const Request& r, const std::vector<uint16_t>& mine, uint64_t now_ns, L2tpSetup& s);
  void follow(const vpnpt_l2tp_punt& rec, uint64_t now_ns);
  void remove(uint16_t xid, const vpnpt_l2tp_tunnel& t, uint32_t why);
  std::optional<uint16_t> free_tunnel_id(uint16_t want, uint32_t server, uint64_t now_ns) const;
  bool kernel_carries(uint32_t server, uint16_t xid, uint64_t now_ns) const;
  std::optional<uint16_t> free_port_nat_port() const;
  void recount(const std::vector<L2tpTunnel>& live);
  bool carries(uint16_t xid, uint32_t server, uint16_t server_tid) const;
  void note_quote(uint16_t xid, const vpnpt_l2tp_tunnel& t) const;

  std::optional<L2tpTable> table_;
  std::optional<QuoteIndex> quote_;
  int kernel_ids_ = -1;  // vpnpt_l2tp_kernel_v1
  Status ready_;
  std::unordered_map<uint32_t, uint32_t> held_;  // tunnels per LAN host; recounted by every sweep
  L2tpTimeouts t_;
  Send send_;
  OnClose on_close_;
  L2tpStats stats_;
};

}  // namespace vpnpt
