#include "loader/daemon/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>

#include "abi/vpnpt_abi.h"
#include "loader/dataplane/build_info.h"
#include "loader/dataplane/data_path.h"
#include "loader/daemon/fill_levels.h"
#include "loader/dataplane/kernel_probe.h"
#include "loader/core/names.h"
#include "loader/dataplane/undelivered.h"
#include "loader/core/netif.h"
#include "loader/dataplane/pinned_maps.h"
#include "loader/core/protocols.h"

namespace vpnpt {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric counter(double v, std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = v;
  return m;
}

ClientMetric gauge(double v, std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = v;
  return m;
}

class MapCollector : public prometheus::Collectable {
 public:
  MapCollector(AttachmentId id, std::string mode, const SlowPathCounters* slow)
      : id_(std::move(id)),
        mode_(std::move(mode)),
        slow_(slow),
        kernel_(kernel_release()),
        degraded_(kernel_degradations()) {
    auto abi = build_abi_hash();
    abi_ = abi ? hash_hex(*abi) : "unknown";
  }

  std::vector<MetricFamily> Collect() const override {
    std::vector<MetricFamily> out;
    auto maps = PinnedMaps::open(id_.pin_dir);
    std::string lans;
    if (maps)
      if (auto ifs = maps->ifaces())
        for (const auto& [ifi, v] : *ifs)
          if (v.role == VPNPT_ROLE_LAN) {
            // Appended piecewise: `"," + std::string` (operator+ inserting at 0) trips
            // GCC 12's false -Wrestrict at -O2 (GCC bug 105651).
            if (!lans.empty()) lans += ',';
            lans += ifname_of(ifi);
          }
    MetricFamily info{"vpnpt_info", "vpnpt build and attachment", MetricType::Gauge, {}};
    info.metric.push_back(gauge(
        1, {{"version", VPNPT_VERSION}, {"wan", id_.wan_if}, {"lan", lans}, {"mode", mode_}, {"kernel", kernel_}}));
    out.push_back(std::move(info));
    // What this kernel lacks and vpnpt does without (none: no series).
    MetricFamily deg{
        "vpnpt_kernel_degraded", "A kernel feature vpnpt does without, and what that changes", MetricType::Gauge, {}};
    for (const auto& d : degraded_) deg.metric.push_back(gauge(1, {{"feature", d.feature}, {"effect", d.effect}}));
    out.push_back(std::move(deg));
    collect_state(out, maps ? &*maps : nullptr);
    if (!maps) return out;  // detached under us: only the info and state metrics
    // Which path carries each interface's ingress, and why (one series per interface).
    MetricFamily path{
        "vpnpt_interface_path", "The data path of an interface's ingress (1), and why", MetricType::Gauge, {}};
    if (auto ifs = maps->ifaces())
      for (const auto& [ifi, v] : *ifs)
        path.metric.push_back(gauge(path_attached(ifi, v) ? 1 : 0, {{"interface", ifname_of(ifi)},
                                                                    {"role", v.role == VPNPT_ROLE_WAN ? "wan" : "lan"},
                                                                    {"path", mode_name(v.xdp_mode)},
                                                                    {"why", describe_path(ifname_of(ifi), v)}}));
    out.push_back(std::move(path));
    MetricFamily pk{
        "vpnpt_packets_total", "Packets seen by the XDP and TC hooks, by direction and class", MetricType::Counter, {}};
    MetricFamily by{"vpnpt_bytes_total",
                    "Bytes (whole frames) seen by the XDP and TC hooks, by direction and class",
                    MetricType::Counter,
                    {}};
    MetricFamily xp{"vpnpt_translated_packets_total",
                    "Packets vpnpt translated itself, by direction and class",
                    MetricType::Counter,
                    {}};
    MetricFamily xb{"vpnpt_translated_bytes_total",
                    "Bytes vpnpt translated itself, by direction and class",
                    MetricType::Counter,
                    {}};
    auto c = maps->counters();
    auto x = maps->xlat();
    if (c && x) {
      for (uint32_t d = 0; d < VPNPT_DIR_MAX; ++d)
        for (uint32_t k = 0; k < VPNPT_CLASS_MAX; ++k) {
          const auto& v = (*c)[vpnpt_counter_index(d, k)];
          const auto& t = (*x)[vpnpt_counter_index(d, k)];
          std::vector<ClientMetric::Label> l{{"direction", std::string(dir_name(d))},
                                             {"class", std::string(class_name(k))}};
          pk.metric.push_back(counter(static_cast<double>(v.packets), l));
          by.metric.push_back(counter(static_cast<double>(v.bytes), l));
          xp.metric.push_back(counter(static_cast<double>(t.packets), l));
          xb.metric.push_back(counter(static_cast<double>(t.bytes), l));
        }
    }
    MetricFamily mf{"vpnpt_untranslated_packets_total",
                    "Packets vpnpt did not translate, or forwarded an unusual way (verdict redirect), by reason (each "
                    "reason has a fixed verdict and protocol)",
                    MetricType::Counter,
                    {}};
    MetricFamily mb{"vpnpt_untranslated_bytes_total",
                    "Bytes (whole frames) vpnpt did not translate, or forwarded an unusual way (verdict redirect), by "
                    "reason (each reason has a fixed verdict and protocol)",
                    MetricType::Counter,
                    {}};
    if (auto r = maps->reasons()) {
      for (uint32_t d = 0; d < VPNPT_DIR_MAX; ++d)
        for (uint32_t k = 1; k < VPNPT_REASON_MAX; ++k) {
          const auto& v = (*r)[vpnpt_reason_index(d, k)];
          std::vector<ClientMetric::Label> l{{"direction", std::string(dir_name(d))},
                                             {"reason", std::string(reason_name(k))},
                                             {"verdict", std::string(reason_verdict(k))},
                                             {"proto", std::string(reason_proto(k))}};
          mf.metric.push_back(counter(static_cast<double>(v.packets), l));
          mb.metric.push_back(counter(static_cast<double>(v.bytes), l));
        }
    }
    out.push_back(std::move(mb));
    MetricFamily fill{"vpnpt_map_entries", "Entries in use per pinned map", MetricType::Gauge, {}};
    MetricFamily cap{"vpnpt_map_capacity_entries", "Capacity per pinned map", MetricType::Gauge, {}};
    MetricFamily ratio{
        "vpnpt_map_fill_ratio", "Entries in use over capacity, per pinned map (0..1)", MetricType::Gauge, {}};
    MetricFamily sessions{
        "vpnpt_sessions",
        "Sessions vpnpt translates now: PPTP calls, bound inbound ESP SAs, L2TP tunnels, IP passthrough flows",
        MetricType::Gauge,
        {}};
    if (auto f = fill_levels(*maps)) {
      for (const auto& m : *f) {
        fill.metric.push_back(gauge(m.used, {{"map", m.name}}));
        cap.metric.push_back(gauge(m.capacity, {{"map", m.name}}));
        ratio.metric.push_back(gauge(m.capacity ? double(m.used) / m.capacity : 0.0, {{"map", m.name}}));
        for (const auto& p : kProtocols)
          if (m.name == p.sessions_map) sessions.metric.push_back(gauge(m.used, {{"proto", std::string(p.key)}}));
        if (m.name == VPNPT_MAP_PT_FLOWS) sessions.metric.push_back(gauge(m.used, {{"proto", "ip_passthrough"}}));
      }
    }
    MetricFamily lost{"vpnpt_undelivered_frames_total",
                      "Frames vpnpt's XDP programs redirected that the kernel could not hand to the target device",
                      MetricType::Counter,
                      {}};
    for (const auto& u : read_undelivered(id_.pin_dir))
      lost.metric.push_back(counter(static_cast<double>(u.frames),
                                    {{"from", ifname_of(u.from_ifindex)},
                                     {"to", u.to_ifindex ? ifname_of(u.to_ifindex) : std::string("unknown")},
                                     {"stage", u.stage == VPNPT_UNDELIVERED_XMIT ? "xmit" : "redirect"},
                                     {"errno", std::to_string(-u.err)}}));
    for (auto* f : {&pk, &by, &xp, &xb, &mf, &fill, &cap, &ratio, &sessions, &lost}) out.push_back(std::move(*f));
    if (slow_) collect_slow(out);
    return out;
  }

