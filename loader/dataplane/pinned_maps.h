// The maps of one attachment, opened from their pins. Every inspection
// command and the daemon read state through this, so they work the same
// whether the daemon loaded the programs or adopted them, and whether a
// daemon runs at all.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "abi/vpnpt_abi.h"
#include "loader/core/fd.h"
#include "loader/core/result.h"
#include "loader/session/maps.h"

namespace vpnpt {

using CounterTable = std::array<vpnpt_counter, VPNPT_COUNTER_SLOTS>;
using ReasonTable = std::array<vpnpt_counter, VPNPT_REASON_SLOTS>;

// Sums a per-CPU array of vpnpt_counter over all possible CPUs.
Result<void> sum_percpu_counters(int map_fd, vpnpt_counter* out, uint32_t slots);

class PinnedMaps {
 public:
  static Result<PinnedMaps> open(const std::string& pin_dir);

  Result<CounterTable> counters() const;
  Result<CounterTable> xlat() const;
  Result<ReasonTable> reasons() const;
  Result<vpnpt_config> config() const;
  Status set_config(const vpnpt_config& cfg) const;
  Result<std::map<uint32_t, vpnpt_iface>> ifaces() const;
  Status set_iface(uint32_t ifindex, const vpnpt_iface& v) const;
  // Every map's fill, in the order of status and the metrics: the arrays of
  // counters, reasons and config, @protocol_rows (loader/daemon/fill_levels.h
  // gathers them from the protocol tables), then the hash maps.
  Result<std::vector<MapFill>> fill_levels(const std::vector<MapFill>& protocol_rows) const;

  int events_fd() const { return events_.get(); }
  int diag_events_fd() const { return diag_events_.get(); }
  int diag_fd() const { return diag_.get(); }
  IpsecMaps ipsec() const { return {esp_in_.get(), esp_out_.get()}; }
  PptpMaps pptp() const { return {pptp_calls_.get(), pptp_gre_out_.get(), pptp_streams_.get(), pptp_quote_.get()}; }
  L2tpMaps l2tp() const {
    return {l2tp_tunnels_.get(), l2tp_out_.get(), l2tp_ports_.get(), l2tp_kernel_.get(), l2tp_quote_.get()};
  }
  int l2tp_punt_fd() const { return l2tp_punt_.get(); }
  int daemon_fd() const { return daemon_.get(); }
  int pt_flows_fd() const { return pt_flows_.get(); }
  int local_ports_fd() const { return local_ports_.get(); }
  QuotaMaps quotas() const { return {host_quota_.get(), pptp_calls_.get(), pptp_streams_.get(), esp_out_.get()}; }

 private:
  Fd counters_, xlat_, reasons_, config_, ifaces_, events_, diag_events_;
  Fd pptp_calls_, pptp_gre_out_, pptp_streams_, pptp_quote_, l2tp_quote_;
  Fd esp_in_, esp_out_, diag_;
  Fd l2tp_tunnels_, l2tp_out_, l2tp_ports_, l2tp_kernel_, l2tp_punt_, daemon_, pt_flows_, local_ports_, host_quota_,
      lan_l2_;
};

}  // namespace vpnpt
