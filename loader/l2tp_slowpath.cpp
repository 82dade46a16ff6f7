#include "loader/l2tp_slowpath.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <spdlog/spdlog.h>
#include <sys/random.h>

#include <cstring>
#include <set>
#include <vector>

#include "loader/l2tp_msg.h"
#include "loader/map_dump.h"
#include "loader/netif.h"
#include "loader/pptp_slowpath.h"

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

std::string tunnel_name(const vpnpt_l2tp_tunnel_key& k, const vpnpt_l2tp_tunnel& t) {
  return format_ipv4(t.client) + ":" + std::to_string(ntohs(t.client_port)) + " tunnel " +
         std::to_string(ntohs(t.client_tunnel_id)) + " -> " + format_ipv4(k.server) + " as " +
         (k.tunnel_id ? "tunnel " + std::to_string(ntohs(k.tunnel_id)) : std::string("any tunnel")) + " on port " +
         std::to_string(ntohs(k.public_port));
}

}  // namespace

std::optional<L2tpSetup> L2tpSlowPath::on_punt(const vpnpt_l2tp_punt& rec, size_t size, uint32_t public_ip,
                                               uint64_t now_ns) {
  if (size < sizeof(rec)) return std::nullopt;  // records are fixed-size
  if (rec.kind == VPNPT_PUNT_SETUP) {
    L2tpSetup s;
    if (now_ns > rec.ktime_ns && now_ns - rec.ktime_ns > static_cast<uint64_t>(t_.setup_stale.count()) * 1000000ull)
      s.refusal = VPNPT_L2TP_REFUSE_STALE;
    else
      s = setup(rec, public_ip, now_ns);
    if (!s.sent && s.refusal < stats_.refused.size()) stats_.refused[s.refusal]++;
    return s;
  }
  if (rec.kind == VPNPT_PUNT_COPY) follow(rec, now_ns);
  return std::nullopt;
}

std::optional<uint16_t> L2tpSlowPath::free_port_nat_port(uint32_t server) const {
  std::set<uint16_t> used;
  for (const auto& [k, c] : dump_map<vpnpt_l2tp_client_key, vpnpt_l2tp_client>(m_.clients))
    if (k.server == server) used.insert(ntohs(c.public_port));
  uint32_t span = kL2tpPortNatLast - kL2tpPortNatFirst + 1;
  uint32_t start = random16() % span;
  for (uint32_t i = 0; i < span; ++i) {
    uint16_t port = static_cast<uint16_t>(kL2tpPortNatFirst + (start + i) % span);
    if (!used.count(port)) return port;
  }
  return std::nullopt;
}

