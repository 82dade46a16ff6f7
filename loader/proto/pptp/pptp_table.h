// Userspace side of the PPTP call table (abi/vpnpt_abi.h): an array
// indexed by translated Call ID, plus the open-addressed outbound GRE index.
// Both are memory-mappable arrays, so reading all 65,536 (131,072) slots is
// a scan of shared memory, not a syscall per slot.
//
// The daemon changes a call in place, one field at a time, with the same
// 8-byte compare-and-swap of (state, server) the hooks use: a decision made
// from a copy never writes the copy back, so what the hooks did meanwhile
// (counters, last_seen, the server's answer and its GRE index slot) stays.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "abi/vpnpt_abi.h"
#include "loader/core/mapped_array.h"
#include "loader/core/result.h"
#include "loader/session/maps.h"

namespace vpnpt {

struct PptpCall {
  uint16_t xlat;  // translated Call ID, host order (the slot's index)
  vpnpt_pptp_call call;
};

// Slots in use (requested, established or closing), in id order.
std::vector<PptpCall> live_pptp_calls(int calls_fd);

struct PptpGreSlot {
  uint32_t index;
  vpnpt_pptp_gre_slot slot;
};

// Outbound GRE index slots in use, in index order.
std::vector<PptpGreSlot> used_pptp_gre_slots(int gre_out_fd);

class PptpCallTable {
 public:
  // Maps the call table and the GRE index read-write.
  static Result<PptpCallTable> map(int calls_fd, int gre_out_fd);

  // Slots in use, each copied as it was when read.
  std::vector<PptpCall> live() const;
  // The call @xlat as it is now.
  PptpCall read(uint16_t xlat) const;

  // Moves the call @seen from the state it was seen in to CLOSING, stamped
  // @now. False if the slot left that state since (a hook moved it): look
  // again on the next sweep.
  bool close(const PptpCall& seen, uint64_t now) const;

  // Frees the call @seen if it is still in the state it was seen in: first
  // takes the slot out of the hooks' sight, then frees the GRE index slot it
  // holds *now* (if that still names it), then publishes the slot as free,
  // quarantined toward its server from @now (VPNPT_PPTP_QUARANTINE_NS).
  bool free(const PptpCall& seen, uint64_t now) const;

 private:
  PptpCallTable(MappedArray<vpnpt_pptp_call> calls, MappedArray<vpnpt_pptp_gre_slot> gre)
      : calls_(std::move(calls)), gre_(std::move(gre)) {}
  bool move(uint16_t xlat, uint32_t from, uint32_t to, uint32_t server) const;
  MappedArray<vpnpt_pptp_call> calls_;
  MappedArray<vpnpt_pptp_gre_slot> gre_;
};

// The PPTP rows of `vpnpt status` and the metrics: calls, GRE index, quote index.
std::vector<MapFill> pptp_fill_levels(const PptpMaps& m);

}  // namespace vpnpt
