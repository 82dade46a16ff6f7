// Userspace side of the PPTP call table (maps/vpnpt_abi.h): an array
// indexed by translated Call ID, plus the open-addressed outbound GRE index.
// Both are memory-mappable arrays, so reading all 65,536 (131,072) slots is
// a scan of shared memory, not a syscall per slot. Writes go through the
// map syscalls; freeing a call clears its index slot first.
#pragma once

#include <cstdint>
#include <vector>

#include "../maps/vpnpt_abi.h"

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

// Writes the call's slot back to free, after its outbound GRE index slot if
// that still names it. Returns false if the call slot could not be written.
bool free_pptp_call(int calls_fd, int gre_out_fd, const PptpCall& c);

// Writes a call's slot (the daemon's state changes: closing).
bool write_pptp_call(int calls_fd, const PptpCall& c);

}  // namespace vpnpt
