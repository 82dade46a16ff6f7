#include "loader/daemon/ike_table_guard.h"

#include <spdlog/spdlog.h>

namespace vpnpt {
namespace {

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : "; ") + l;
  return out;
}

}  // namespace

Result<IkeTableGuard> IkeTableGuard::install(std::string wan, uint16_t queue, uint64_t now_ns) {
  auto form = install_ike_table(wan, queue);
  if (!form) return form.error();
  spdlog::info("IKE (UDP 500 on {}) goes to netfilter queue {} through nftables table {} ({})", wan, queue,
               ike_table_name(wan), queue_form_name(*form));
  return IkeTableGuard(std::move(wan), queue, *form, now_ns);
}

bool IkeTableGuard::check(uint64_t now_ns) {
  auto table = read_ike_table(wan_);
  if (table && *table && **table == expected_ike_table(wan_, queue_, form_)) {
    last_intact_ns_ = now_ns;
    failing_ = false;
    return false;
  }
  if (!table) {
    if (!failing_) spdlog::warn("{}; cannot tell whether IKE is still queued", table.error().message());
    failing_ = true;
    return false;
  }
  std::string was = *table ? "changed (found: " + joined(**table) + ")" : "missing";
  auto form = install_ike_table(wan_, queue_);
  if (!form) {
    if (!failing_) spdlog::error("{}; raw-ESP SPI learning is off until it can be restored", form.error().message());
    failing_ = true;
    return false;
  }
  uint64_t gap_s = (now_ns - last_intact_ns_ + 999'999'999) / 1'000'000'000;
  spdlog::warn("nftables table {} was {} (a firewall reload?); restored it: raw-ESP SPI learning had stopped for "
               "{} s at most",
               ike_table_name(wan_), was, gap_s);
  form_ = *form;
  last_intact_ns_ = now_ns;
  failing_ = false;
  return true;
}

}  // namespace vpnpt
