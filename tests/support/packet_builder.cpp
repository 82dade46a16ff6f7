#include "packet_builder.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace pkt {
namespace {

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}
void set16(Bytes& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v >> 8);
  b[off + 1] = static_cast<uint8_t>(v);
}
uint16_t get16(const Bytes& b, size_t off) { return static_cast<uint16_t>(b[off] << 8 | b[off + 1]); }

uint32_t sum16(const uint8_t* p, size_t len, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(p[len - 1] << 8);
  return sum;
}
uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len) {
  Bytes ph;
  put32(ph, ntohl(src));
  put32(ph, ntohl(dst));
  ph.push_back(0);
  ph.push_back(proto);
  put16(ph, static_cast<uint16_t>(len));
  return sum16(ph.data(), ph.size());
}

}  // namespace

uint32_t ip(const std::string& dotted) {
  in_addr a{};
  if (inet_pton(AF_INET, dotted.c_str(), &a) != 1) {
    std::fprintf(stderr, "bad test address %s\n", dotted.c_str());
    std::abort();
  }
  return a.s_addr;
}

Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, static_cast<uint16_t>(8 + payload.size()));
  put16(b, 0);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes tcp(uint16_t sport, uint16_t dport, const Bytes& payload, uint8_t flags, uint32_t seq, uint32_t ack) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, seq);
  put32(b, ack);
  b.push_back(5 << 4);  // data offset
  b.push_back(flags);
  put16(b, 65535);  // window
  put16(b, 0);      // checksum
  put16(b, 0);      // urgent
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes gre_v1(uint16_t call_id, const Bytes& payload, std::optional<uint32_t> seq, std::optional<uint32_t> ack) {
  Bytes b;
  uint8_t f0 = 0x20;  // K
  if (seq) f0 |= 0x10;
  uint8_t f1 = 0x01;  // version 1
  if (ack) f1 |= 0x80;
  b.push_back(f0);
  b.push_back(f1);
  put16(b, 0x880B);
  put16(b, static_cast<uint16_t>(payload.size()));
  put16(b, call_id);
  if (seq) put32(b, *seq);
  if (ack) put32(b, *ack);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes gre_v0(uint16_t proto, const Bytes& payload) {
  Bytes b;
  put16(b, 0);
  put16(b, proto);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes esp(uint32_t spi, uint32_t seq, const Bytes& payload) {
  Bytes b;
  put32(b, spi);
  put32(b, seq);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes ah(uint32_t spi, uint32_t seq) {
  Bytes b{kProtoUdp, 4, 0, 0};  // next header, payload len (in 4-byte words - 2), reserved
  put32(b, spi);
  put32(b, seq);
  b.insert(b.end(), 12, 0x5a);  // ICV
  return b;
}

Bytes icmp_echo(uint16_t id, uint16_t seq) {
  Bytes b{8, 0, 0, 0};
  put16(b, id);
  put16(b, seq);
  b.insert(b.end(), 8, 0x42);
  set16(b, 2, fold(sum16(b.data(), b.size())));
  return b;
}

Bytes icmp_error(uint8_t type, uint8_t code, uint16_t mtu, const Bytes& quoted) {
  Bytes b{type, code, 0, 0, 0, 0};
  put16(b, mtu);
  b.insert(b.end(), quoted.begin(), quoted.end());
  set16(b, 2, fold(sum16(b.data(), b.size())));
  return b;
}

Bytes ipv4(uint32_t src, uint32_t dst, uint8_t proto, const Bytes& l4, const Ipv4Opts& o) {
  Bytes opts = o.options;
  while (opts.size() % 4) opts.push_back(0);  // EOL padding
  size_t hlen = 20 + opts.size();
  Bytes b;
  uint8_t ihl = o.ihl.value_or(static_cast<uint8_t>(hlen / 4));
  b.push_back(static_cast<uint8_t>(o.version.value_or(4) << 4 | (ihl & 0x0f)));
  b.push_back(0);
  put16(b, o.tot_len.value_or(static_cast<uint16_t>(hlen + l4.size())));
  put16(b, o.id);
  put16(b, o.frag);
  b.push_back(o.ttl);
  b.push_back(proto);
  put16(b, 0);
  put32(b, ntohl(src));
  put32(b, ntohl(dst));
  b.insert(b.end(), opts.begin(), opts.end());
  set16(b, 10, fold(sum16(b.data(), hlen)));

  Bytes l = l4;
  bool first_frag = (o.frag & 0x1fff) == 0;
  if (o.l4_checksum && first_frag) {
    size_t csum_off = proto == kProtoTcp ? 16 : proto == kProtoUdp ? 6 : 0;
    if (csum_off && l.size() >= csum_off + 2) {
      set16(l, csum_off, 0);
      uint16_t c = fold(sum16(l.data(), l.size(), pseudo_sum(src, dst, proto, l.size())));
      if (proto == kProtoUdp && c == 0) c = 0xffff;
      set16(l, csum_off, c);
    }
  }
  b.insert(b.end(), l.begin(), l.end());
  return b;
}

std::pair<Bytes, Bytes> fragments(uint32_t src, uint32_t dst, uint8_t proto, const Bytes& l4, size_t cut, Ipv4Opts o,
                                  const EthOpts& eth) {
  if (cut % 8 || cut == 0 || cut >= l4.size() || !o.options.empty()) {
    std::fprintf(stderr, "fragments: bad cut %zu of %zu bytes\n", cut, l4.size());
    std::abort();
  }
  o.frag = 0;
  const Bytes whole = ipv4(src, dst, proto, l4, o);  // the L4 checksum over the whole datagram
  const Bytes data(whole.begin() + 20, whole.end());
  o.l4_checksum = false;  // each fragment keeps the datagram's bytes as they are
  o.frag = 0x2000;        // MF, offset 0
  Bytes first = ipv4(src, dst, proto, Bytes(data.begin(), data.begin() + static_cast<long>(cut)), o);
  o.frag = static_cast<uint16_t>(cut / 8);
  Bytes second = ipv4(src, dst, proto, Bytes(data.begin() + static_cast<long>(cut), data.end()), o);
  return {ether(first, kEthIpv4, eth), ether(second, kEthIpv4, eth)};
}

Bytes ether(const Bytes& l3, uint16_t ethertype, const EthOpts& o) {
  Bytes b(o.dst, o.dst + 6);
  b.insert(b.end(), o.src, o.src + 6);
  for (size_t i = 0; i < o.vlans.size(); ++i) {
    put16(b, (i == 0 && o.qinq) ? kEth8021AD : kEth8021Q);
    put16(b, o.vlans[i]);
  }
  put16(b, ethertype);
  b.insert(b.end(), l3.begin(), l3.end());
  return b;
}

Bytes frame(uint32_t src, uint32_t dst, uint8_t proto, const Bytes& l4, const Ipv4Opts& ipo, const EthOpts& eth) {
  return ether(ipv4(src, dst, proto, l4, ipo), kEthIpv4, eth);
}

Bytes truncate(Bytes b, size_t len) {
  if (b.size() > len) b.resize(len);
  return b;
}

Bytes quoted_ipv4(uint32_t src, uint32_t dst, uint8_t proto, const Bytes& l4, size_t keep) {
  Ipv4Opts o;
  o.ttl = 63;
  o.frag = 0x4000;  // DF
  return truncate(ipv4(src, dst, proto, l4, o), keep);
}

Bytes frag_needed(uint32_t from, uint32_t to, const Bytes& quoted, const EthOpts& e, uint8_t ttl) {
  Ipv4Opts o;
  o.ttl = ttl;
  return frame(from, to, kProtoIcmp, icmp_error(3, 4, 1400, quoted), o, e);
}

Bytes pad_to(Bytes b, size_t len) {
  if (b.size() < len) b.resize(len, 0);
  return b;
}

std::optional<size_t> l3_offset(const Bytes& f) {
  size_t off = 12;
  if (f.size() < off + 2) return std::nullopt;
  uint16_t t = get16(f, off);
  while (t == kEth8021Q || t == kEth8021AD) {
    off += 4;
    if (f.size() < off + 2) return std::nullopt;
    t = get16(f, off);
  }
  if (t != kEthIpv4) return std::nullopt;
  return off + 2;
}

bool sum_ok(const Bytes& b, size_t off, size_t len) { return fold(sum16(b.data() + off, len)) == 0; }

bool ipv4_checksum_ok(const Bytes& f) {
  auto off = l3_offset(f);
  if (!off || f.size() < *off + 20) return false;
  size_t hlen = (f[*off] & 0x0f) * 4u;
  if (f.size() < *off + hlen) return false;
  return fold(sum16(f.data() + *off, hlen)) == 0;
}

bool l4_checksum_ok(const Bytes& f) {
  auto off = l3_offset(f);
  if (!off) return false;
  const uint8_t* iph = f.data() + *off;
  size_t hlen = (iph[0] & 0x0f) * 4u;
  size_t tot = get16(f, *off + 2);
  uint8_t proto = iph[9];
  if ((get16(f, *off + 6) & 0x1fff) != 0) return true;  // later fragment: no L4 header
  if (proto != kProtoTcp && proto != kProtoUdp) return true;
  size_t l4len = tot - hlen;
  const uint8_t* l4 = iph + hlen;
  if (proto == kProtoUdp && get16(f, *off + hlen + 6) == 0) return true;  // UDP checksum disabled
  uint32_t src, dst;
  std::memcpy(&src, iph + 12, 4);
  std::memcpy(&dst, iph + 16, 4);
  return fold(sum16(l4, l4len, pseudo_sum(src, dst, proto, l4len))) == 0;
}

std::string hex(const Bytes& b) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < b.size(); ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", b[i]);
    s += buf;
    if (i % 16 == 15)
      s += '\n';
    else if (i % 2 == 1)
      s += ' ';
  }
  return s;
}

}  // namespace pkt
