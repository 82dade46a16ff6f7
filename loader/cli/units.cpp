#include "loader/cli/units.h"

#include <fmt/format.h>

namespace vpnpt {
namespace {

// n scaled by @base until it is below @base, with the unit of that step.
std::string scaled(uint64_t n, double base, const char* const* units, size_t count, const char* sep) {
  if (n < base) return fmt::format("{}{}{}", n, sep, units[0]);
  double v = static_cast<double>(n);
  size_t i = 0;
  // Rounding to one decimal may reach the base again (1023.96 KiB): step on then.
  while (i + 1 < count && v >= base - base / 20480.0) {
    v /= base;
    ++i;
  }
  return fmt::format("{:.1f}{}{}", v, sep, units[i]);
}

}  // namespace

std::string human_bytes(uint64_t n) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  return scaled(n, 1024.0, kUnits, std::size(kUnits), " ");
}

std::string human_count(uint64_t n) {
  static constexpr const char* kUnits[] = {"", "k", "M", "G", "T", "P", "E"};
  return scaled(n, 1000.0, kUnits, std::size(kUnits), "");
}

std::string grouped(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string human_percent(uint64_t used, uint64_t capacity) {
  if (capacity == 0) return "-";
  double p = 100.0 * static_cast<double>(used) / static_cast<double>(capacity);
  if (used > 0 && p < 0.05) return "<0.1%";
  return fmt::format("{:.1f}%", p);
}

}  // namespace vpnpt
