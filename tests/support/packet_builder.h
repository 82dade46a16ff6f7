// Builds test frames byte by byte: Ethernet (+VLAN tags), IPv4 (+options,
// fragments, deliberately wrong fields) and TCP/UDP/GRE/ESP payloads, with
// correct checksums unless a test asks otherwise. Checksum verifiers for
// the output side live here too, so every rewritten packet can be checked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pkt {

using Bytes = std::vector<uint8_t>;

inline constexpr uint16_t kEthIpv4 = 0x0800;
inline constexpr uint16_t kEthIpv6 = 0x86DD;
inline constexpr uint16_t kEthArp = 0x0806;
inline constexpr uint16_t kEth8021Q = 0x8100;
inline constexpr uint16_t kEth8021AD = 0x88A8;

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoGre = 47;
inline constexpr uint8_t kProtoEsp = 50;
inline constexpr uint8_t kProtoAh = 51;

// Network-byte-order IPv4 address from "A.B.C.D" (aborts on a typo: test input).
uint32_t ip(const std::string& dotted);

// --- L4 payloads (checksums of TCP/UDP are filled in by ipv4()) ---
Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload = {});
Bytes tcp(uint16_t sport, uint16_t dport, const Bytes& payload = {}, uint8_t flags = 0x18 /* PSH|ACK */,
          uint32_t seq = 1000, uint32_t ack = 2000);
// Enhanced GRE (RFC 2637): version 1, protocol 0x880B, key = payload length | call id.
Bytes gre_v1(uint16_t call_id, const Bytes& payload, std::optional<uint32_t> seq = std::nullopt,
             std::optional<uint32_t> ack = std::nullopt);
// Plain GRE (RFC 2784), version 0.
Bytes gre_v0(uint16_t proto, const Bytes& payload);
Bytes esp(uint32_t spi, uint32_t seq, const Bytes& payload = Bytes(16, 0xab));
Bytes ah(uint32_t spi, uint32_t seq);
Bytes icmp_echo(uint16_t id, uint16_t seq);
// An ICMP error (@type 3, 11, 12) quoting @quoted; @mtu fills the next-hop MTU field (type 3 code 4).
Bytes icmp_error(uint8_t type, uint8_t code, uint16_t mtu, const Bytes& quoted);

struct Ipv4Opts {
  uint8_t ttl = 64;
  uint16_t id = 0x1234;
  uint16_t frag = 0;  // flags + fragment offset field, host order
  Bytes options;      // padded to 4 bytes
  std::optional<uint8_t> version;
  std::optional<uint8_t> ihl;  // override the computed IHL
  std::optional<uint16_t> tot_len;
  bool l4_checksum = true;  // fill TCP/UDP checksums
};

// IPv4 header + @l4. Computes lengths and checksums (IP, and TCP/UDP over the pseudo-header).
Bytes ipv4(uint32_t src, uint32_t dst, uint8_t proto, const Bytes& l4, const Ipv4Opts& o = {});

struct EthOpts {
  std::vector<uint16_t> vlans;  // outer first; each tag uses TPID 0x8100 unless qinq
  bool qinq = false;            // outer TPID 0x88A8
  uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x01};
  uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x02};
};

// Ethernet frame around @l3.
Bytes ether(const Bytes& l3, uint16_t ethertype = kEthIpv4, const EthOpts& o = {});

// Shorthand: Ethernet + IPv4 + l4.
Bytes frame(uint32_t src, uint32_t dst, uint8_t proto, const Bytes& l4, const Ipv4Opts& ip = {},
            const EthOpts& eth = {});

// The datagram frame(src, dst, proto, l4, ip, eth) would carry, as two IPv4 fragments (MF, then
// offset @cut / 8): the first holds the first @cut bytes of @l4 (a multiple of 8) with the whole
// datagram's TCP/UDP checksum, the second the rest. @ip.frag is ignored.
std::pair<Bytes, Bytes> fragments(uint32_t src, uint32_t dst, uint8_t proto, const Bytes& l4, size_t cut,
                                  Ipv4Opts ip = {}, const EthOpts& eth = {});

Bytes truncate(Bytes b, size_t len);
// The first @keep bytes of a packet as the gateway sent it toward a server (TTL 63, DF): what an ICMP error quotes.
Bytes quoted_ipv4(uint32_t src, uint32_t dst, uint8_t proto, const Bytes& l4, size_t keep);
// "Fragmentation needed, next-hop MTU 1400" from @from (a router on the path) to @to, quoting @quoted, as a frame.
Bytes frag_needed(uint32_t from, uint32_t to, const Bytes& quoted, const EthOpts& e, uint8_t ttl = 60);
Bytes pad_to(Bytes b, size_t len);

// Offset of the IPv4 header in a frame (walks VLAN tags), or nullopt.
std::optional<size_t> l3_offset(const Bytes& frame);
bool ipv4_checksum_ok(const Bytes& frame);
// TCP/UDP checksum over the pseudo-header; true for other protocols.
bool l4_checksum_ok(const Bytes& frame);
// True if the @len bytes at @off sum to 0xffff (ones' complement): a header or message whose checksum is right.
bool sum_ok(const Bytes& b, size_t off, size_t len);

std::string hex(const Bytes& b);

}  // namespace pkt
