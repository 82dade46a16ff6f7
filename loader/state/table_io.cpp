#include "loader/state/table_io.h"

#include <bpf/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace vpnpt {
namespace {

bool all_zero(const std::vector<uint8_t>& v) {
  return std::all_of(v.begin(), v.end(), [](uint8_t b) { return b == 0; });
}

RawEntry slot_entry(uint32_t slot, const uint8_t* value, uint32_t size) {
  RawEntry e{std::vector<uint8_t>(4), std::vector<uint8_t>(value, value + size)};
  std::copy_n(reinterpret_cast<const uint8_t*>(&slot), 4, e.key.begin());
  return e;
}

Result<std::vector<RawEntry>> read_slots(int fd, const MapShape& s) {
  std::vector<RawEntry> out;
  if (s.flags & BPF_F_MMAPABLE) {
    const size_t stride = (s.value_size + 7) / 8 * 8, page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t len = (stride * s.max_entries + page - 1) / page * page;
    void* p = mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return make_error("cannot map the array read-only", errno);
    const auto* base = static_cast<const uint8_t*>(p);
    for (uint32_t i = 0; i < s.max_entries; ++i) {
      const uint8_t* v = base + i * stride;
      if (std::any_of(v, v + s.value_size, [](uint8_t b) { return b != 0; }))
        out.push_back(slot_entry(i, v, s.value_size));
    }
    munmap(p, len);
    return out;
  }
  std::vector<uint8_t> v(s.value_size);
  for (uint32_t i = 0; i < s.max_entries; ++i) {
    if (bpf_map_lookup_elem(fd, &i, v.data())) return make_error("cannot read slot " + std::to_string(i), errno);
    if (!all_zero(v)) out.push_back(slot_entry(i, v.data(), s.value_size));
  }
  return out;
}

Result<std::vector<RawEntry>> read_hash(int fd, const MapShape& s) {
  std::vector<RawEntry> out;
  std::vector<uint8_t> key(s.key_size), next(s.key_size), v(s.value_size);
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
    // An entry deleted meanwhile is skipped (a snapshot, not atomic).
    if (bpf_map_lookup_elem(fd, next.data(), v.data()) == 0 && !all_zero(v)) out.push_back({next, v});
    key.swap(next);
    prev = key.data();
  }
  if (errno != ENOENT) return make_error("cannot iterate the map", errno);
  std::sort(out.begin(), out.end(), [](const RawEntry& a, const RawEntry& b) { return a.key < b.key; });
  return out;
}

}  // namespace

Result<std::vector<RawEntry>> read_entries(int fd, const MapShape& shape, TableKind kind) {
  return kind == TableKind::Slots ? read_slots(fd, shape) : read_hash(fd, shape);
}

Status write_tables(const std::vector<TableWrite>& writes) {
  struct Done {
    const TableWrite* t;
    const RawEntry* e;
  };
  std::vector<Done> done;
  auto undo = [&] {
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
      if (it->t->kind == TableKind::Slots) {
        std::vector<uint8_t> zero(it->t->value_size);
        (void)bpf_map_update_elem(it->t->fd, it->e->key.data(), zero.data(), BPF_ANY);
      } else {
        (void)bpf_map_delete_elem(it->t->fd, it->e->key.data());
      }
    }
  };
  for (const auto& t : writes)
    for (const auto& e : t.entries) {
      if (bpf_map_update_elem(t.fd, e.key.data(), e.value.data(), BPF_ANY)) {
        const int err = errno;
        undo();
        return make_error("cannot write an entry of " + t.name + "; the " + std::to_string(done.size()) +
                              " entries written before it were removed again",
                          err);
      }
      done.push_back({&t, &e});
    }
  return {};
}

}  // namespace vpnpt
