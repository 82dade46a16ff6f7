// A netfilter queue the daemon reads IKE packets from, to order CHILD_SA
// exchanges (held packets get their verdict later). The nftables rules that
// feed it (nft_ike_table.h) queue with bypass, so while no daemon reads the
// queue IKE simply passes: the data plane never depends on the daemon.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "loader/core/result.h"

struct nfq_handle;
struct nfq_q_handle;
struct nfgenmsg;
struct nfq_data;

namespace vpnpt {

class NfQueue {
 public:
  // fn(packet id, IPv4 packet, length, input ifindex) decides: accept or drop
  // at once, or hold (verdict() later).
  enum class Decision { Accept, Hold, Drop };
  using Handler = std::function<Decision(uint32_t id, const uint8_t* pkt, size_t len, uint32_t indev)>;

  static Result<std::unique_ptr<NfQueue>> open(uint16_t num, Handler fn);
  ~NfQueue();

  int fd() const;
  void drain();  // reads and handles everything pending
  void verdict(uint32_t id, bool accept);

 private:
  NfQueue() = default;
  static int on_packet(::nfq_q_handle*, ::nfgenmsg*, ::nfq_data*, void*);
  nfq_handle* h_ = nullptr;
  nfq_q_handle* q_ = nullptr;
  Handler fn_;
};

// The queue number used for an attachment (queues are per network namespace).
uint16_t ike_queue_number(uint32_t wan_ifindex);

}  // namespace vpnpt
