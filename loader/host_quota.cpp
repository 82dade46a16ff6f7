#include "loader/host_quota.h"

#include <bpf/bpf.h>

#include <unordered_map>

#include "../maps/vpnpt_abi.h"
#include "loader/esp_table.h"
#include "loader/map_dump.h"
#include "loader/pptp_table.h"

namespace vpnpt {

uint32_t recount_host_quotas(const QuotaMaps& m) {
  std::unordered_map<uint32_t, vpnpt_host_quota> n;
  for (const auto& p : live_pptp_calls(m.pptp_calls)) n[p.call.client].pptp_calls++;
  for (const auto& kv : dump_map<vpnpt_pptp_stream_key, vpnpt_pptp_stream>(m.pptp_streams))
    if (kv.second.client) n[kv.second.client].pptp_streams++;  // LAN-side trackers name their host
  for (const auto& s : live_esp_sas(m.esp_out)) n[s.sa.host].esp_sas++;
  // Hosts that hold nothing any more start from zero; the others get their exact counts.
  for (const auto& kv : dump_map<uint32_t, vpnpt_host_quota>(m.quota))
    if (!n.count(kv.first)) bpf_map_delete_elem(m.quota, &kv.first);
  for (const auto& [host, q] : n) bpf_map_update_elem(m.quota, &host, &q, BPF_ANY);
  return static_cast<uint32_t>(n.size());
}

}  // namespace vpnpt
