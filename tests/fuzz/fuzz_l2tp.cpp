// libFuzzer target: L2TP control parsing (header and AVPs) and the L2TP slow
// path fed with arbitrary queued frames (tunnel requests and control copies)
// on real BPF arrays, as vpnpt creates them. Invariants beyond "no crash": an
// Assigned Tunnel ID offset always points inside the message at the value
// parsed; a frame the slow path sends is never longer than what it got, and
// carries a valid IPv4 header checksum and a valid UDP checksum; every live
// tunnel is found by the data plane's own look-ups (its index slot, and its
// port for per-port NAT, which lies in 61000..61999).
#include <bpf/bpf.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <arpa/inet.h>

#include "loader/core/clock.h"
#include "loader/core/ipv4.h"
#include "loader/proto/l2tp/l2tp_msg.h"
#include "loader/proto/l2tp/l2tp_slowpath.h"
#include "loader/proto/l2tp/l2tp_table.h"
#include "loader/proto/pptp/pptp_slowpath.h"

namespace {

int make_array(uint32_t value, uint32_t entries) {
  LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE);
  int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, nullptr, sizeof(uint32_t), value, entries, &o);
  if (fd < 0) abort();  // the fuzz run needs root (CAP_BPF), as the test suite does
  return fd;
}

void check_sent(const uint8_t* f, size_t len, size_t got) {
  if (len > got || len < 14 + 28) abort();
  auto u = vpnpt::udp_payload(f + 14, len - 14);
  if (!u) abort();
  if (vpnpt::ipv4_checksum(f + 14, u->ihl) != ((f[14 + 10] << 8) | f[14 + 11])) abort();
  const uint8_t* udp = f + 14 + u->ihl;
  uint16_t sum = static_cast<uint16_t>(udp[6] << 8 | udp[7]);
  if (sum && vpnpt::udp_checksum(f + 14, u->ihl, u->length + 8) != sum) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vpnpt;
  if (auto m = parse_l2tp(data, size); m && m->assigned_tunnel) {
    size_t o = m->assigned_tunnel_offset;
    if (o + 2 > size || ((data[o] << 8) | data[o + 1]) != *m->assigned_tunnel) abort();
  }
  if (size < 2) return 0;

  static L2tpMaps maps{make_array(sizeof(vpnpt_l2tp_tunnel), VPNPT_L2TP_MAX_TUNNELS),
                       make_array(sizeof(vpnpt_l2tp_out_slot), VPNPT_L2TP_OUT_SLOTS),
                       make_array(sizeof(vpnpt_l2tp_port), VPNPT_L2TP_PORT_NAT_PORTS)};
  static size_t got = 0;
  static L2tpSlowPath sp(maps, L2tpTimeouts{}, [](uint32_t, const uint8_t* f, size_t len) {
    check_sent(f, len, got);
    return true;
  });
  static L2tpTable view = [] {
    auto t = L2tpTable::map(maps);
    if (!t || !sp.ready()) abort();
    return std::move(*t);
  }();
  // [flags][frame...]: flags bit 0 = copy (else setup), bit 1 = inbound. The
  // frame is an Ethernet header and an IPv4 packet, as the hooks queue it.
  auto* rec = static_cast<vpnpt_l2tp_punt*>(calloc(1, sizeof(vpnpt_l2tp_punt)));
  rec->kind = (data[0] & 1) ? VPNPT_PUNT_COPY : VPNPT_PUNT_SETUP;
  rec->dir = (data[0] & 2) ? VPNPT_DIR_INBOUND : VPNPT_DIR_OUTBOUND;
  got = std::min<size_t>(size - 1, VPNPT_PUNT_FRAME_MAX);
  std::memcpy(rec->frame, data + 1, got);
  rec->frame_len = static_cast<uint16_t>(got);
  rec->l3_off = 14;
  uint64_t now = monotonic_ns();
  rec->ktime_ns = now;
  auto s = sp.on_punt(*rec, sizeof(*rec), 0x017100cb /* 203.0.113.1 */, now);
  free(rec);
  // The table starts every input empty, so a setup is the only way a tunnel appears. The checks
  // and the clean-up scan the whole table (65,536 slots), so they run only when one did.
  if (!s || !s->new_tunnel) return 0;
  const auto& t = s->tunnel;
  bool port_nat = t.flags & VPNPT_L2TP_F_PORT_NAT;
  if (s->xid == 0 || view.live().size() != 1) abort();  // Tunnel ID 0 means "no tunnel"
  auto out = view.find_outbound(t.client, t.server, t.client_port);
  if (std::find(out.begin(), out.end(), s->xid) == out.end()) abort();
  if (port_nat && (ntohs(t.public_port) < kL2tpPortNatFirst || ntohs(t.public_port) > kL2tpPortNatLast ||
                   view.find_inbound(t.server, t.public_port, 0) != s->xid))
    abort();
  if (!port_nat && view.find_inbound(t.server, t.public_port, htons(s->xid)) != s->xid) abort();
  if (data[0] & 4) sp.sweep(now + 400'000'000'000ull);  // expiry; else flush
  sp.flush();
  if (!view.live().empty()) abort();
  return 0;
}
