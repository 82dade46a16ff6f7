#include "loader/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "../maps/vpnpt_abi.h"
#include "loader/names.h"
#include "loader/pinned_maps.h"

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
  MapCollector(AttachmentId id, std::string mode) : id_(std::move(id)), mode_(std::move(mode)) {}

  std::vector<MetricFamily> Collect() const override {
    std::vector<MetricFamily> out;
    MetricFamily info{"vpnpt_info", "vpnpt build and attachment", MetricType::Gauge, {}};
    info.metric.push_back(gauge(1, {{"version", VPNPT_VERSION}, {"wan", id_.wan_if}, {"mode", mode_}}));
    out.push_back(std::move(info));

    auto maps = PinnedMaps::open(id_.pin_dir);
    if (!maps) return out;  // detached under us: only the info metric
    MetricFamily pk{"vpnpt_packets_total", "Packets seen by the XDP hooks, by direction and class",
                    MetricType::Counter, {}};
    MetricFamily by{"vpnpt_bytes_total", "Bytes (whole frames) seen by the XDP hooks, by direction and class",
                    MetricType::Counter, {}};
    MetricFamily xp{"vpnpt_translated_packets_total", "Packets vpnpt translated itself, by direction and class",
                    MetricType::Counter, {}};
    MetricFamily xb{"vpnpt_translated_bytes_total", "Bytes vpnpt translated itself, by direction and class",
                    MetricType::Counter, {}};
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
                    "Packets not translated by vpnpt, by reason (each reason has a fixed verdict: pass or drop)",
                    MetricType::Counter, {}};
    if (auto r = maps->reasons()) {
      for (uint32_t d = 0; d < VPNPT_DIR_MAX; ++d)
        for (uint32_t k = 1; k < VPNPT_REASON_MAX; ++k)
          mf.metric.push_back(counter(static_cast<double>((*r)[vpnpt_reason_index(d, k)].packets),
                                      {{"direction", std::string(dir_name(d))},
                                       {"reason", std::string(reason_name(k))},
                                       {"verdict", std::string(reason_verdict(k))}}));
    }
    MetricFamily fill{"vpnpt_map_entries", "Entries in use per pinned map", MetricType::Gauge, {}};
    MetricFamily cap{"vpnpt_map_capacity_entries", "Capacity per pinned map", MetricType::Gauge, {}};
    if (auto f = maps->fill_levels()) {
      for (const auto& m : *f) {
        fill.metric.push_back(gauge(m.used, {{"map", m.name}}));
        cap.metric.push_back(gauge(m.capacity, {{"map", m.name}}));
      }
    }
    for (auto* f : {&pk, &by, &xp, &xb, &mf, &fill, &cap}) out.push_back(std::move(*f));
    return out;
  }

 private:
  AttachmentId id_;
  std::string mode_;
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

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& address, const AttachmentId& id,
                                                            const std::string& attach_mode) {
  VPNPT_TRY(check_metrics_address(address));
  std::unique_ptr<MetricsServer> s(new MetricsServer());
  try {
    s->exposer_ = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    return make_error("cannot serve metrics on " + address + " (" + e.what() +
                      "); choose another --metrics-address");
  }
  auto col = std::make_shared<MapCollector>(id, attach_mode);
  s->exposer_->RegisterCollectable(col);
  s->collectable_ = col;
  spdlog::info("metrics on http://{}/metrics", address);
  return s;
}

MetricsServer::~MetricsServer() = default;

}  // namespace vpnpt