  void collect_slow(std::vector<MetricFamily>& out) const {
    auto v = [](const std::atomic<uint64_t>& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); };
    MetricFamily calls{"vpnpt_pptp_calls_set_up_total", "PPTP calls set up through vpnpt", MetricType::Counter, {}};
    calls.metric.push_back(counter(v(slow_->pptp_calls_set_up), {}));
    MetricFamily ended{"vpnpt_pptp_calls_ended_total", "PPTP calls ended, by why", MetricType::Counter, {}};
    const char* why[] = {"", "server_disconnect", "connection_closed", "unanswered", "idle", "flushed"};
    for (int i = 1; i <= 5; ++i) ended.metric.push_back(counter(v(slow_->pptp_calls_ended[i]), {{"reason", why[i]}}));
    MetricFamily bind{"vpnpt_esp_spi_bindings_total",
                      "Unknown inbound ESP SPIs, by what the binder decided",
                      MetricType::Counter,
                      {}};
    bind.metric.push_back(counter(v(slow_->esp_bound), {{"result", "bound"}}));
    const char* refusal[] = {"", "refused_no_owner", "refused_in_flight", "refused_ambiguous"};
    for (int i = 1; i <= 3; ++i) bind.metric.push_back(counter(v(slow_->esp_refused[i]), {{"result", refusal[i]}}));
    MetricFamily held{"vpnpt_ike_serialisation_waits_total",
                      "CHILD_SA-creating IKE requests held because another host owned the server's next SPI",
                      MetricType::Counter,
                      {}};
    held.metric.push_back(counter(v(slow_->ike_held), {}));
    MetricFamily dropped{"vpnpt_ike_hold_expired_total",
                         "Held IKE requests dropped after max_wait (the client resends)",
                         MetricType::Counter,
                         {}};
    dropped.metric.push_back(counter(v(slow_->ike_hold_expired), {}));
    MetricFamily over{"vpnpt_ike_over_share_total",
                      "IKE requests dropped because their LAN host already had its share held (16 per server, 64 in "
                      "all; the client resends)",
                      MetricType::Counter,
                      {}};
    over.metric.push_back(counter(v(slow_->ike_over_share), {}));
    MetricFamily windows{"vpnpt_esp_binding_windows_expired_total",
                         "Hosts whose server sent no ESP within the binding window",
                         MetricType::Counter,
                         {}};
    windows.metric.push_back(counter(v(slow_->esp_windows_expired), {}));
    MetricFamily idle{"vpnpt_esp_sas_expired_total", "ESP SAs forgotten after being idle", MetricType::Counter, {}};
    idle.metric.push_back(counter(v(slow_->esp_sas_expired), {}));
    MetricFamily nft{"vpnpt_nft_restores_total",
                     "Times the IKE queue's nftables table was found removed or changed (a firewall reload) and put back",
                     MetricType::Counter,
                     {}};
    nft.metric.push_back(counter(v(slow_->nft_restores), {}));
    MetricFamily l2tp{"vpnpt_l2tp_tunnels_set_up_total",
                      "L2TP tunnels set up through vpnpt, by how the client was told apart",
                      MetricType::Counter,
                      {}};
    l2tp.metric.push_back(counter(v(slow_->l2tp_tunnels_same_id), {{"how", "own_tunnel_id"}}));
    l2tp.metric.push_back(counter(v(slow_->l2tp_tunnels_translated_id), {{"how", "rewritten_tunnel_id"}}));
    l2tp.metric.push_back(counter(v(slow_->l2tp_tunnels_port_nat), {{"how", "per_port_nat"}}));
    MetricFamily l2tp_refused{
        "vpnpt_l2tp_setups_refused_total", "L2TP tunnel requests not forwarded, by why", MetricType::Counter, {}};
    const char* lref[] = {"",      "no_free_tunnel_id", "table_full",  "malformed", "no_free_port",
                          "stale", "host_quota",        "switched_off"};
    static_assert(std::size(lref) == VPNPT_L2TP_REFUSE_MAX, "a name for every enum vpnpt_l2tp_refusal");
    for (int i = 1; i < VPNPT_L2TP_REFUSE_MAX; ++i)
      l2tp_refused.metric.push_back(counter(v(slow_->l2tp_refused[i]), {{"reason", lref[i]}}));
    MetricFamily l2tp_ended{"vpnpt_l2tp_tunnels_ended_total", "L2TP tunnels ended, by why", MetricType::Counter, {}};
    const char* lend[] = {"", "", "", "unanswered", "idle", "flushed", "stopccn"};
    for (int i : {3, 4, 5, 6}) l2tp_ended.metric.push_back(counter(v(slow_->l2tp_ended[i]), {{"reason", lend[i]}}));
    for (auto* f : {&calls, &ended, &bind, &held, &dropped, &over, &windows, &idle, &nft, &l2tp, &l2tp_refused, &l2tp_ended})
      out.push_back(std::move(*f));
  }

