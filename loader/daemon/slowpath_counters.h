// Counters of slow-path decisions, kept by the daemon and exported by the
// metrics endpoint (which scrapes from its own thread: hence atomics). They
// count since the daemon started; Prometheus handles the reset on restart.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "abi/vpnpt_abi.h"

namespace vpnpt {

struct SlowPathCounters {
  std::atomic<uint64_t> pptp_calls_set_up{0};
  std::array<std::atomic<uint64_t>, 6> pptp_calls_ended{};  // by enum vpnpt_diag_close (index 1..5)
  std::atomic<uint64_t> esp_bound{0};
  std::array<std::atomic<uint64_t>, 4> esp_refused{};  // by enum vpnpt_diag_refusal (index 1..3)
  std::atomic<uint64_t> ike_held{0};                   // serialisation waits
  std::atomic<uint64_t> ike_hold_expired{0};           // held requests dropped after max_wait
  std::atomic<uint64_t> ike_over_share{0};             // requests dropped: their host had its share held
  std::atomic<uint64_t> esp_windows_expired{0};        // owners whose server never spoke in time
  std::atomic<uint64_t> esp_sas_expired{0};            // SAs forgotten after sa_idle
  std::atomic<uint64_t> nft_restores{0};               // IKE queue table put back after someone removed it
  // L2TP, copied from L2tpStats by the daemon.
  std::atomic<uint64_t> l2tp_tunnels_same_id{0};        // set up with the client's own Tunnel ID
  std::atomic<uint64_t> l2tp_tunnels_translated_id{0};  // set up with a rewritten Tunnel ID
  std::atomic<uint64_t> l2tp_tunnels_port_nat{0};       // set up with per-port NAT (hidden Tunnel ID)
  std::array<std::atomic<uint64_t>, VPNPT_L2TP_REFUSE_MAX> l2tp_refused{};  // by enum vpnpt_l2tp_refusal (from 1)
  std::array<std::atomic<uint64_t>, 8> l2tp_ended{};                        // by enum vpnpt_diag_close (index 1..6)
};

}  // namespace vpnpt
