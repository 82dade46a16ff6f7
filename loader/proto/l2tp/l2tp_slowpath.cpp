#include "loader/core/log_subject.h"
#include "loader/proto/l2tp/l2tp_slowpath.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <spdlog/spdlog.h>
#include <sys/random.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include "loader/core/clock.h"
#include "loader/core/ipv4.h"
#include "loader/proto/l2tp/l2tp_msg.h"
#include "loader/core/netif.h"

namespace vpnpt {
namespace {

uint64_t ns(std::chrono::seconds s) { return static_cast<uint64_t>(s.count()) * 1000000000ull; }

// A queued frame, parsed: addresses and ports in network order as on the wire.
struct Parsed {
  std::vector<uint8_t> frame;
  size_t l3 = 0;
  UdpPayload udp;
  L2tpMessage msg;
  uint32_t saddr = 0, daddr = 0;
  uint16_t sport = 0, dport = 0;

  uint8_t* ip() { return frame.data() + l3; }
};

std::optional<Parsed> parse_punt(const vpnpt_l2tp_punt& rec) {
  if (rec.frame_len > sizeof(rec.frame) || rec.l3_off >= rec.frame_len) return std::nullopt;
  Parsed p;
  p.frame.assign(rec.frame, rec.frame + rec.frame_len);
  p.l3 = rec.l3_off;
  auto u = udp_payload(p.ip(), p.frame.size() - p.l3);
  if (!u) return std::nullopt;
  p.udp = *u;
  auto m = parse_l2tp(p.ip() + u->offset, u->length);
  if (!m) return std::nullopt;
  p.msg = *m;
  std::memcpy(&p.saddr, p.ip() + 12, 4);
  std::memcpy(&p.daddr, p.ip() + 16, 4);
  std::memcpy(&p.sport, p.ip() + u->ihl, 2);
  std::memcpy(&p.dport, p.ip() + u->ihl + 2, 2);
  return p;
}

uint16_t random16() {
  uint16_t v = 0;
  if (getrandom(&v, sizeof(v), 0) != sizeof(v)) v = static_cast<uint16_t>(monotonic_ns());
  return v;
}

LogSubject subject(const vpnpt_l2tp_tunnel& t) { return {t.client, t.server, "l2tp"}; }

std::string tunnel_name(uint16_t xid, const vpnpt_l2tp_tunnel& t) {
  bool port_nat = t.flags & VPNPT_L2TP_F_PORT_NAT;
  return format_ipv4(t.client) + ":" + std::to_string(ntohs(t.client_port)) + " tunnel " +
         std::to_string(ntohs(t.client_tunnel_id)) + " -> " + format_ipv4(t.server) + " as " +
         (port_nat ? std::string("any tunnel") : "tunnel " + std::to_string(xid)) + " on port " +
         std::to_string(ntohs(t.public_port));
}

}  // namespace

std::optional<L2tpSetup> L2tpSlowPath::on_punt(const vpnpt_l2tp_punt& rec, size_t size, uint32_t public_ip,
                                               uint64_t now_ns, bool switched_on) {
  if (size < sizeof(rec)) return std::nullopt;  // records are fixed-size
  if (rec.kind == VPNPT_PUNT_SETUP) {
    L2tpSetup s;
    if (!switched_on)
      s.refusal = VPNPT_L2TP_REFUSE_SWITCHED_OFF;
    else if (now_ns > rec.ktime_ns &&
             now_ns - rec.ktime_ns > static_cast<uint64_t>(t_.setup_stale.count()) * 1000000ull)
      s.refusal = VPNPT_L2TP_REFUSE_STALE;
    else
      s = setup(rec, public_ip, now_ns);
    if (!s.sent && s.refusal < stats_.refused.size()) stats_.refused[s.refusal]++;
    return s;
  }
  if (rec.kind == VPNPT_PUNT_COPY) follow(rec, now_ns);
  return std::nullopt;
}

L2tpSlowPath::L2tpSlowPath(const L2tpMaps& maps, L2tpTimeouts t, Send send, OnClose on_close)
    : kernel_ids_(maps.kernel), t_(t), send_(std::move(send)), on_close_(std::move(on_close)) {
  auto tab = L2tpTable::map(maps);
  if (!tab) {
    ready_ = tab.error();
    return;
  }
  table_.emplace(std::move(*tab));
  if (maps.quote >= 0) {
    auto quote = QuoteIndex::map(maps.quote, VPNPT_MAP_L2TP_QUOTE);
    if (!quote) {
      ready_ = quote.error();
      return;
    }
    quote_.emplace(std::move(*quote));
  }
  recount(table_->live());  // tunnels a previous daemon set up are adopted as they are
}

void L2tpSlowPath::recount(const std::vector<L2tpTunnel>& live) {
  held_.clear();
  for (const auto& l : live) held_[l.t.client]++;
}

// The kernel's NAT carries a tunnel the server knows by @xid (seen lately by the hooks,
// abi/vpnpt_abi.h): a vpnpt tunnel with that id toward the server would take its packets.
bool L2tpSlowPath::kernel_carries(uint32_t server, uint16_t xid, uint64_t now_ns) const {
  if (kernel_ids_ < 0) return false;
  vpnpt_l2tp_kernel_key k{server, htons(xid), 0};
  uint64_t seen = 0;
  if (bpf_map_lookup_elem(kernel_ids_, &k, &seen)) return false;
  return seen > now_ns || now_ns - seen < VPNPT_L2TP_KERNEL_FRESH_NS;
}

std::optional<uint16_t> L2tpSlowPath::free_tunnel_id(uint16_t want, uint32_t server, uint64_t now_ns) const {
  auto usable = [&](uint16_t id) { return table_->is_free(id) && !kernel_carries(server, id, now_ns); };
  if (want && usable(want)) return want;  // the client's own id (host order), if nobody has it
  // Random probes: with n of 65,535 ids taken each one fails with probability n / 65,535.
  for (int i = 0; i < 4096; ++i) {
    uint16_t id = random16();
    if (usable(id)) return id;
  }
  return std::nullopt;
}

std::optional<uint16_t> L2tpSlowPath::free_port_nat_port() const {
  // Unique on the gateway: the WAN hook finds a per-port NAT tunnel by its port alone. Rare (hidden
  // Tunnel IDs, clashing source ports), so a scan of the table is affordable here.
  std::set<uint16_t> used;
  for (const auto& l : table_->live()) used.insert(ntohs(l.t.public_port));
  uint32_t span = kL2tpPortNatLast - kL2tpPortNatFirst + 1;
  uint32_t start = random16() % span;
  for (uint32_t i = 0; i < span; ++i) {
    uint16_t port = static_cast<uint16_t>(kL2tpPortNatFirst + (start + i) % span);
    if (!used.count(port) && !table_->port_owner(htons(port))) return port;
  }
  return std::nullopt;
}

namespace {

// A tunnel request vpnpt can set up: an SCCRQ naming its Assigned Tunnel ID, or hiding it.
// Tunnel ID 0 is reserved (RFC 2661 3.1: "no tunnel yet").
bool is_setup_request(const std::optional<Parsed>& p) {
  return p && p->msg.control && p->msg.type == kL2tpSccrq &&
         (p->msg.assigned_tunnel || p->msg.assigned_tunnel_hidden) &&
         !(p->msg.assigned_tunnel && *p->msg.assigned_tunnel == 0);
}

// The request as it leaves the public side: source address and port, the Assigned Tunnel ID the
// server will answer to (@wire_id, if it is not the client's own @want), TTL, checksums, MACs.
// Returns the frame's length.
size_t rewrite_request(Parsed& p, const vpnpt_l2tp_punt& rec, uint32_t public_ip, uint16_t public_port,
                       uint16_t wire_id, uint16_t want, bool hidden) {
  uint8_t* ip = p.ip();
  std::memcpy(ip + 12, &public_ip, 4);
  ip[8]--;
  ip[10] = ip[11] = 0;
  uint16_t ipsum = htons(ipv4_checksum(ip, p.udp.ihl));
  std::memcpy(ip + 10, &ipsum, 2);
  uint8_t* udp = ip + p.udp.ihl;
  std::memcpy(udp, &public_port, 2);
  if (!hidden && wire_id != want) std::memcpy(ip + p.udp.offset + p.msg.assigned_tunnel_offset, &wire_id, 2);
  bool had_sum = udp[6] || udp[7];
  udp[6] = udp[7] = 0;
  if (had_sum) {
    uint16_t us = htons(udp_checksum(ip, p.udp.ihl, p.udp.length + 8));
    std::memcpy(udp + 6, &us, 2);
  }
  std::memcpy(p.frame.data(), rec.dmac, 6);
  std::memcpy(p.frame.data() + 6, rec.smac, 6);
  uint16_t tot = static_cast<uint16_t>(ip[2] << 8 | ip[3]);
  return p.l3 + tot;
}

}  // namespace

// A retransmitted request of one of the source's tunnels toward this server gets the same answer.
// That includes a tunnel the server already answered whose client never confirmed it (the answer
// was lost on the LAN) while the client may still be resending: a second tunnel would be a phantom
// the server sets up, whose StopCCN reaches the client under the same id.
std::optional<uint16_t> L2tpSlowPath::retransmitted(const Request& r, const std::vector<uint16_t>& mine,
                                                    uint64_t now_ns) const {
  for (uint16_t x : mine) {
    auto t = table_->get(x);
    bool unconfirmed = t.state == VPNPT_L2TP_ESTABLISHED && !(t.flags & VPNPT_L2TP_F_CONFIRMED) &&
                       now_ns - std::min<uint64_t>(now_ns, t.created_ns) < ns(t_.unanswered);
    if ((t.state == VPNPT_L2TP_REQUESTED || unconfirmed) && t.client_tunnel_id == r.want &&
        bool(t.flags & VPNPT_L2TP_F_PORT_NAT) == r.hidden)
      return x;
  }
  return std::nullopt;
}

// A new tunnel for @r: its public port and slot, inserted. Fills s.xid and s.tunnel, or s.refusal.
void L2tpSlowPath::allocate(const Request& r, const std::vector<uint16_t>& mine, uint64_t now_ns, L2tpSetup& s) {
  if (held_[r.client] >= t_.host_max_tunnels) {
    s.refusal = VPNPT_L2TP_REFUSE_HOST_QUOTA;  // one host cannot take the table from the others
    return;
  }
  // The public port: the one the source's other tunnels to the server use (its packets are
  // translated by source, so all of them leave from one port); else the client's own, unless its
  // tunnel ID is hidden (per-port NAT) or the port is another tunnel's per-port NAT port toward
  // this server.
  uint16_t public_port = r.sport;
  if (!mine.empty()) {
    if (r.hidden) {
      s.refusal = VPNPT_L2TP_REFUSE_NO_PORT;  // a hidden id needs a port of its own; this source shares one
      return;
    }
    public_port = table_->get(mine.front()).public_port;
  } else {
    auto owner = table_->port_owner(r.sport);
    if (r.hidden || (owner && table_->get(*owner).server == r.server)) {
      auto port = free_port_nat_port();
      if (!port) {
        s.refusal = VPNPT_L2TP_REFUSE_NO_PORT;
        return;
      }
      public_port = htons(*port);
    }
  }
  // The slot: the client's own id when no tunnel on the gateway has it, otherwise a free one.
  auto xid = free_tunnel_id(r.hidden ? 0 : ntohs(r.want), r.server, now_ns);
  if (!xid) {
    s.refusal = VPNPT_L2TP_REFUSE_NO_ID;
    return;
  }
  auto& t = s.tunnel;
  t = {};
  t.state = VPNPT_L2TP_REQUESTED;
  t.server = r.server;
  t.client = r.client;
  t.client_port = r.sport;
  t.public_port = public_port;
  t.client_tunnel_id = r.want;
  t.lan_ifindex = r.lan_ifindex;
  t.flags = r.hidden ? VPNPT_L2TP_F_PORT_NAT : 0;
  t.created_ns = t.last_seen_ns = t.last_out_ns = now_ns;
  if (!table_->insert(*xid, t)) {
    s.refusal = VPNPT_L2TP_REFUSE_TABLE_FULL;  // the source's index run is full
    return;
  }
  s.xid = *xid;
  s.tunnel = table_->get(*xid);
  held_[r.client]++;
  s.new_tunnel = true;
  stats_.tunnels_set_up++;
  if (r.hidden) stats_.port_nat++;
  if (!r.hidden && htons(s.xid) != r.want) stats_.ids_translated++;
  log_about(subject(t), spdlog::level::info, "L2TP tunnel set up: {}{}", tunnel_name(s.xid, t),
            r.hidden ? " (Assigned Tunnel ID hidden: per-port NAT)" : "");
}

L2tpSetup L2tpSlowPath::setup(const vpnpt_l2tp_punt& rec, uint32_t public_ip, uint64_t now_ns) {
  L2tpSetup s;
  if (!table_) {
    s.refusal = VPNPT_L2TP_REFUSE_TABLE_FULL;
    return s;
  }
  auto p = parse_punt(rec);
  if (!is_setup_request(p)) {
    s.refusal = VPNPT_L2TP_REFUSE_MALFORMED;
    return s;
  }
  Request r;
  r.client = p->saddr;
  r.server = p->daddr;
  r.sport = p->sport;
  r.hidden = !p->msg.assigned_tunnel;
  r.want = r.hidden ? 0 : htons(*p->msg.assigned_tunnel);
  r.lan_ifindex = rec.in_ifindex;

  auto mine = table_->find_outbound(r.client, r.server, r.sport);
  if (auto x = retransmitted(r, mine, now_ns)) {
    s.xid = *x;
    s.tunnel = table_->get(*x);
  } else {
    allocate(r, mine, now_ns, s);
    if (s.refusal) return s;
  }
  size_t len = rewrite_request(*p, rec, public_ip, s.tunnel.public_port, htons(s.xid), r.want, r.hidden);
  s.sent = send_ && send_(rec.out_ifindex, p->frame.data(), len);
  return s;
}

void L2tpSlowPath::follow(const vpnpt_l2tp_punt& rec, uint64_t now_ns) {
  auto p = parse_punt(rec);
  if (!table_ || !p || !p->msg.control || !p->msg.type) return;
  uint16_t type = p->msg.type;
  if (type != kL2tpSccrp && type != kL2tpScccn && type != kL2tpStopccn && type != kL2tpIcrq && type != kL2tpOcrq &&
      type != kL2tpCdn)
    return;

  std::optional<uint16_t> xid;
  uint16_t hdr_tid = htons(p->msg.tunnel_id);
  if (rec.dir == VPNPT_DIR_INBOUND) {
    // From the server: the header names the tunnel as the server knows it.
    xid = table_->find_inbound(p->saddr, p->dport, hdr_tid);
  } else {
    // From the client: the header carries the server's id for the tunnel.
    for (uint16_t x : table_->find_outbound(p->saddr, p->daddr, p->sport))
      if (!xid && table_->get(x).server_tunnel_id == hdr_tid) xid = x;
  }
  if (!xid) return;

  // Single fields in place: the counters the hooks keep in the slot are not touched.
  auto& t = table_->slot(*xid);
  switch (type) {
    case kL2tpSccrp:
      if (rec.dir != VPNPT_DIR_INBOUND) return;
      if (p->msg.assigned_tunnel) {
        t.server_tunnel_id = htons(*p->msg.assigned_tunnel);
        note_quote(*xid, t);
      }
      if (t.state == VPNPT_L2TP_REQUESTED)
        __atomic_store_n(&t.state, uint32_t{VPNPT_L2TP_ESTABLISHED}, __ATOMIC_RELEASE);
      break;
    case kL2tpScccn:
      if (rec.dir == VPNPT_DIR_OUTBOUND)
        __atomic_fetch_or(&t.flags, uint32_t{VPNPT_L2TP_F_CONFIRMED}, __ATOMIC_RELEASE);
      break;
    case kL2tpStopccn:
      if (t.state == VPNPT_L2TP_CLOSING) return;
      t.closed_ns = now_ns;
      __atomic_store_n(&t.state, uint32_t{VPNPT_L2TP_CLOSING}, __ATOMIC_RELEASE);
      log_about(subject(t), spdlog::level::info, "L2TP tunnel {} stopping (StopCCN from the {})", tunnel_name(*xid, t),
                rec.dir == VPNPT_DIR_INBOUND ? "server" : "client");
      break;
    case kL2tpIcrq:
    case kL2tpOcrq: t.sessions++; break;
    case kL2tpCdn:
      if (t.sessions) t.sessions--;
      break;
  }
}

// ICMP errors quoting the tunnel's packets name it by (server, the server's Tunnel ID).
bool L2tpSlowPath::carries(uint16_t xid, uint32_t server, uint16_t server_tid) const {
  const vpnpt_l2tp_tunnel t = table_->get(xid);
  return vpnpt_l2tp_quotable(&t, server, server_tid);
}

void L2tpSlowPath::note_quote(uint16_t xid, const vpnpt_l2tp_tunnel& t) const {
  if (!quote_ || !carries(xid, t.server, t.server_tunnel_id)) return;
  quote_->note(t.server, t.server_tunnel_id, xid, [&](uint16_t other) {
    return carries(other, t.server, t.server_tunnel_id) && table_->get(other).client != t.client;
  });
}

QuoteRecount L2tpSlowPath::recount_quotes() const {
  if (!table_ || !quote_) return {};
  return quote_->recount([this] {
    std::vector<QuoteSession> live;
    for (const auto& [xid, t] : table_->live())
      if (vpnpt_l2tp_quotable(&t, t.server, t.server_tunnel_id))
        live.push_back({t.server, t.server_tunnel_id, xid, t.client});
    return live;
  });
}

void L2tpSlowPath::remove(uint16_t xid, const vpnpt_l2tp_tunnel& t, uint32_t why) {
  table_->erase(xid);
  if (auto h = held_.find(t.client); h != held_.end() && h->second) h->second--;
  if (why < stats_.ended.size()) stats_.ended[why]++;
  if (on_close_) on_close_(xid, t, why);
}

void L2tpSlowPath::sweep(uint64_t now_ns) {
  if (!table_) return;
  auto live = table_->live();
  recount(live);
  for (const auto& [xid, t] : live) {
    uint64_t last = std::max(t.last_seen_ns, t.last_out_ns);
    if (t.state == VPNPT_L2TP_CLOSING) {
      if (now_ns - t.closed_ns >= ns(t_.closing_grace)) remove(xid, t, VPNPT_CLOSE_STOPCCN);
    } else if (t.state == VPNPT_L2TP_REQUESTED && !t.packets_in && now_ns - t.created_ns >= ns(t_.unanswered)) {
      log_about(subject(t), spdlog::level::info, "L2TP tunnel {} expired: the server never answered",
                tunnel_name(xid, t));
      remove(xid, t, VPNPT_CLOSE_UNANSWERED);
    } else if (now_ns > last && now_ns - last >= ns(t_.idle)) {
      log_about(subject(t), spdlog::level::info, "L2TP tunnel {} expired: idle", tunnel_name(xid, t));
      remove(xid, t, VPNPT_CLOSE_IDLE);
    }
  }
  recount_quotes();
}

uint32_t L2tpSlowPath::flush() {
  if (!table_) return 0;
  uint32_t n = 0;
  for (const auto& [xid, t] : table_->live()) {
    remove(xid, t, VPNPT_CLOSE_FLUSHED);
    ++n;
  }
  recount_quotes();
  return n;
}

}  // namespace vpnpt
