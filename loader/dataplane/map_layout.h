// A map's layout as a hash: its type, sizes, flags and the BTF of its key
// and value types, members by name and offset. Two maps with the same hash
// hold the same bytes with the same meaning, so a pinned map is this
// build's own only if its hash is this build's. Computed the same way from
// an unloaded BPF object (this build) and from the kernel (a pinned map),
// so a layout change that kept its pin name is caught (abi/pins.def).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "loader/core/result.h"

struct btf;

namespace vpnpt {

struct MapShape {
  uint32_t type = 0, key_size = 0, value_size = 0, max_entries = 0, flags = 0;
  uint32_t key_type_id = 0, value_type_id = 0;  // 0: no BTF for it (ring buffers)
};

// The canonical text of type @id's layout (sizes, member names and offsets, encodings).
std::string type_text(const btf* types, uint32_t id);

// A map's shape with the BTF its type ids point into (nullptr: none).
struct MapTypes {
  MapShape shape;
  std::shared_ptr<const btf> types;
};

// The canonical text of a map's layout (what the hash covers), for messages and tests.
// @sized_at_run: max_entries is chosen at load time (the ESP tables), so it is left out.
std::string layout_text(const btf* types, const MapShape& m, bool sized_at_run);

// FNV-1a 64 of layout_text().
uint64_t layout_hash(const btf* types, const MapShape& m, bool sized_at_run);

// This build's layout of every map the hook objects pin, by pin name, from the skeletons' own
// BTF (nothing is loaded). An error if two objects disagree on a map.
Result<std::map<std::string, uint64_t>> build_layouts();

// The maps the hook objects pin, by pin name, with this build's BTF (the skeletons are
// opened, nothing is loaded). An error if two objects disagree on a map's layout.
Result<std::map<std::string, MapTypes>> build_map_types();

// The shape and the kernel's BTF of the open map @fd (@what names it in errors).
Result<MapTypes> map_types(int fd, const std::string& what);

// The runtime-sized tables (LoadConfig::esp_slots picks their size at load): their hash leaves
// max_entries out.
bool sized_at_run(const std::string& name);

// The layout of the map pinned at @path, from the kernel's BTF of it.
Result<uint64_t> pinned_layout(const std::string& path, const std::string& name);

}  // namespace vpnpt
