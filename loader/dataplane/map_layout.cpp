#include "loader/dataplane/map_layout.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <memory>

#include "loader/core/fd.h"
#include "loader/dataplane/programs.h"

namespace vpnpt {
namespace {

// Appends the layout of type @id: sizes, member names and offsets, array lengths, integer
// encodings; typedefs and qualifiers are seen through. @depth bounds a malformed (cyclic) BTF.
void describe(const btf* b, uint32_t id, std::string& out, int depth = 0) {
  const btf_type* t = id ? btf__type_by_id(b, id) : nullptr;
  if (!t || depth > 16) {
    out += "?";
    return;
  }
  if (btf_is_typedef(t) || btf_is_mod(t)) return describe(b, t->type, out, depth + 1);
  if (btf_is_int(t)) {
    out += "i" + std::to_string(btf_int_bits(t)) + ((btf_int_encoding(t) & BTF_INT_SIGNED) ? "s" : "u");
  } else if (btf_is_any_enum(t)) {
    out += "e" + std::to_string(t->size);
  } else if (btf_is_ptr(t)) {
    out += "p";
  } else if (btf_is_array(t)) {
    const struct btf_array* a = btf_array(t);
    out += "[" + std::to_string(a->nelems) + "]";
    describe(b, a->type, out, depth + 1);
  } else if (btf_is_composite(t)) {
    out += (btf_is_struct(t) ? "s" : "u") + std::to_string(t->size) + "{";
    const btf_member* m = btf_members(t);
    for (uint16_t i = 0; i < btf_vlen(t); ++i) {
      const char* name = btf__name_by_offset(b, m[i].name_off);
      out += std::string(name ? name : "") + "@" + std::to_string(btf_member_bit_offset(t, i)) + ":";
      describe(b, m[i].type, out, depth + 1);
      out += ";";
    }
    out += "}";
  } else {
    out += "k" + std::to_string(btf_kind(t));
  }
}

}  // namespace

std::string type_text(const btf* types, uint32_t id) {
  std::string out;
  describe(types, id, out);
  return out;
}

namespace {

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::shared_ptr<const btf> own_btf(btf* b) { return std::shared_ptr<const btf>(b, [](const btf* p) { btf__free(const_cast<btf*>(p)); }); }

// Adds the pinned maps of one object, with a copy of its BTF (the object closes on return).
template <class Skel>
Status add_types(const char* what, std::map<std::string, MapTypes>& out) {
  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = "/sys/fs/bpf/vpnpt-layouts");  // names pins, creates none
  auto s = Skel::open(&opts, what);
  if (!s) return s.error();
  const btf* b = bpf_object__btf((*s)->obj);
  uint32_t size = 0;
  const void* raw = b ? btf__raw_data(b, &size) : nullptr;
  auto copy = own_btf(raw ? btf__new(raw, size) : nullptr);
  if (!copy) return make_error(std::string("cannot copy the BTF of ") + what, errno);
  bpf_map* m;
  bpf_object__for_each_map(m, (*s)->obj) {
    if (!bpf_map__pin_path(m)) continue;
    const std::string name = bpf_map__name(m);
    MapTypes t{{bpf_map__type(m), bpf_map__key_size(m), bpf_map__value_size(m), bpf_map__max_entries(m),
                bpf_map__map_flags(m), bpf_map__btf_key_type_id(m), bpf_map__btf_value_type_id(m)},
               copy};
    auto [it, fresh] = out.emplace(name, t);
    if (!fresh && layout_hash(it->second.types.get(), it->second.shape, sized_at_run(name)) !=
                      layout_hash(copy.get(), t.shape, sized_at_run(name)))
      return make_error(std::string("the BPF objects disagree on the layout of ") + name + " (" + what + ")");
  }
  return {};
}

}  // namespace

std::string layout_text(const btf* types, const MapShape& m, bool sized) {
  std::string out = "t" + std::to_string(m.type) + " k" + std::to_string(m.key_size) + " v" +
                    std::to_string(m.value_size) + " f" + std::to_string(m.flags);
  if (!sized) out += " n" + std::to_string(m.max_entries);
  if (m.key_type_id) {
    out += " key ";
    describe(types, m.key_type_id, out);
  }
  if (m.value_type_id) {
    out += " value ";
    describe(types, m.value_type_id, out);
  }
  return out;
}

uint64_t layout_hash(const btf* types, const MapShape& m, bool sized) { return fnv1a(layout_text(types, m, sized)); }

bool sized_at_run(const std::string& name) { return name == VPNPT_MAP_ESP_IN || name == VPNPT_MAP_ESP_OUT; }

Result<std::map<std::string, MapTypes>> build_map_types() {
  std::map<std::string, MapTypes> out;
  VPNPT_TRY(add_types<LanSkeleton>("xdp_lan", out));
  VPNPT_TRY(add_types<WanSkeleton>("xdp_wan", out));
  VPNPT_TRY(add_types<TcLanSkeleton>("tc_lan", out));
  VPNPT_TRY(add_types<TcWanSkeleton>("tc_wan", out));
  return out;
}

Result<std::map<std::string, uint64_t>> build_layouts() {
  auto all = build_map_types();
  if (!all) return all.error();
  std::map<std::string, uint64_t> out;
  for (const auto& [name, t] : *all) out[name] = layout_hash(t.types.get(), t.shape, sized_at_run(name));
  return out;
}

Result<MapTypes> map_types(int fd, const std::string& what) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len)) return make_error("cannot read the map " + what, errno);
  auto types = own_btf(info.btf_id ? btf__load_from_kernel_by_id(info.btf_id) : nullptr);
  if (info.btf_id && !types) return make_error("cannot read the BTF of the map " + what, errno);
  MapShape shape{info.type,        info.key_size,        info.value_size,         info.max_entries,
                 info.map_flags,   info.btf_key_type_id, info.btf_value_type_id};
  return MapTypes{shape, types};
}

Result<uint64_t> pinned_layout(const std::string& path, const std::string& name) {
  Fd fd(bpf_obj_get(path.c_str()));
  if (!fd.valid()) return make_error("cannot open the pinned map " + path, errno);
  auto t = map_types(fd.get(), path);
  if (!t) return t.error();
  return layout_hash(t->types.get(), t->shape, sized_at_run(name));
}

}  // namespace vpnpt