L2tpSetup L2tpSlowPath::setup(const vpnpt_l2tp_punt& rec, uint32_t public_ip, uint64_t now_ns) {
  L2tpSetup s;
  auto p = parse_punt(rec);
  // Tunnel ID 0 is reserved (RFC 2661 3.1: "no tunnel yet"); as a key it would mean "any tunnel on the port".
  if (!p || !p->msg.control || p->msg.type != kL2tpSccrq ||
      (!p->msg.assigned_tunnel && !p->msg.assigned_tunnel_hidden) ||
      (p->msg.assigned_tunnel && *p->msg.assigned_tunnel == 0)) {
    s.refusal = VPNPT_L2TP_REFUSE_MALFORMED;
    return s;
  }
  bool hidden = !p->msg.assigned_tunnel;
  uint16_t want = hidden ? 0 : htons(*p->msg.assigned_tunnel);

  // A retransmitted request of a tunnel already set up gets the same answer.
  uint32_t held = 0;  // tunnels this LAN host holds, toward any server
  for (const auto& [k, t] : dump_map<vpnpt_l2tp_tunnel_key, vpnpt_l2tp_tunnel>(m_.tunnels)) {
    held += t.client == p->saddr;
    if (!s.key.server && k.server == p->daddr && t.client == p->saddr && t.client_port == p->sport &&
        t.state == VPNPT_L2TP_REQUESTED && t.client_tunnel_id == want) {
      s.key = k;
      s.tunnel = t;
    }
  }
  if (!s.key.server && held >= t_.host_max_tunnels) {
    s.refusal = VPNPT_L2TP_REFUSE_HOST_QUOTA;  // one host cannot take the table from the others
    return s;
  }

  vpnpt_l2tp_client_key ck{};
  ck.client = p->saddr;
  ck.server = p->daddr;
  ck.client_port = p->sport;
  vpnpt_l2tp_client cl{};
  bool have_client = bpf_map_lookup_elem(m_.clients, &ck, &cl) == 0;

  if (!s.key.server) {
    // The public port: the client's own, unless its tunnel ID is hidden (per-port NAT) or the port
    // already belongs to another client's per-port NAT toward this server.
    uint16_t public_port = p->sport;
    if (have_client) {
      public_port = cl.public_port;
      if (hidden && public_port == p->sport) {
        s.refusal = VPNPT_L2TP_REFUSE_NO_PORT;  // this source already shares its port by Tunnel ID
        return s;
      }
    } else {
      vpnpt_l2tp_tunnel_key owner{};
      owner.server = p->daddr;
      owner.public_port = p->sport;
      vpnpt_l2tp_tunnel t{};
      if (hidden || bpf_map_lookup_elem(m_.tunnels, &owner, &t) == 0) {
        auto port = free_port_nat_port(p->daddr);
        if (!port) {
          s.refusal = VPNPT_L2TP_REFUSE_NO_PORT;
          return s;
        }
        public_port = htons(*port);
      }
    }

    s.key.server = p->daddr;
    s.key.public_port = public_port;
    vpnpt_l2tp_tunnel probe{};
    if (!hidden) {
      // The client's own id when it is free toward the server, otherwise a random free one.
      s.key.tunnel_id = want;
      for (int i = 0; bpf_map_lookup_elem(m_.tunnels, &s.key, &probe) == 0; ++i) {
        if (i >= 4096) {  // random probes fail this often only when nearly all 65535 ids are taken
          s.refusal = VPNPT_L2TP_REFUSE_NO_ID;
          return s;
        }
        uint16_t id = random16();
        s.key.tunnel_id = htons(id ? id : 1);  // 0 is "no tunnel yet" in L2TP headers
      }
    }
    auto& t = s.tunnel;
    t = {};
    t.client = p->saddr;
    t.client_port = p->sport;
    t.client_tunnel_id = want;
    t.lan_ifindex = rec.in_ifindex;
    t.state = VPNPT_L2TP_REQUESTED;
    t.flags = hidden ? VPNPT_L2TP_F_PORT_NAT : 0;
    t.created_ns = t.last_seen_ns = now_ns;
    if (bpf_map_update_elem(m_.tunnels, &s.key, &t, BPF_NOEXIST) != 0) {
      s.refusal = VPNPT_L2TP_REFUSE_TABLE_FULL;
      return s;
    }
    if (!have_client) {
      cl = {};
      cl.public_port = public_port;
      cl.lan_ifindex = rec.in_ifindex;
      cl.last_seen_ns = now_ns;
    }
    cl.tunnels++;
    if (bpf_map_update_elem(m_.clients, &ck, &cl, BPF_ANY) != 0) {
      bpf_map_delete_elem(m_.tunnels, &s.key);
      s.refusal = VPNPT_L2TP_REFUSE_TABLE_FULL;
      return s;
    }
    s.new_tunnel = true;
    stats_.tunnels_set_up++;
    if (hidden) stats_.port_nat++;
    if (!hidden && s.key.tunnel_id != want) stats_.ids_translated++;
    spdlog::info("L2TP tunnel set up: {}{}", tunnel_name(s.key, t),
                 hidden ? " (Assigned Tunnel ID hidden: per-port NAT)" : "");
  }

  // The request as it leaves the public side: addresses, port, Assigned Tunnel ID, TTL, MACs.
  uint8_t* ip = p->ip();
  std::memcpy(ip + 12, &public_ip, 4);
  ip[8]--;
  ip[10] = ip[11] = 0;
  uint16_t ipsum = htons(ipv4_checksum(ip, p->udp.ihl));
  std::memcpy(ip + 10, &ipsum, 2);
  uint8_t* udp = ip + p->udp.ihl;
  std::memcpy(udp, &s.key.public_port, 2);
  if (!hidden && s.key.tunnel_id != want)
    std::memcpy(ip + p->udp.offset + p->msg.assigned_tunnel_offset, &s.key.tunnel_id, 2);
  bool had_sum = udp[6] || udp[7];
  udp[6] = udp[7] = 0;
  if (had_sum) {
    uint16_t us = htons(udp_checksum(ip, p->udp.ihl, p->udp.length + 8));
    std::memcpy(udp + 6, &us, 2);
  }
  std::memcpy(p->frame.data(), rec.dmac, 6);
  std::memcpy(p->frame.data() + 6, rec.smac, 6);
  uint16_t tot = static_cast<uint16_t>(ip[2] << 8 | ip[3]);
  s.sent = send_ && send_(rec.out_ifindex, p->frame.data(), p->l3 + tot);
  return s;
}

