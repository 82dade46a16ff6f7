// Runs the real BPF programs on crafted packets through BPF_PROG_TEST_RUN,
// and snapshots the data plane's counters so a test can assert exactly
// which slots a packet moved.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <string>

#include "loader/dataplane/pinned_maps.h"
#include "loader/dataplane/programs.h"
#include "packet_builder.h"

namespace vpnpt::test {

// The frame a program left. At TC a redirected packet gets its MAC addresses
// from the kernel's neighbour layer after the program (bpf_redirect_neigh),
// so there the comparison with an expected frame skips the two addresses,
// and holds only if the program left them as they came in.
struct OutFrame : pkt::Bytes {
  bool l2_by_kernel = false;  // TC redirect: the kernel writes the MACs
  bool l2_untouched = true;   // ... and the program did not
};
bool operator==(const OutFrame& got, const pkt::Bytes& want);
// Two outputs: the same bytes (each may have MACs from the kernel, so compare them as plain frames).
inline bool operator==(const OutFrame& a, const OutFrame& b) {
  return static_cast<const pkt::Bytes&>(a) == static_cast<const pkt::Bytes&>(b);
}

struct RunResult {
  int err = 0;           // 0, or the negative errno of the test run itself
  uint32_t verdict = 0;  // XDP_PASS, XDP_DROP or XDP_REDIRECT, also for TC programs (mapped)
  OutFrame out;          // the frame after the program ran
  uint32_t ns_per_run = 0;
};

// Runs @prog_fd (an XDP or a TC program) on @in. With @ingress_ifindex the
// packet arrives "on" that interface of the current namespace (the FIB and
// ctx->ingress_ifindex see it). TC verdicts are mapped to their XDP
// counterparts, so one table of expectations serves both hooks.
RunResult run_xdp(int prog_fd, const pkt::Bytes& in, uint32_t repeat = 1, uint32_t ingress_ifindex = 0);

// True if the kernel's skb test harness (BPF_PROG_TEST_RUN for TC programs)
// refuses @frame: EtherType IPv4 or IPv6 but shorter than that header. Only a real
// device can hand such a packet to a TC program; the XDP runs cover it.
bool tc_harness_refuses(const pkt::Bytes& frame);

// The hook the packet tests run at: VPNPT_TEST_HOOK=tc runs them on the TC
// programs (ctest registers the suite once per hook), anything else XDP.
Hook test_hook();

const char* verdict_name(uint32_t v);

struct Snapshot {
  CounterTable counters{};
  ReasonTable reasons{};
};

Snapshot snapshot(const UnpinnedPrograms& p);

// Programs loaded once per test with unpinned, shared maps.
struct Dataplane {
  UnpinnedPrograms progs;
  explicit Dataplane(const LoadConfig& cfg = {});
  int hook_fd(uint32_t dir) const { return dir == VPNPT_DIR_OUTBOUND ? progs.lan_fd() : progs.wan_fd(); }

  // Writes the runtime config as the loader would (all switches on by default).
  void configure(uint32_t public_ip, uint32_t wan_ifindex = 0, uint32_t switches = VPNPT_SW_ALL) const;
  // A shared map by name (e.g. VPNPT_MAP_PPTP_CALLS).
  int map_fd(const char* name) const;
  // The PPTP maps as the daemon's slow path takes them.
  PptpMaps pptp_maps() const {
    return {map_fd(VPNPT_MAP_PPTP_CALLS), map_fd(VPNPT_MAP_PPTP_GRE_OUT), map_fd(VPNPT_MAP_PPTP_STREAMS),
            map_fd(VPNPT_MAP_PPTP_QUOTE)};
  }
  // Entries in use in a session map (array tables: the slots in use).
  size_t entries(const char* name) const;
  // Binds the server's SPI (host order) to @host in the inbound ESP table, as the daemon's binder does.
  void bind_spi(uint32_t server, uint32_t spi, uint32_t host) const;
  // The host that owns the outbound SPI (host order) toward @server, 0 if none.
  uint32_t esp_out_host(uint32_t server, uint32_t spi) const;
  // Reason counter (both directions summed).
  uint64_t reason(uint32_t r) const;
};

}  // namespace vpnpt::test
