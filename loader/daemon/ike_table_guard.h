// Keeps the IKE queue's nftables table (loader/dataplane/nft_ike_table.h)
// in place. A firewall reload such as Debian's nftables.service, whose
// /etc/nftables.conf starts with `flush ruleset`, deletes every table, ours
// too; IKE then passes unqueued and raw-ESP SPI learning silently stops.
// The daemon checks the table every few seconds and puts it back.
#pragma once

#include <cstdint>
#include <string>

#include "loader/core/result.h"
#include "loader/dataplane/nft_ike_table.h"

namespace vpnpt {

class IkeTableGuard {
 public:
  // Installs the table (logging which queue form the kernel took).
  static Result<IkeTableGuard> install(std::string wan, uint16_t queue, uint64_t now_ns);

  // Reads the table back; if it is missing or not what install() made,
  // recreates it and logs one warning. True when it restored the table.
  bool check(uint64_t now_ns);

 private:
  IkeTableGuard(std::string wan, uint16_t queue, NftQueueForm form, uint64_t now_ns)
      : wan_(std::move(wan)), queue_(queue), form_(form), last_intact_ns_(now_ns) {}
  std::string wan_;
  uint16_t queue_;
  NftQueueForm form_;
  uint64_t last_intact_ns_;  // when the table was last seen whole: bounds how long IKE went unqueued
  bool failing_ = false;     // one line when checking or restoring starts failing, not one per check
};

}  // namespace vpnpt