  // The alert signals: which build runs, whether every interface still has its program attached,
  // and which protocols are switched on or handed to the kernel's helper. @maps is null when the
  // pins are gone: the WAN is then reported detached.
  void collect_state(std::vector<MetricFamily>& out, const PinnedMaps* maps) const {
    MetricFamily build{"vpnpt_build_info",
                       "This daemon's build: its version and the hash of its map layouts (always 1)",
                       MetricType::Gauge,
                       {}};
    build.metric.push_back(gauge(1, {{"version", build_version()}, {"abi", abi_}}));
    out.push_back(std::move(build));
    MetricFamily attached{"vpnpt_interface_attached",
                          "1 while the interface's recorded program is attached on its path, 0 when not",
                          MetricType::Gauge,
                          {}};
    std::optional<std::map<uint32_t, vpnpt_iface>> ifs;
    if (maps)
      if (auto r = maps->ifaces()) ifs = std::move(*r);
    if (ifs)
      for (const auto& [ifi, v] : *ifs)
        attached.metric.push_back(
            gauge(path_attached(ifi, v) ? 1 : 0, {{"interface", ifname_of(ifi)},
                                                  {"role", v.role == VPNPT_ROLE_WAN ? "wan" : "lan"},
                                                  {"path", std::string(mode_name(v.xdp_mode))}}));
    else  // no pins (detached under us) or no interface map: the WAN, at least, is not attached
      attached.metric.push_back(gauge(0, {{"interface", id_.wan_if}, {"role", "wan"}, {"path", "none"}}));
    out.push_back(std::move(attached));
    if (!maps) return;
    auto cfg = maps->config();
    if (!cfg) return;
    MetricFamily on{"vpnpt_switch_on",
                    "1 while the protocol's passthrough switch is on (vpnpt set, the config file), 0 when off",
                    MetricType::Gauge,
                    {}};
    MetricFamily deferred{"vpnpt_deferred_to_kernel_helper",
                          "1 while the protocol is handed to the kernel's own helper (e.g. nf_conntrack_pptp is "
                          "attached): vpnpt passes its packets untranslated",
                          MetricType::Gauge,
                          {}};
    for (const auto& p : kProtocols) {
      on.metric.push_back(gauge((cfg->switches & p.switch_bit) ? 1 : 0, {{"proto", std::string(p.key)}}));
      deferred.metric.push_back(gauge((cfg->deferred & p.switch_bit) ? 1 : 0, {{"proto", std::string(p.key)}}));
    }
    out.push_back(std::move(on));
    out.push_back(std::move(deferred));
  }

