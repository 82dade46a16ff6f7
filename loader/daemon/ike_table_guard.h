// Keeps the IKE queue's nftables table (loader/dataplane/nft_ike_table.h)
// in place. A firewall reload such as Debian's nftables.service, whose
// /etc/nftables.conf starts with `flush ruleset`, deletes every table, ours
// too; IKE then passes unqueued and raw-ESP SPI learning silently stops.
// The daemon checks the table every few seconds, and at once when nf_tables
// announces a change to it, and puts it back.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "loader/core/result.h"
#include "loader/dataplane/nft_ike_table.h"
#include "loader/dataplane/nft_table_watch.h"

namespace vpnpt {

class IkeTableGuard {
 public:
  // Installs the table (logging which queue form the kernel took); every
  // restore from then on is counted in @restores.
  static Result<IkeTableGuard> install(std::string wan, uint16_t queue, uint64_t now_ns,
                                       std::atomic<uint64_t>& restores);

  // Reads the table back; if it is missing or not what install() made,
  // recreates it and logs one warning.
  void check(uint64_t now_ns);

  // The nf_tables notification socket (-1 without one: periodic checks only),
  // and what the daemon calls when it is readable.
  int watch_fd() const { return watch_ ? watch_->fd() : -1; }
  void on_notifications(uint64_t now_ns);

 private:
  IkeTableGuard(std::string wan, uint16_t queue, NftQueueForm form, uint64_t now_ns, std::atomic<uint64_t>& restores)
      : wan_(std::move(wan)), queue_(queue), form_(form), last_intact_ns_(now_ns), restores_(restores) {}
  std::string wan_;
  uint16_t queue_;
  NftQueueForm form_;
  uint64_t last_intact_ns_;  // when the table was last seen whole: bounds how long IKE went unqueued
  std::atomic<uint64_t>& restores_;
  std::optional<NftTableWatch> watch_;
  bool failing_ = false;  // one line when checking or restoring starts failing, not one per check
};

}  // namespace vpnpt
