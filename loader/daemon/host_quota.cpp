#include "loader/daemon/host_quota.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader/proto/ipsec/esp_table.h"
#include "loader/core/map_dump.h"
#include "loader/proto/pptp/pptp_table.h"
#include "loader/dataplane/programs.h"
#include "quota_adjust.skel.h"

namespace vpnpt {

QuotaCount count_host_quotas(const QuotaMaps& m) {
  QuotaCount c;
  for (const auto& kv : dump_map<uint32_t, vpnpt_host_quota>(m.quota)) c.counters[kv.first] = kv.second;
  for (const auto& p : live_pptp_calls(m.pptp_calls)) c.tables[p.call.client].pptp_calls++;
  for (const auto& kv : dump_map<vpnpt_pptp_stream_key, vpnpt_pptp_stream>(m.pptp_streams))
    if (kv.second.client) c.tables[kv.second.client].pptp_streams++;  // LAN-side trackers name their host
  for (const auto& s : live_esp_sas(m.esp_out)) c.tables[s.sa.host].esp_sas++;
  return c;
}

void QuotaAdjuster::Destroy::operator()(quota_adjust_bpf* s) const { quota_adjust_bpf::destroy(s); }

Result<QuotaAdjuster> QuotaAdjuster::open(int quota_fd) {
  quota_adjust_bpf* s = quota_adjust_bpf::open();
  if (!s) return make_error("cannot open the quota_adjust program", errno);
  QuotaAdjuster adj(s);
  bpf_map__set_pin_path(s->maps.vpnpt_host_quota_v1, nullptr);  // the caller's map, pinned or not
  if (int err = bpf_map__reuse_fd(s->maps.vpnpt_host_quota_v1, quota_fd))
    return make_error("cannot use the host quota map for quota_adjust", err);
  VPNPT_TRY(load_object(s->obj, "quota_adjust"));
  return adj;
}

namespace {
int32_t diff(uint32_t now, uint32_t was) { return static_cast<int32_t>(now - was); }
}  // namespace

Result<uint32_t> QuotaAdjuster::apply(const QuotaCount& c) const {
  auto run = [&](uint32_t host, const vpnpt_host_quota& now, const vpnpt_host_quota& was) -> Status {
    vpnpt_quota_adjust a{host, diff(now.pptp_calls, was.pptp_calls), diff(now.pptp_streams, was.pptp_streams),
                         diff(now.esp_sas, was.esp_sas)};
    if (!a.pptp_calls && !a.pptp_streams && !a.esp_sas) return {};
    LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &a, .ctx_size_in = sizeof(a));
    int err = bpf_prog_test_run_opts(bpf_program__fd(s_->progs.quota_adjust), &opts);
    if (err) return make_error("cannot run quota_adjust", err);
    if (opts.retval) return make_error("the host quota map is full; quota_adjust could not add a host", ENOSPC);
    return {};
  };
  const vpnpt_host_quota none{};
  for (const auto& [host, was] : c.counters) {
    auto now = c.tables.find(host);
    VPNPT_TRY(run(host, now == c.tables.end() ? none : now->second, was));
  }
  for (const auto& [host, now] : c.tables)
    if (!c.counters.count(host)) VPNPT_TRY(run(host, now, none));
  return static_cast<uint32_t>(c.tables.size());
}

Result<uint32_t> recount_host_quotas(const QuotaAdjuster& adj, const QuotaMaps& m) {
  return adj.apply(count_host_quotas(m));
}

}  // namespace vpnpt
