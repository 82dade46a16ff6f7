#include "loader/proto/pptp/pptp_table.h"

#include <arpa/inet.h>

#include <cstring>

#include "loader/core/array_scan.h"
#include "loader/session/quote_index.h"

namespace vpnpt {

namespace {

// The first 8 bytes of a call slot, (state, server), as one word: what the
// hooks' pptp_move() compares and swaps.
uint64_t head(uint32_t state, uint32_t server) {
  struct {
    uint32_t state;
    uint32_t server;
  } h{state, server};
  uint64_t w;
  std::memcpy(&w, &h, sizeof(w));
  return w;
}

// An outbound GRE index slot as one word (tag, server id, translated id).
uint64_t gre_word(const vpnpt_pptp_gre_slot& s) {
  uint64_t w;
  std::memcpy(&w, &s, sizeof(w));
  return w;
}

}  // namespace

std::vector<PptpCall> live_pptp_calls(int calls_fd) {
  std::vector<PptpCall> out;
  scan_array<vpnpt_pptp_call>(calls_fd, VPNPT_PPTP_MAX_CALLS, [&](uint32_t i, const vpnpt_pptp_call& c) {
    if (vpnpt_session_in_use(c.state)) out.push_back({static_cast<uint16_t>(i), c});
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

Result<PptpCallTable> PptpCallTable::map(int calls_fd, int gre_out_fd) {
  auto calls = MappedArray<vpnpt_pptp_call>::map(calls_fd, VPNPT_PPTP_MAX_CALLS, VPNPT_MAP_PPTP_CALLS);
  if (!calls) return calls.error();
  auto gre = MappedArray<vpnpt_pptp_gre_slot>::map(gre_out_fd, VPNPT_PPTP_GRE_SLOTS, VPNPT_MAP_PPTP_GRE_OUT);
  if (!gre) return gre.error();
  return PptpCallTable(std::move(*calls), std::move(*gre));
}

std::vector<PptpCall> PptpCallTable::live() const {
  std::vector<PptpCall> out;
  for (uint32_t i = 0; i < calls_.size(); ++i) {
    if (!vpnpt_session_in_use(__atomic_load_n(&calls_[i].state, __ATOMIC_ACQUIRE))) continue;
    out.push_back(read(static_cast<uint16_t>(i)));
  }
  return out;
}

PptpCall PptpCallTable::read(uint16_t xlat) const {
  PptpCall p{xlat, {}};
  p.call.state = __atomic_load_n(&calls_[xlat].state, __ATOMIC_ACQUIRE);
  std::memcpy(reinterpret_cast<char*>(&p.call) + sizeof(p.call.state),
              reinterpret_cast<const char*>(&calls_[xlat]) + sizeof(p.call.state),
              sizeof(p.call) - sizeof(p.call.state));
  return p;
}

bool PptpCallTable::move(uint16_t xlat, uint32_t from, uint32_t to, uint32_t server) const {
  uint64_t expected = head(from, server);
  return __atomic_compare_exchange_n(reinterpret_cast<uint64_t*>(&calls_[xlat]), &expected, head(to, server), false,
                                     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

bool PptpCallTable::close(const PptpCall& seen, uint64_t now) const {
  // Stamped first: only the daemon reads closed_ns, and only of CLOSING calls.
  __atomic_store_n(&calls_[seen.xlat].closed_ns, now, __ATOMIC_RELAXED);
  return move(seen.xlat, seen.call.state, VPNPT_PPTP_CALL_CLOSING, seen.call.server);
}

bool PptpCallTable::free(const PptpCall& seen, uint64_t now) const {
  // CLAIMED: the hooks ignore the slot from here on, and none moves it.
  if (!move(seen.xlat, seen.call.state, VPNPT_PPTP_CALL_CLAIMED, seen.call.server)) return false;
  vpnpt_pptp_call& c = calls_[seen.xlat];
  uint32_t slot = __atomic_load_n(&c.gre_slot, __ATOMIC_ACQUIRE);
  if (slot && slot <= gre_.size()) {
    vpnpt_pptp_gre_slot mine{vpnpt_pptp_gre_tag(c.client, c.server), c.server_call_id, htons(seen.xlat)};
    uint64_t expected = gre_word(mine);
    // Only if it still names this call: a newer call may hold that slot now.
    __atomic_compare_exchange_n(reinterpret_cast<uint64_t*>(&gre_[slot - 1]), &expected, uint64_t{0}, false,
                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  }
  // All zeros but the quarantine, the state last: a hook that claims the slot sees it whole.
  vpnpt_pptp_call empty{};
  empty.state = VPNPT_PPTP_CALL_CLAIMED;
  empty.server = seen.call.server;
  empty.closed_ns = now;
  std::memcpy(reinterpret_cast<char*>(&c) + sizeof(c.state), reinterpret_cast<const char*>(&empty) + sizeof(c.state),
              sizeof(c) - sizeof(c.state));
  __atomic_store_n(&c.state, uint32_t{VPNPT_PPTP_CALL_FREE}, __ATOMIC_RELEASE);
  return true;
}

std::vector<MapFill> pptp_fill_levels(const PptpMaps& m) {
  // The PPTP tables are arrays: what is used is what is not free.
  auto calls = live_pptp_calls(m.calls);
  uint32_t indexed = 0;
  for (const auto& c : calls) indexed += c.call.gre_slot != 0;
  return {{VPNPT_MAP_PPTP_CALLS, static_cast<uint32_t>(calls.size()), VPNPT_PPTP_MAX_CALLS},
          {VPNPT_MAP_PPTP_GRE_OUT, indexed, VPNPT_PPTP_GRE_SLOTS},
          {VPNPT_MAP_PPTP_QUOTE, used_quote_slots(m.quote), VPNPT_QUOTE_SLOTS}};
}

}  // namespace vpnpt
