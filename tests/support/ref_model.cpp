#include <cstring>
#include "ref_model.h"

namespace vpnpt::test::model {
namespace {

constexpr uint16_t kTpid8021Q = 0x8100, kTpid8021AD = 0x88A8, kEthIp = 0x0800;

uint16_t be16(const Bytes& b, size_t off) { return static_cast<uint16_t>(b[off] << 8 | b[off + 1]); }
uint32_t be32(const Bytes& b, size_t off) {
  return uint32_t(b[off]) << 24 | uint32_t(b[off + 1]) << 16 | uint32_t(b[off + 2]) << 8 | b[off + 3];
}
// Network-order address as it sits in the frame.
uint32_t addr(const Bytes& b, size_t off) {
  uint32_t a;
  __builtin_memcpy(&a, b.data() + off, 4);
  return a;
}
uint32_t host_order(uint32_t net) { return __builtin_bswap32(net); }

Parsed malformed(Parsed p, uint32_t reason) {
  p.cls = VPNPT_CLASS_MALFORMED;
  p.reason = reason;
  return p;
}

Expect pass(uint32_t cls, uint32_t reason, std::string why) {
  Expect e;
  e.cls = cls;
  e.reason = reason;
  e.verdicts = {XDP_PASS};
  e.why = std::move(why);
  return e;
}

}  // namespace

Parsed parse(const Bytes& f, unsigned vlan_depth) {
  Parsed p;
  if (f.size() < 14) return malformed(p, VPNPT_REASON_ETH_TRUNC);
  size_t off = 12;
  uint16_t type = be16(f, off);
  while (type == kTpid8021Q || type == kTpid8021AD) {
    if (p.vlans >= vlan_depth) return malformed(p, VPNPT_REASON_VLAN_TOO_DEEP);
    if (f.size() < off + 2 + 4) return malformed(p, VPNPT_REASON_VLAN_TRUNC);
    off += 4;
    type = be16(f, off);
    p.vlans++;
  }
  if (type != kEthIp) return p;  // non-IPv4, untouched
  p.l3 = off + 2;
  if (f.size() < p.l3 + 20) return malformed(p, VPNPT_REASON_IP_TRUNC);
  p.saddr = addr(f, p.l3 + 12);
  p.daddr = addr(f, p.l3 + 16);
  if (f[p.l3] >> 4 != 4) return malformed(p, VPNPT_REASON_IP_VERSION);
  p.ihl = (f[p.l3] & 0x0f) * 4u;
  if (p.ihl < 20 || p.l3 + p.ihl > f.size()) return malformed(p, VPNPT_REASON_IP_IHL);
  p.tot = be16(f, p.l3 + 2);
  if (p.tot < p.ihl || p.l3 + p.tot > f.size()) return malformed(p, VPNPT_REASON_IP_TOTLEN);
  uint16_t frag = be16(f, p.l3 + 6);
  p.later_fragment = (frag & 0x1fff) != 0;
  p.fragmented = (frag & 0x3fff) != 0;
  p.proto = f[p.l3 + 9];
  p.ttl = f[p.l3 + 8];
  p.ip_id = be16(f, p.l3 + 4);
  p.l4 = p.l3 + p.ihl;

  // The L4 header the class needs, inside the datagram (not in Ethernet padding).
  auto l4_fits = [&](size_t len) { return p.ihl + len <= p.tot; };
  switch (p.proto) {
    case pkt::kProtoGre:
    case pkt::kProtoEsp: {
      size_t need = p.proto == pkt::kProtoGre ? 4 : 8;
      if (!p.later_fragment) {
        if (!l4_fits(need)) return malformed(p, VPNPT_REASON_L4_TRUNC);
        p.has_l4 = true;
      }
      p.cls = p.proto == pkt::kProtoGre ? VPNPT_CLASS_GRE : VPNPT_CLASS_ESP;
      return p;
    }
    case pkt::kProtoAh: p.cls = VPNPT_CLASS_AH; return p;
    case pkt::kProtoTcp:
    case pkt::kProtoUdp: {
      p.cls = VPNPT_CLASS_OTHER;
      if (p.later_fragment) return p;  // no ports in later fragments
      if (!l4_fits(p.proto == pkt::kProtoTcp ? 20 : 8)) return malformed(p, VPNPT_REASON_L4_TRUNC);
      p.has_l4 = true;
      p.sport = be16(f, p.l4);
      p.dport = be16(f, p.l4 + 2);
      auto is = [&](uint16_t port) { return p.sport == port || p.dport == port; };
      if (p.proto == pkt::kProtoTcp) {
        if (is(1723)) p.cls = VPNPT_CLASS_PPTP_CTRL;
      } else if (is(4500)) {
        p.cls = VPNPT_CLASS_NATT;
      } else if (is(500)) {
        p.cls = VPNPT_CLASS_IKE;
      } else if (is(1701)) {
        p.cls = VPNPT_CLASS_L2TP;
      }
      return p;
    }
    default: p.cls = VPNPT_CLASS_OTHER; return p;
  }
}

uint32_t Fib::lookup(uint32_t daddr, size_t tot_len, bool* to_wan) const {
  uint32_t d = host_order(daddr);
  *to_wan = false;
  if (tot_len > 1500) return VPNPT_REASON_FIB_OTHER;  // MTU of the test router's veths
  if ((d >> 8) == 0xC0A801) {                         // 192.168.1.0/24 on lan0
    uint32_t h = d & 0xff;
    if (h == 1 || h == 255 || h == 0) return VPNPT_REASON_FIB_OTHER;  // the router itself, broadcast
    return (h == 10 || h == 11 || resolves_neigh) ? VPNPT_REASON_NONE : VPNPT_REASON_FIB_NO_NEIGH;
  }
  if ((d >> 8) == 0xCB0071) {  // 203.0.113.0/24 on wan0
    uint32_t h = d & 0xff;
    if (h == 1 || h == 255 || h == 0) return VPNPT_REASON_FIB_OTHER;
    *to_wan = true;
    return (h == 7 || resolves_neigh) ? VPNPT_REASON_NONE : VPNPT_REASON_FIB_NO_NEIGH;
  }
  return VPNPT_REASON_FIB_OTHER;  // no default route in the test router
}

Expect Model::expect(uint32_t dir, const Bytes& f) {
  Parsed p = parse(f, vlan_depth);
  if (p.cls == VPNPT_CLASS_MALFORMED) return pass(p.cls, p.reason, "malformed: counted, passed untouched");
  if (p.cls == VPNPT_CLASS_NON_IPV4) return pass(p.cls, VPNPT_REASON_NONE, "not IPv4");
  if (p.fragmented && (p.proto == pkt::kProtoUdp || p.proto == pkt::kProtoGre || p.proto == pkt::kProtoEsp)) {
    auto key = std::make_tuple(p.saddr, p.daddr, p.ip_id, p.proto, dir);
    if (!p.later_fragment) {
      frags.erase(key);  // this datagram's first fragment decides anew
    } else if (auto it = frags.find(key); it != frags.end()) {
      Parsed q = p;
      q.cls = it->second.second;
      learn(dir, q);
      if (!public_ip) return pass(q.cls, VPNPT_REASON_NONE, "not configured");
      if (dir == VPNPT_DIR_INBOUND && p.daddr != public_ip)
        return pass(q.cls, VPNPT_REASON_NONE, "not to the public IP");
      return follow(dir, q, it->second);
    }
  }
  learn(dir, p);
  return translate(dir, p, f);
}

void Model::learn(uint32_t dir, const Parsed& p) {
  bool vpn = p.cls == VPNPT_CLASS_GRE || p.cls == VPNPT_CLASS_ESP || p.cls == VPNPT_CLASS_NATT ||
             p.cls == VPNPT_CLASS_L2TP || p.cls == VPNPT_CLASS_PPTP_CTRL;
  if (dir == VPNPT_DIR_OUTBOUND && !p.vlans && vpn && !fib.resolves_neigh) lan_l2.insert(p.saddr);
}

void Model::remember(uint32_t dir, const Parsed& p, uint32_t to) {
  if (p.fragmented) frags[{p.saddr, p.daddr, p.ip_id, p.proto, dir}] = {to, p.cls};
}

Expect Model::translate(uint32_t dir, const Parsed& p, const Bytes& f) {
  if (!public_ip) return pass(p.cls, VPNPT_REASON_NONE, "not configured");
  if (dir == VPNPT_DIR_INBOUND && p.daddr != public_ip) return pass(p.cls, VPNPT_REASON_NONE, "not to the public IP");
  bool pptp_on = switches & VPNPT_SW_PPTP, ipsec_on = switches & VPNPT_SW_IPSEC;
  switch (p.cls) {
    case VPNPT_CLASS_GRE: return pptp_on ? gre(dir, p, f) : pass(p.cls, VPNPT_REASON_PPTP_OFF, "PPTP off");
    case VPNPT_CLASS_ESP: return ipsec_on ? esp(dir, p, f) : pass(p.cls, VPNPT_REASON_IPSEC_OFF, "IPsec off");
    case VPNPT_CLASS_NATT: return ipsec_on ? natt(dir, p, f) : pass(p.cls, VPNPT_REASON_IPSEC_OFF, "IPsec off");
    case VPNPT_CLASS_AH: return pass(p.cls, VPNPT_REASON_AH_NO_NAT, "AH cannot cross NAT");
    case VPNPT_CLASS_PPTP_CTRL: return pptp_ctrl(dir, p, f);
    case VPNPT_CLASS_L2TP:
      return (switches & VPNPT_SW_L2TP) ? l2tp(dir, p, f) : pass(p.cls, VPNPT_REASON_L2TP_OFF, "L2TP off");
    case VPNPT_CLASS_IKE:  // the kernel NATs IKE; the daemon watches it
      return pass(p.cls, VPNPT_REASON_NONE, "passed to the kernel");
    default:
      if (dir == VPNPT_DIR_INBOUND && p.proto == pkt::kProtoIcmp) return icmp_error(p, f);
      return pass(p.cls, VPNPT_REASON_NONE, "passed to the kernel");
  }
}

// Outbound forwarding: vpnpt forwards itself only untagged frames the FIB sends out of the WAN.
static uint32_t plan_outbound(const Fib& fib, const Parsed& p) {
  if (p.vlans) return VPNPT_REASON_VLAN_TAGGED;
  if (p.ttl <= 1) return VPNPT_REASON_TTL_EXPIRED;
  bool to_wan = false;
  uint32_t r = fib.lookup(p.daddr, p.tot, &to_wan);
  if (!r && !to_wan) r = VPNPT_REASON_FIB_OTHER;
  return r;
}

static Expect snat(uint32_t cls, std::string why) {
  Expect e;
  e.cls = cls;
  e.reason = VPNPT_REASON_NONE;
  e.verdicts = {XDP_REDIRECT};
  e.rewrite = Rewrite::kSnat;
  e.redirect = true;
  e.why = std::move(why);
  return e;
}

Expect Model::dnat(Expect e, const Parsed& p, uint32_t host) {
  e.rewrite = Rewrite::kDnat;
  e.host = host;
  e.verdicts = {XDP_PASS};
  bool to_wan = false;
  if (p.vlans)
    e.reason = VPNPT_REASON_VLAN_TAGGED;
  else if (p.ttl <= 1)
    e.reason = VPNPT_REASON_TTL_EXPIRED;
  else
    e.reason = fib.lookup(host, p.tot, &to_wan);
  if (*e.reason == VPNPT_REASON_FIB_NO_NEIGH && lan_l2.count(host)) e.reason = VPNPT_REASON_NEIGH_LEARNED;
  if (*e.reason == VPNPT_REASON_NONE || *e.reason == VPNPT_REASON_NEIGH_LEARNED) {
    e.verdicts = {XDP_REDIRECT};
    e.redirect = true;
  }
  return e;
}

// A later fragment whose first fragment was translated: only the address changes.
Expect Model::follow(uint32_t dir, const Parsed& p, std::pair<uint32_t, uint32_t> first) {
  if (dir == VPNPT_DIR_OUTBOUND) {
    if (plan_outbound(fib, p)) {
      Expect e = pass(p.cls, VPNPT_REASON_FRAG_UNPLACED, "later fragment vpnpt cannot forward");
      e.verdicts = {XDP_DROP};
      return e;
    }
    return snat(p.cls, "later fragment of a translated datagram");
  }
  Expect e;
  e.cls = p.cls;
  e.why = "later fragment of a translated datagram";
  return dnat(e, p, first.first);
}

Expect Model::gre(uint32_t dir, const Parsed& p, const Bytes& f) {
  if (!p.has_l4) return pass(p.cls, VPNPT_REASON_GRE_FRAGMENT, "later GRE fragment, its first not translated");
  size_t end = p.l3 + p.tot;
  if (p.l4 + 8 > end) return pass(p.cls, VPNPT_REASON_L4_TRUNC, "GRE shorter than the enhanced header");
  uint8_t flags = f[p.l4], ver = f[p.l4 + 1];
  if ((flags & ~0x10) != 0x20 || (ver & ~0x80) != 1 || be16(f, p.l4 + 2) != 0x880B)
    return pass(p.cls, VPNPT_REASON_GRE_NOT_PPTP, "not enhanced GRE");
  size_t opt = ((flags & 0x10) ? 4 : 0) + ((ver & 0x80) ? 4 : 0);
  if (p.l4 + 8 + opt > end) return pass(p.cls, VPNPT_REASON_L4_TRUNC, "GRE sequence/ack cut off");
  uint16_t key = be16(f, p.l4 + 6);

  if (dir == VPNPT_DIR_OUTBOUND) {
    auto x = gre_out.find({p.saddr, p.daddr, key});
    if (x == gre_out.end()) return pass(p.cls, VPNPT_REASON_GRE_NO_CALL, "no call with that server id");
    auto c = calls.find({p.daddr, x->second});
    if (c == calls.end() || c->second.client != p.saddr || c->second.state != VPNPT_PPTP_CALL_ESTABLISHED)
      return pass(p.cls, VPNPT_REASON_GRE_NO_CALL, "call not established");
    if (uint32_t r = plan_outbound(fib, p)) return pass(p.cls, r, "cannot forward it");
    remember(dir, p, public_ip);
    return snat(p.cls, "GRE of an established call");
  }
  auto c = calls.find({p.saddr, key});
  if (c == calls.end() || c->second.state == VPNPT_PPTP_CALL_CLOSING)
    return pass(p.cls, VPNPT_REASON_GRE_NO_CALL, "no live call with that translated id");
  Expect e;
  e.cls = p.cls;
  e.gre_key = c->second.client_id;
  e.why = "GRE of a known call";
  remember(dir, p, c->second.client);
  return dnat(e, p, c->second.client);
}

Expect Model::esp(uint32_t dir, const Parsed& p, const Bytes& f) {
  if (!p.has_l4) return pass(p.cls, VPNPT_REASON_ESP_FRAGMENT, "later ESP fragment, its first not translated");
  uint32_t spi = be32(f, p.l4);
  if (dir == VPNPT_DIR_OUTBOUND) {
    if (uint32_t r = plan_outbound(fib, p)) return pass(p.cls, r, "cannot forward it");
    auto [it, fresh] = esp_out.try_emplace({p.daddr, spi}, p.saddr);
    if (it->second != p.saddr) {
      Expect e = pass(p.cls, VPNPT_REASON_ESP_SPI_CONFLICT, "SPI belongs to another host");
      e.verdicts = {XDP_DROP};
      return e;
    }
    remember(dir, p, public_ip);
    return snat(p.cls, fresh ? "new outbound SPI learned" : "known outbound SPI");
  }
  auto b = esp_in.find({p.saddr, spi});
  if (b == esp_in.end()) {
    Expect e = pass(p.cls, VPNPT_REASON_ESP_UNBOUND, "unbound SPI");
    e.verdicts = {XDP_DROP};
    return e;
  }
  Expect e;
  e.cls = p.cls;
  e.why = "bound SPI";
  remember(dir, p, b->second);
  return dnat(e, p, b->second);
}

// docs/dataplane.md "ICMP errors about vpnpt's packets": an error quoting ESP the public IP sent
// is relayed to the host that owns (server, SPI) outbound; one quoting PPTP GRE to the host of
// the one live call whose server gave that Call ID, none if two calls carry it. The rig has no
// L2TP tunnels: an L2TP quote (a 1701 port) names no session.
Expect Model::icmp_error(const Parsed& p, const Bytes& f) {
  Expect none = pass(p.cls, VPNPT_REASON_NONE, "ICMP, not an error about vpnpt's sessions");
  if (p.fragmented) return none;
  size_t icmp = p.l3 + p.ihl, in = icmp + 8;
  if (in > f.size() || (f[icmp] != 3 && f[icmp] != 11 && f[icmp] != 12)) return none;
  if (in + 20 > f.size() || f[in] >> 4 != 4 || (f[in] & 0x0f) < 5) return none;
  size_t in_ihl = (f[in] & 0x0f) * 4u;
  uint32_t qsrc, qdst;
  std::memcpy(&qsrc, &f[in + 12], 4);
  std::memcpy(&qdst, &f[in + 16], 4);
  uint8_t proto = f[in + 9];
  if (qsrc != public_ip || (proto != pkt::kProtoEsp && proto != pkt::kProtoGre && proto != pkt::kProtoUdp)) return none;
  if (in + in_ihl + 8 > f.size() || p.ihl + 8 + in_ihl + 8 > p.tot)
    return pass(p.cls, VPNPT_REASON_L4_TRUNC, "ICMP error quoting less than 8 bytes after the header");
  size_t q = in + in_ihl;
  uint32_t host = 0;
  if (proto == pkt::kProtoEsp) {
    if (!(switches & VPNPT_SW_IPSEC)) return none;
    auto it = esp_out.find({qdst, be32(f, q)});
    if (it == esp_out.end()) return pass(p.cls, VPNPT_REASON_ICMP_NO_SESSION, "ICMP error about ESP of no SA");
    host = it->second;
  } else if (proto == pkt::kProtoGre) {
    bool pptp = (f[q + 1] & 7) == 1 && (f[q] & 0x20) && be16(f, q + 2) == 0x880b;
    if (!pptp || !(switches & VPNPT_SW_PPTP)) return none;
    uint16_t server_id = be16(f, q + 6);
    std::set<uint32_t> hosts;  // of the answered calls carrying (server, server's id)
    for (const auto& [key, c] : calls) {
      bool live = c.state == VPNPT_PPTP_CALL_ESTABLISHED || c.state == VPNPT_PPTP_CALL_CLOSING;
      if (key.first == qdst && live && c.indexed && c.server_id == server_id) hosts.insert(c.client);
    }
    if (hosts.empty()) return pass(p.cls, VPNPT_REASON_ICMP_NO_SESSION, "ICMP error about GRE of no call");
    if (hosts.size() > 1)
      return pass(p.cls, VPNPT_REASON_ICMP_AMBIGUOUS, "ICMP error about GRE two hosts' calls carry");
    host = *hosts.begin();
  } else {
    if (!(switches & VPNPT_SW_L2TP)) return none;
    if (be16(f, q) == 1701 || be16(f, q + 2) == 1701)
      return pass(p.cls, VPNPT_REASON_ICMP_NO_SESSION, "ICMP error about L2TP of no tunnel");
    return none;  // other UDP: the kernel's
  }
  Expect e;
  e.cls = p.cls;
  e.why = "ICMP error about a host's session";
  e.icmp_quote = in;
  e = dnat(e, p, host);
  if (*e.reason == VPNPT_REASON_NONE) e.reason = VPNPT_REASON_ICMP_RELAYED;
  return e;
}

// The test namespace's conntrack has no UDP flows: NAT-T ESP always goes to the kernel.
Expect Model::natt(uint32_t dir, const Parsed& p, const Bytes& f) {
  if (p.fragmented) return pass(p.cls, VPNPT_REASON_ESP_FRAGMENT, "fragmented NAT-T");
  if (dir == VPNPT_DIR_OUTBOUND ? p.dport != 4500 : p.sport != 4500)
    return pass(p.cls, VPNPT_REASON_NONE, "not toward/from the server's 4500");
  size_t end = p.l3 + p.tot;
  bool is_esp = p.l4 + 16 <= end && be32(f, p.l4 + 8) != 0;
  if (!is_esp) return pass(p.cls, VPNPT_REASON_NATT_NOT_ESP, "IKE or keepalive on 4500");
  if (p.vlans) return pass(p.cls, VPNPT_REASON_VLAN_TAGGED, "tagged");
  return pass(p.cls, VPNPT_REASON_NATT_NO_CT, "no conntrack entry");
}

// docs/l2tp.md. No tunnels are installed and no daemon runs in the property tests.
Expect Model::l2tp(uint32_t dir, const Parsed& p, const Bytes& f) {
  // (Later fragments have no ports: they are never L2TP without a record, which needs a tunnel.)
  size_t l2 = p.l4 + 8, end = p.l3 + p.tot;
  if (l2 + 6 > end) return pass(p.cls, VPNPT_REASON_L2TP_NOT_V2, "L2TP header cut off");
  uint16_t flags = be16(f, l2);
  if ((flags & 0x000f) != 2) return pass(p.cls, VPNPT_REASON_L2TP_NOT_V2, "not version 2");
  bool control = flags & 0x8000;
  if (control && ((flags & 0x4a00) != 0x4800 || l2 + 12 > end))
    return pass(p.cls, VPNPT_REASON_L2TP_NOT_V2, "control message without length/sequence, or cut off");
  uint16_t tid = be16(f, l2 + ((flags & 0x4000) ? 4 : 2));
  if (dir == VPNPT_DIR_OUTBOUND && control && tid == 0)
    return p.fragmented ? pass(p.cls, VPNPT_REASON_L2TP_FRAGMENT, "fragmented tunnel request")
                        : pass(p.cls, VPNPT_REASON_L2TP_NO_DAEMON, "tunnel request, no daemon");
  return pass(p.cls, VPNPT_REASON_L2TP_NO_TUNNEL, "no tunnel");
}

Expect Model::pptp_ctrl(uint32_t dir, const Parsed& p, const Bytes& f) {
  if (dir == VPNPT_DIR_OUTBOUND ? p.dport != 1723 : p.sport != 1723)
    return pass(p.cls, VPNPT_REASON_NONE, "PPTP server on the LAN: not a passthrough");
  if (!(switches & VPNPT_SW_PPTP)) return pass(p.cls, VPNPT_REASON_PPTP_OFF, "PPTP off");
  if (p.fragmented) return pass(p.cls, VPNPT_REASON_NONE, "fragmented control segment");
  size_t doff = (f[p.l4 + 12] >> 4) * 4u;
  if (doff < 20 || p.ihl + doff > p.tot) return pass(p.cls, VPNPT_REASON_L4_TRUNC, "TCP options cut off");
  Expect e;
  e.cls = p.cls;
  e.verdicts = {XDP_PASS, XDP_DROP};  // held segments are dropped; TCP resends them
  e.rewrite = Rewrite::kPptpPayload;
  e.why = "PPTP control segment";
  return e;
}

}  // namespace vpnpt::test::model
