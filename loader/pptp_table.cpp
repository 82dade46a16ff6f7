#include "loader/pptp_table.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <cerrno>

#include "loader/array_scan.h"

namespace vpnpt {

namespace {

bool in_use(const vpnpt_pptp_call& c) {
  return c.state == VPNPT_PPTP_CALL_REQUESTED || c.state == VPNPT_PPTP_CALL_ESTABLISHED ||
         c.state == VPNPT_PPTP_CALL_CLOSING;
}

}  // namespace

std::vector<PptpCall> live_pptp_calls(int calls_fd) {
  std::vector<PptpCall> out;
  scan_array<vpnpt_pptp_call>(calls_fd, VPNPT_PPTP_MAX_CALLS, [&](uint32_t i, const vpnpt_pptp_call& c) {
    if (in_use(c)) out.push_back({static_cast<uint16_t>(i), c});
  });
  return out;
}

std::vector<PptpGreSlot> used_pptp_gre_slots(int gre_out_fd) {
  std::vector<PptpGreSlot> out;
  scan_array<vpnpt_pptp_gre_slot>(gre_out_fd, VPNPT_PPTP_GRE_SLOTS, [&](uint32_t i, const vpnpt_pptp_gre_slot& s) {
    if (s.tag) out.push_back({i, s});
  });
  return out;
}

bool free_pptp_call(int calls_fd, int gre_out_fd, const PptpCall& c) {
  if (c.call.gre_slot) {
    uint32_t idx = c.call.gre_slot - 1;
    vpnpt_pptp_gre_slot s{};
    // Only if it still names this call: a slot is never reused while its call holds it,
    // but a stale read of the call could name one another call has claimed since.
    if (bpf_map_lookup_elem(gre_out_fd, &idx, &s) == 0 && s.tag && s.xlat_call_id == htons(c.xlat) &&
        s.server_call_id == c.call.server_call_id) {
      vpnpt_pptp_gre_slot empty{};
      bpf_map_update_elem(gre_out_fd, &idx, &empty, BPF_ANY);
    }
  }
  uint32_t key = c.xlat;
  vpnpt_pptp_call empty{};
  return bpf_map_update_elem(calls_fd, &key, &empty, BPF_ANY) == 0;
}

bool write_pptp_call(int calls_fd, const PptpCall& c) {
  uint32_t key = c.xlat;
  return bpf_map_update_elem(calls_fd, &key, &c.call, BPF_ANY) == 0;
}

}  // namespace vpnpt
