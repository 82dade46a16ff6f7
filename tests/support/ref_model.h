// A reference model of the data plane for property tests: an independent
// parser written from docs/dataplane.md, and the mappings a test installed
// (PPTP calls, ESP SAs) with what each hook must do with a packet given
// them. The property tests (tests/property/test_property_*.cpp) run random and
// mutated packets through the real programs and compare with expect().
//
// Kept deliberately simple and per protocol, so a new translator (L2TP, IP
// passthrough) is one more case in Model::translate(). The property tests
// install no L2TP tunnels and run no daemon, so L2TP is always left to the
// kernel, with the reason the model predicts; IKE is only counted.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include <linux/bpf.h>

#include "abi/vpnpt_abi.h"
#include "packet_builder.h"

namespace vpnpt::test::model {

using pkt::Bytes;

// What the reference parser learned about a frame. Addresses in network
// order (as in the frame), ports and ids host order.
struct Parsed {
  uint32_t cls = VPNPT_CLASS_NON_IPV4;
  uint32_t reason = VPNPT_REASON_NONE;  // malformed reason when cls == MALFORMED
  unsigned vlans = 0;
  size_t l3 = 0, ihl = 0, tot = 0, l4 = 0;  // offsets/lengths in bytes
  bool has_l4 = false;                      // an L4 header was parsed (not a later fragment)
  bool later_fragment = false, fragmented = false;
  uint8_t proto = 0, ttl = 0;
  uint16_t ip_id = 0;
  uint32_t saddr = 0, daddr = 0;
  uint16_t sport = 0, dport = 0;
};

// docs/dataplane.md "Parsing" and "Classes". The L4 header must lie inside
// the IPv4 datagram (total length), not just inside the frame.
Parsed parse(const Bytes& frame, unsigned vlan_depth);

// The reference FIB of tests/support/test_router.h: what bpf_fib_lookup answers.
struct Fib {
  uint32_t public_ip = 0;
  // The TC hook hands packets to the neighbour layer (bpf_redirect_neigh), which
  // resolves a next hop bpf_fib_lookup has no neighbour for: no FIB_NO_NEIGH there.
  bool resolves_neigh = false;
  // VPNPT_REASON_NONE if the packet can be forwarded to @daddr, and *to_wan
  // says whether it leaves on the WAN; else FIB_NO_NEIGH or FIB_OTHER.
  uint32_t lookup(uint32_t daddr, size_t tot_len, bool* to_wan) const;
};

struct Call {
  uint32_t client = 0;
  uint16_t client_id = 0, server_id = 0;
  uint32_t state = 0;    // enum vpnpt_session_state
  bool indexed = false;  // holds an outbound GRE index slot (answered by the server)
};

enum class Rewrite {
  kNone,         // output == input
  kSnat,         // source = public IP, TTL - 1, MACs; redirected
  kDnat,         // destination = host (and GRE key = client id); redirected or passed translated
  kPptpPayload,  // PPTP control: only Call ID bytes in the TCP payload and the TCP checksum may change
};

// What the programs must do with one packet.
struct Expect {
  uint32_t cls = VPNPT_CLASS_OTHER;
  std::optional<uint32_t> reason;  // nullopt: any reason (PPTP control's stream state decides)
  std::set<uint32_t> verdicts;     // acceptable XDP verdicts
  Rewrite rewrite = Rewrite::kNone;
  uint32_t host = 0;                 // kDnat: the only host the packet may go to
  std::optional<uint16_t> gre_key;   // kDnat of GRE: the client's own Call ID
  std::optional<size_t> icmp_quote;  // kDnat of an ICMP error: offset of the quoted IPv4 header (its source = host too)
  bool redirect = false;             // kSnat/kDnat: forwarded by vpnpt itself
  std::string why;                   // for failure messages
};

// The mappings, keyed as the maps are. Addresses network order, ids host order.
struct Model {
  uint32_t public_ip = 0;
  uint32_t switches = VPNPT_SW_ALL;
  unsigned vlan_depth = VPNPT_VLAN_DEPTH_MAX;
  Fib fib;
  std::map<std::pair<uint32_t, uint16_t>, Call> calls;                   // (server, xlat id)
  std::map<std::tuple<uint32_t, uint32_t, uint16_t>, uint16_t> gre_out;  // (client, server, server id) -> xlat
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> esp_in;              // (server, spi) -> host
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> esp_out;             // (server, spi) -> host
  // Fragmented datagrams whose first fragment was translated (bpf/lib/frag.h): (saddr, daddr, IP ID,
  // protocol, direction) -> (the address it went to, its class).
  std::map<std::tuple<uint32_t, uint32_t, uint16_t, uint8_t, uint32_t>, std::pair<uint32_t, uint32_t>> frags;
  // LAN hosts whose own untagged VPN frames the LAN hook saw (bpf/lib/neigh.h): XDP sends their
  // translated packets to those MACs when the FIB has no neighbour (neigh_learned).
  std::set<uint32_t> lan_l2;

  // What must happen to @frame arriving at the hook of @dir. Outbound ESP
  // the model expects to be learned is recorded in esp_out.
  Expect expect(uint32_t dir, const Bytes& frame);

 private:
  Expect translate(uint32_t dir, const Parsed& p, const Bytes& frame);
  Expect gre(uint32_t dir, const Parsed& p, const Bytes& frame);
  Expect esp(uint32_t dir, const Parsed& p, const Bytes& frame);
  Expect l2tp(uint32_t dir, const Parsed& p, const Bytes& f);
  Expect natt(uint32_t dir, const Parsed& p, const Bytes& frame);
  Expect icmp_error(const Parsed& p, const Bytes& frame);
  Expect pptp_ctrl(uint32_t dir, const Parsed& p, const Bytes& frame);
  Expect dnat(Expect e, const Parsed& p, uint32_t host);
  Expect follow(uint32_t dir, const Parsed& p, std::pair<uint32_t, uint32_t> first);
  // A translated first fragment: its later fragments follow it.
  void remember(uint32_t dir, const Parsed& p, uint32_t to);
  void learn(uint32_t dir, const Parsed& p);
};

}  // namespace vpnpt::test::model
