#include "loader/dataplane/build_info.h"

#include <cstdio>

#include "loader/dataplane/map_layout.h"
#include "loader/dataplane/programs.h"

#ifndef VPNPT_VERSION_STRING
#define VPNPT_VERSION_STRING "unknown"
#endif

namespace vpnpt {
namespace {

constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ull;

uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

template <class Skel>
uint64_t add_object(uint64_t h) {
  size_t n = 0;
  const void* elf = Skel::elf_bytes(&n);
  return fnv1a(h, elf, n);
}

}  // namespace

const char* build_version() { return VPNPT_VERSION_STRING; }

uint64_t build_hash() {
  static const uint64_t h = add_object<tc_wan_bpf>(
      add_object<tc_lan_bpf>(add_object<xdp_wan_bpf>(add_object<xdp_lan_bpf>(kFnvBasis))));
  return h;
}

Result<uint64_t> build_abi_hash() {
  auto layouts = build_layouts();
  if (!layouts) return layouts.error();
  uint64_t h = kFnvBasis;
  for (const auto& [name, layout] : *layouts) {  // std::map: name order
    h = fnv1a(h, name.data(), name.size() + 1);
    h = fnv1a(h, &layout, sizeof(layout));
  }
  return h;
}

std::string hash_hex(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace vpnpt
