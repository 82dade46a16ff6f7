#include "loader/daemon/ike_table_guard.h"

#include <spdlog/spdlog.h>

#include "loader/core/strings.h"
#include "loader/dataplane/nft_legacy_ike_chain.h"

namespace vpnpt {
Result<IkeTableGuard> IkeTableGuard::install(std::string wan, uint16_t queue, uint64_t now_ns,
                                             std::atomic<uint64_t>& restores) {
  if (auto legacy = remove_legacy_ike_chain(wan); !legacy)
    spdlog::warn("{}; until then IKE is queued twice", legacy.error().message());
  else if (*legacy)
    spdlog::info("removed iptables chain VPNPT_{} from table ip filter: an earlier vpnpt's IKE queue", wan);
  auto form = install_ike_table(wan, queue);
  if (!form) return form.error();
  spdlog::info("IKE (UDP 500 on {}) goes to netfilter queue {} through nftables table {} ({})", wan, queue,
               ike_table_name(wan), queue_form_name(*form));
  IkeTableGuard g(wan, queue, *form, now_ns, restores);
  if (auto w = NftTableWatch::open(ike_table_name(wan)))
    g.watch_.emplace(std::move(*w));
  else
    spdlog::warn("{}; the table {} is checked every few seconds only", w.error().message(), ike_table_name(wan));
  return g;
}

void IkeTableGuard::on_notifications(uint64_t now_ns) {
  if (watch_ && watch_->touched()) check(now_ns);
}

void IkeTableGuard::check(uint64_t now_ns) {
  auto table = read_ike_table(wan_);
  if (table && *table && **table == expected_ike_table(wan_, queue_, form_)) {
    last_intact_ns_ = now_ns;
    failing_ = false;
    return;
  }
  if (!table) {
    if (!failing_) spdlog::warn("{}; cannot tell whether IKE is still queued", table.error().message());
    failing_ = true;
    return;
  }
  std::string was = *table ? "changed (found: " + join(**table, "; ") + ")" : "missing";
  auto form = install_ike_table(wan_, queue_);
  if (!form) {
    if (!failing_) spdlog::error("{}; raw-ESP SPI learning is off until it can be restored", form.error().message());
    failing_ = true;
    return;
  }
  uint64_t gap_s = (now_ns - last_intact_ns_ + 999'999'999) / 1'000'000'000;
  spdlog::warn(
      "nftables table {} was {} (a firewall reload?); restored it: raw-ESP SPI learning had stopped for "
      "{} s at most",
      ike_table_name(wan_), was, gap_s);
  form_ = *form;
  last_intact_ns_ = now_ns;
  failing_ = false;
  restores_++;
}

}  // namespace vpnpt
