#include "loader/dataplane/map_migrate.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "loader/dataplane/map_layout.h"

namespace vpnpt {
namespace {

const btf_type* resolved(const btf* b, uint32_t& id) {
  for (int depth = 0; depth < 16 && id; ++depth) {
    const btf_type* t = btf__type_by_id(b, id);
    if (!t) return nullptr;
    if (!btf_is_typedef(t) && !btf_is_mod(t)) return t;
    id = t->type;
  }
  return nullptr;
}

struct Planner {
  const btf* fb;
  const btf* tb;
  std::vector<ByteSpan>& out;

  Status blocked(const std::string& path, const std::string& why) const {
    return make_error("member `" + path + "` " + why);
  }

  Status plan(uint32_t fid, uint32_t tid, uint32_t foff, uint32_t toff, const std::string& path) {
    const std::string ftext = type_text(fb, fid), ttext = type_text(tb, tid);
    const btf_type* f = resolved(fb, fid);
    const btf_type* t = resolved(tb, tid);
    if (!f || !t) return blocked(path, "has no readable BTF");
    if (ftext == ttext) {
      const int64_t n = btf__resolve_size(tb, tid);
      if (n <= 0) return blocked(path, "has no size");
      out.push_back({foff, toff, static_cast<uint32_t>(n)});
      return {};
    }
    if (btf_is_struct(f) && btf_is_struct(t)) return members(f, t, foff, toff, path);
    if (btf_is_array(f) && btf_is_array(t)) return elements(f, t, foff, toff, path);
    return blocked(path, "changed from " + ftext + " to " + ttext);
  }

  Status members(const btf_type* f, const btf_type* t, uint32_t foff, uint32_t toff, const std::string& path) {
    const btf_member* tm = btf_members(t);
    const btf_member* fm = btf_members(f);
    for (uint16_t i = 0; i < btf_vlen(t); ++i) {
      const std::string name = btf__name_by_offset(tb, tm[i].name_off);
      const std::string sub = path.empty() ? name : path + "." + name;
      if (name.empty()) return blocked(path + ".<anonymous>", "cannot be matched by name");
      if (btf_member_bitfield_size(t, i)) return blocked(sub, "is a bit field");
      int j = -1;
      for (uint16_t k = 0; k < btf_vlen(f); ++k)
        if (name == btf__name_by_offset(fb, fm[k].name_off)) j = k;
      if (j < 0) continue;  // new member: zero
      if (btf_member_bitfield_size(f, j)) return blocked(sub, "was a bit field");
      VPNPT_TRY(plan(fm[j].type, tm[i].type, foff + btf_member_bit_offset(f, j) / 8,
                     toff + btf_member_bit_offset(t, i) / 8, sub));
    }
    return {};
  }

