// The daemon's side of an ICMP quote index (abi/vpnpt_abi.h,
// bpf/lib/quote_index.h): which one session carries a (server, server's id)
// pair, so the WAN hook can relay an ICMP error quoting a packet of that
// pair to the session's LAN host, and relays none when two sessions carry
// it. The hooks mark pairs as they learn them (PPTP); the daemon notes the
// pairs it learns (L2TP) and recounts every pair on each sweep, which frees
// the pairs of ended sessions and makes a shared pair unique again.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "abi/vpnpt_abi.h"
#include "loader/core/mapped_array.h"
#include "loader/core/result.h"

namespace vpnpt {

// A live session with the pair the server's packets name it by (network order).
struct QuoteSession {
  uint32_t server = 0;
  uint16_t id = 0;
  uint16_t owner = 0;  // the session's slot, host order
  uint32_t host = 0;   // the LAN host it belongs to: a pair is shared only between hosts
};

struct QuoteRecount {
  uint32_t pairs = 0;    // slots in use afterwards (as far as this recount wrote them)
  uint32_t shared = 0;   // of which carried by more than one session
  uint32_t cleared = 0;  // slots of pairs no session carries any more
  uint32_t changed = 0;  // slots rewritten (cleared, unshared, shared or added)
  uint32_t raced = 0;    // slots a hook changed while counting: left for the next recount
  uint32_t no_room = 0;  // sessions whose pair found no free slot in its run
};

// Slots in use in the index @fd (fill levels), read-only.
uint32_t used_quote_slots(int fd);

class QuoteIndex {
 public:
  // Maps the index @fd (named @what in errors) read-write.
  static Result<QuoteIndex> map(int fd, const char* what);

  // Session @owner now carries (@server, @id); @other_host(owner) says whether
  // session @owner carries it too, for another LAN host. What the PPTP hook
  // does (bpf/proto/pptp_calls.h).
  void note(uint32_t server, uint16_t id, uint16_t owner, const std::function<bool(uint16_t)>& other_host) const;

  // Recounts every pair: reads the whole index, then calls @live for the
  // sessions alive now, then writes each slot whose count changed with a
  // compare-and-swap from the word read first, so a session a hook added
  // while @live ran is never overwritten by this (older) count.
  QuoteRecount recount(const std::function<std::vector<QuoteSession>()>& live) const;

 private:
  explicit QuoteIndex(MappedArray<vpnpt_quote_slot> slots) : slots_(std::move(slots)) {}
  uint64_t load(uint32_t i) const;
  bool swap(uint32_t i, uint64_t expected, uint64_t desired) const;
  MappedArray<vpnpt_quote_slot> slots_;
};

}  // namespace vpnpt