void L2tpSlowPath::follow(const vpnpt_l2tp_punt& rec, uint64_t now_ns) {
  auto p = parse_punt(rec);
  if (!p || !p->msg.control || !p->msg.type) return;
  uint16_t type = p->msg.type;
  if (type != kL2tpSccrp && type != kL2tpStopccn && type != kL2tpIcrq && type != kL2tpOcrq && type != kL2tpCdn)
    return;

  vpnpt_l2tp_tunnel_key key{};
  vpnpt_l2tp_tunnel t{};
  bool found = false;
  uint16_t hdr_tid = htons(p->msg.tunnel_id);
  if (rec.dir == VPNPT_DIR_INBOUND) {
    // From the server: the header names the tunnel as the server knows it.
    key.server = p->saddr;
    key.public_port = p->dport;
    key.tunnel_id = hdr_tid;
    found = bpf_map_lookup_elem(m_.tunnels, &key, &t) == 0;
    if (!found) {
      key.tunnel_id = 0;
      found = bpf_map_lookup_elem(m_.tunnels, &key, &t) == 0;
    }
  } else {
    // From the client: the header carries the server's id for the tunnel.
    for (const auto& [k, v] : dump_map<vpnpt_l2tp_tunnel_key, vpnpt_l2tp_tunnel>(m_.tunnels)) {
      if (k.server == p->daddr && v.client == p->saddr && v.client_port == p->sport &&
          v.server_tunnel_id == hdr_tid) {
        key = k;
        t = v;
        found = true;
        break;
      }
    }
  }
  if (!found) return;

  switch (type) {
    case kL2tpSccrp:
      if (rec.dir != VPNPT_DIR_INBOUND) return;
      if (p->msg.assigned_tunnel) t.server_tunnel_id = htons(*p->msg.assigned_tunnel);
      if (t.state == VPNPT_L2TP_REQUESTED) t.state = VPNPT_L2TP_ESTABLISHED;
      break;
    case kL2tpStopccn:
      if (t.state == VPNPT_L2TP_CLOSING) return;
      t.state = VPNPT_L2TP_CLOSING;
      t.closed_ns = now_ns;
      spdlog::info("L2TP tunnel {} stopping (StopCCN from the {})", tunnel_name(key, t),
                   rec.dir == VPNPT_DIR_INBOUND ? "server" : "client");
      break;
    case kL2tpIcrq:
    case kL2tpOcrq:
      t.sessions++;
      break;
    case kL2tpCdn:
      if (t.sessions) t.sessions--;
      break;
  }
  // Re-read the counters the data plane keeps, so as few updates as possible are lost.
  vpnpt_l2tp_tunnel live{};
  if (bpf_map_lookup_elem(m_.tunnels, &key, &live) != 0) return;
  live.server_tunnel_id = t.server_tunnel_id;
  live.state = t.state;
  live.closed_ns = t.closed_ns;
  live.sessions = t.sessions;
  bpf_map_update_elem(m_.tunnels, &key, &live, BPF_EXIST);
}

void L2tpSlowPath::remove(const vpnpt_l2tp_tunnel_key& k, const vpnpt_l2tp_tunnel& t, uint32_t why) {
  bpf_map_delete_elem(m_.tunnels, &k);
  vpnpt_l2tp_client_key ck{};
  ck.client = t.client;
  ck.server = k.server;
  ck.client_port = t.client_port;
  vpnpt_l2tp_client cl{};
  if (bpf_map_lookup_elem(m_.clients, &ck, &cl) == 0) {
    if (cl.tunnels <= 1)
      bpf_map_delete_elem(m_.clients, &ck);
    else {
      cl.tunnels--;
      bpf_map_update_elem(m_.clients, &ck, &cl, BPF_EXIST);
    }
  }
  if (why < stats_.ended.size()) stats_.ended[why]++;
  if (on_close_) on_close_(k, t, why);
}

void L2tpSlowPath::sweep(uint64_t now_ns) {
  for (const auto& [k, t] : dump_map<vpnpt_l2tp_tunnel_key, vpnpt_l2tp_tunnel>(m_.tunnels)) {
    vpnpt_l2tp_client_key ck{};
    ck.client = t.client;
    ck.server = k.server;
    ck.client_port = t.client_port;
    vpnpt_l2tp_client cl{};
    uint64_t last = t.last_seen_ns;
    if (bpf_map_lookup_elem(m_.clients, &ck, &cl) == 0 && cl.last_seen_ns > last) last = cl.last_seen_ns;
    if (t.state == VPNPT_L2TP_CLOSING) {
      if (now_ns - t.closed_ns >= ns(t_.closing_grace)) remove(k, t, VPNPT_CLOSE_STOPCCN);
    } else if (t.state == VPNPT_L2TP_REQUESTED && !t.packets_in && now_ns - t.created_ns >= ns(t_.unanswered)) {
      spdlog::info("L2TP tunnel {} expired: the server never answered", tunnel_name(k, t));
      remove(k, t, VPNPT_CLOSE_UNANSWERED);
    } else if (now_ns > last && now_ns - last >= ns(t_.idle)) {
      spdlog::info("L2TP tunnel {} expired: idle", tunnel_name(k, t));
      remove(k, t, VPNPT_CLOSE_IDLE);
    }
  }
}

uint32_t L2tpSlowPath::flush() {
  uint32_t n = 0;
  for (const auto& [k, t] : dump_map<vpnpt_l2tp_tunnel_key, vpnpt_l2tp_tunnel>(m_.tunnels)) {
    remove(k, t, VPNPT_CLOSE_FLUSHED);
    ++n;
  }
  for (const auto& kv : dump_map<vpnpt_l2tp_client_key, vpnpt_l2tp_client>(m_.clients))
    bpf_map_delete_elem(m_.clients, &kv.first);
  return n;
}

}  // namespace vpnpt