  Status elements(const btf_type* f, const btf_type* t, uint32_t foff, uint32_t toff, const std::string& path) {
    const struct btf_array* fa = btf_array(f);
    const struct btf_array* ta = btf_array(t);
    if (ta->nelems < fa->nelems)
      return blocked(path, "shrank from " + std::to_string(fa->nelems) + " to " + std::to_string(ta->nelems) + " elements");
    const int64_t fs = btf__resolve_size(fb, fa->type), ts = btf__resolve_size(tb, ta->type);
    if (fs <= 0 || ts <= 0) return blocked(path, "has elements without a size");
    for (uint32_t i = 0; i < fa->nelems; ++i)
      VPNPT_TRY(plan(fa->type, ta->type, foff + i * static_cast<uint32_t>(fs), toff + i * static_cast<uint32_t>(ts),
                     path + "[" + std::to_string(i) + "]"));
    return {};
  }
};

// Spans for a key or value: by BTF when both sides have it, else bytes of equal size as they are.
Status plan_part(const MapTypes& f, uint32_t ftype, uint32_t fsize, const MapTypes& t, uint32_t ttype, uint32_t tsize,
                 const char* part, std::vector<ByteSpan>& out) {
  if (ftype && ttype && f.types && t.types) {
    Planner p{f.types.get(), t.types.get(), out};
    if (auto s = p.plan(ftype, ttype, 0, 0, part); !s) return s;
    return {};
  }
  if (fsize != tsize) return make_error(std::string("its ") + part + " changed size without BTF to convert it");
  out.push_back({0, 0, tsize});
  return {};
}

bool is_array(uint32_t type) { return type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY; }
bool is_hash(uint32_t type) { return type == BPF_MAP_TYPE_HASH || type == BPF_MAP_TYPE_LRU_HASH; }
bool is_percpu(uint32_t type) { return type == BPF_MAP_TYPE_PERCPU_ARRAY; }

bool all_zero(const unsigned char* p, size_t n) {
  return std::all_of(p, p + n, [](unsigned char b) { return b == 0; });
}

uint32_t round8(uint32_t n) { return (n + 7) & ~7u; }

}  // namespace

Result<Conversion> plan_conversion(int from_fd, int to_fd, const std::string& name) {
  auto f = map_types(from_fd, "the running map " + name);
  if (!f) return f.error();
  auto t = map_types(to_fd, "the new map " + name);
  if (!t) return t.error();
  const MapShape &fs = f->shape, &ts = t->shape;
  Conversion c;
  c.name = name;
  c.type = ts.type;
  c.from_key = fs.key_size;
  c.to_key = ts.key_size;
  c.from_value = fs.value_size;
  c.to_value = ts.value_size;
  c.from_slots = fs.max_entries;
  c.to_slots = ts.max_entries;
  const uint32_t ft = fs.type, tt = ts.type;
  if (tt == BPF_MAP_TYPE_RINGBUF || tt == BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
    c.entries = false;
    return c;
  }
  const bool same_kind = ft == tt || (is_hash(ft) && is_hash(tt));
  if (!same_kind || !(is_array(tt) || is_hash(tt)))
    return make_error("cannot carry " + name + " over: its map type changed or has no converter (" +
                      std::to_string(ft) + " to " + std::to_string(tt) + ")");
  auto fail = [&](const Error& e) { return make_error("cannot carry " + name + " over: " + e.message() + "; this upgrade needs a converter for it"); };
  if (auto s = plan_part(*f, fs.key_type_id, c.from_key, *t, ts.key_type_id, c.to_key, "key", c.key); !s)
    return fail(s.error());
  if (auto s = plan_part(*f, fs.value_type_id, c.from_value, *t, ts.value_type_id, c.to_value, "value", c.value);
      !s)
    return fail(s.error());
  return c;
}

void convert(const std::vector<ByteSpan>& spans, const unsigned char* from, unsigned char* to, uint32_t to_len) {
  std::memset(to, 0, to_len);
  for (const auto& s : spans) std::memcpy(to + s.to, from + s.from, s.len);
}

Result<uint32_t> copy_entries(const Conversion& c, int from_fd, int to_fd, CopyMode mode) {
  if (!c.entries) return 0u;
  const int ncpu = is_percpu(c.type) ? libbpf_num_possible_cpus() : 1;
  if (ncpu <= 0) return make_error("cannot count possible CPUs", -ncpu);
  const uint32_t fstride = is_percpu(c.type) ? round8(c.from_value) : c.from_value;
  const uint32_t tstride = is_percpu(c.type) ? round8(c.to_value) : c.to_value;
  std::vector<unsigned char> fv(size_t(fstride) * ncpu), tv(size_t(tstride) * ncpu), have(tv.size());
  std::vector<unsigned char> fk(c.from_key), tk(c.to_key), next(c.from_key);
  uint32_t written = 0;

  auto put = [&]() -> Status {
    if (mode == CopyMode::OnlyMissing) {
      if (is_hash(c.type)) {
        if (bpf_map_lookup_elem(to_fd, tk.data(), have.data()) == 0) return {};
      } else if (bpf_map_lookup_elem(to_fd, tk.data(), have.data()) == 0 && !all_zero(have.data(), have.size())) {
        return {};  // the new programs already use this slot
      }
    }
    for (int cpu = 0; cpu < ncpu; ++cpu)
      convert(c.value, fv.data() + size_t(cpu) * fstride, tv.data() + size_t(cpu) * tstride, tstride);
    if (bpf_map_update_elem(to_fd, tk.data(), tv.data(), BPF_ANY))
      return make_error("cannot write an entry of " + c.name + " (" + std::to_string(written) + " written)", errno);
    ++written;
    return {};
  };

  if (is_array(c.type)) {
    for (uint32_t i = 0; i < c.from_slots; ++i) {
      if (bpf_map_lookup_elem(from_fd, &i, fv.data())) return make_error("cannot read slot " + std::to_string(i) + " of " + c.name, errno);
      if (all_zero(fv.data(), fv.size())) continue;
      if (i >= c.to_slots)
        return make_error("slot " + std::to_string(i) + " of " + c.name + " is in use but the new table has " +
                          std::to_string(c.to_slots) + " slots");
      std::memcpy(fk.data(), &i, sizeof(i));
      convert(c.key, fk.data(), tk.data(), c.to_key);
      VPNPT_TRY(put());
    }
    return written;
  }
  // Hash maps: bounded by twice the capacity, as entries may come and go under the running programs.
  void* prev = nullptr;
  for (uint64_t n = 0; n < 2ull * c.from_slots + 2; ++n) {
    if (bpf_map_get_next_key(from_fd, prev, next.data())) {
      if (errno == ENOENT) return written;
      return make_error("cannot walk " + c.name, errno);
    }
    fk.swap(next);
    prev = fk.data();
    if (bpf_map_lookup_elem(from_fd, fk.data(), fv.data())) continue;  // gone meanwhile
    convert(c.key, fk.data(), tk.data(), c.to_key);
    VPNPT_TRY(put());
  }
  return written;
}

}  // namespace vpnpt