 private:
  AttachmentId id_;
  std::string mode_;
  const SlowPathCounters* slow_;
  std::string kernel_;  // probed once: the kernel does not change under a running daemon
  std::vector<KernelDegradation> degraded_;
  std::string abi_;  // this build's ABI hash, computed once
};

}  // namespace

Status check_metrics_address(const std::string& addr) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == addr.size())
    return make_error("metrics address '" + addr + "' is not HOST:PORT (e.g. 127.0.0.1:9477)");
  unsigned port = 0;
  const char* b = addr.data() + colon + 1;
  const char* e = addr.data() + addr.size();
  auto [p, ec] = std::from_chars(b, e, port);
  if (ec != std::errc() || p != e || port == 0 || port > 65535)
    return make_error("metrics address '" + addr + "' has an invalid port (1..65535)");
  return {};
}

std::string metrics_text(const AttachmentId& id, const std::string& attach_mode, const SlowPathCounters* slow) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, MapCollector(id, attach_mode, slow).Collect());
  return out.str();
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& address, const AttachmentId& id,
                                                            const std::string& attach_mode,
                                                            const SlowPathCounters* slow) {
  VPNPT_TRY(check_metrics_address(address));
  std::unique_ptr<MetricsServer> s(new MetricsServer());
  try {
    s->exposer_ = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    return make_error("cannot serve metrics on " + address + " (" + e.what() + "); choose another --metrics-address");
  }
  auto col = std::make_shared<MapCollector>(id, attach_mode, slow);
  s->exposer_->RegisterCollectable(col);
  s->collectable_ = col;
  spdlog::info("metrics on http://{}/metrics", address);
  return s;
}

MetricsServer::~MetricsServer() = default;

}  // namespace vpnpt
