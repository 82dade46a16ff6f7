#include "loader/session/quote_index.h"

#include <unordered_map>

#include "loader/core/array_scan.h"
#include "loader/session/probe.h"

namespace vpnpt {

namespace {

constexpr uint32_t kNone = VPNPT_QUOTE_SLOTS;

struct Count {
  bool hosts = false;  // more than one LAN host
  uint16_t owner = 0;
  uint32_t host = 0;
};

}  // namespace

uint32_t used_quote_slots(int fd) {
  uint32_t n = 0;
  scan_array<vpnpt_quote_slot>(fd, VPNPT_QUOTE_SLOTS, [&](uint32_t, const vpnpt_quote_slot& s) { n += s.tag != 0; });
  return n;
}

Result<QuoteIndex> QuoteIndex::map(int fd, const char* what) {
  auto slots = MappedArray<vpnpt_quote_slot>::map(fd, VPNPT_QUOTE_SLOTS, what);
  if (!slots) return slots.error();
  return QuoteIndex(std::move(*slots));
}

uint64_t QuoteIndex::load(uint32_t i) const {
  return __atomic_load_n(reinterpret_cast<uint64_t*>(&slots_[i]), __ATOMIC_ACQUIRE);
}

bool QuoteIndex::swap(uint32_t i, uint64_t expected, uint64_t desired) const {
  return __atomic_compare_exchange_n(reinterpret_cast<uint64_t*>(&slots_[i]), &expected, desired, false,
                                     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

void QuoteIndex::note(uint32_t server, uint16_t id, uint16_t owner,
                      const std::function<bool(uint16_t)>& other_host) const {
  const vpnpt_run r = vpnpt_quote_run(server, id);
  for (int attempt = 0; attempt < 3; ++attempt) {
    uint32_t found = kNone, empty = kNone;
    uint64_t seen = 0;
    probe_each(r, VPNPT_QUOTE_PROBES, [&](uint32_t idx) {
      uint64_t w = load(idx);
      if (!w && empty == kNone) empty = idx;
      if (w && found == kNone && vpnpt_quote_slot_of(w).tag == r.tag) {
        found = idx;
        seen = w;
      }
    });
    if (found == kNone) found = empty;
    if (found == kNone) return;  // a full run: the recount adds it once a slot frees
    auto s = vpnpt_quote_slot_of(seen);
    bool other = seen && !s.shared && s.owner != owner && other_host(s.owner);
    uint64_t next = vpnpt_quote_noted(seen, r.tag, owner, other);
    if (next == seen || swap(found, seen, next)) return;
  }
}

QuoteRecount QuoteIndex::recount(const std::function<std::vector<QuoteSession>()>& live) const {
  QuoteRecount rc;
  // The index first, then the sessions: a session established after its
  // slot was read changed that slot, so the swap below fails for it.
  std::vector<uint64_t> seen(VPNPT_QUOTE_SLOTS);
  for (uint32_t i = 0; i < VPNPT_QUOTE_SLOTS; ++i) seen[i] = load(i);

  std::unordered_map<uint32_t, Count> counts;  // slot -> sessions carrying its pair
  std::vector<QuoteSession> unplaced;
  for (const auto& q : live()) {
    const vpnpt_run r = vpnpt_quote_run(q.server, q.id);
    auto at = probe_first(r, VPNPT_QUOTE_PROBES,
                          [&](uint32_t idx) { return seen[idx] && vpnpt_quote_slot_of(seen[idx]).tag == r.tag; });
    if (!at) {
      unplaced.push_back(q);
      continue;
    }
    auto [it, first] = counts.try_emplace(*at, Count{false, q.owner, q.host});
    if (!first && it->second.host != q.host) it->second.hosts = true;
  }

  for (uint32_t i = 0; i < VPNPT_QUOTE_SLOTS; ++i) {
    if (!seen[i]) continue;
    auto s = vpnpt_quote_slot_of(seen[i]);
    auto it = counts.find(i);
    uint64_t want;
    if (it == counts.end()) {
      want = 0;  // no live session carries the pair (or it is a second slot of one that does)
    } else if (!it->second.hosts) {
      want = vpnpt_quote_word(s.tag, it->second.owner, 0);
    } else {
      want = s.shared ? seen[i] : vpnpt_quote_word(s.tag, 0, 1);
    }
    if (want != seen[i]) {
      if (swap(i, seen[i], want)) {
        rc.changed++;
        rc.cleared += want == 0;
      } else {
        rc.raced++;
        continue;
      }
    }
    if (want) {
      rc.pairs++;
      rc.shared += vpnpt_quote_slot_of(want).shared != 0;
    }
  }

  // Sessions the hooks could not index (a full run then): each pair in the first free slot.
  std::unordered_map<uint64_t, std::vector<QuoteSession>> pairs;
  for (const auto& q : unplaced) pairs[uint64_t{q.server} << 16 | q.id].push_back(q);
  for (auto& [key, owners] : pairs) {
    const uint32_t server = static_cast<uint32_t>(key >> 16);
    const uint16_t id = static_cast<uint16_t>(key);
    const vpnpt_run r = vpnpt_quote_run(server, id);
    bool hosts = false;
    for (const auto& q : owners) hosts = hosts || q.host != owners[0].host;
    const uint64_t want = hosts ? vpnpt_quote_word(r.tag, 0, 1) : vpnpt_quote_word(r.tag, owners[0].owner, 0);
    if (probe_first(r, VPNPT_QUOTE_PROBES, [&](uint32_t idx) { return load(idx) == 0 && swap(idx, 0, want); })) {
      rc.changed++;
      rc.pairs++;
      rc.shared += hosts;
    } else {
      rc.no_room += static_cast<uint32_t>(owners.size());
    }
  }
  return rc;
}

}  // namespace vpnpt
