// Reads every entry of a BPF hash map from userspace: the slow paths and the
// inspection commands iterate the session tables this way. Entries deleted
// while iterating are skipped; the result is a snapshot, not atomic.
#pragma once

#include <bpf/bpf.h>

#include <utility>
#include <vector>

namespace vpnpt {

template <class K, class V>
std::vector<std::pair<K, V>> dump_map(int fd) {
  std::vector<std::pair<K, V>> out;
  K key{}, next{};
  K* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    V v{};
    if (bpf_map_lookup_elem(fd, &next, &v) == 0) out.emplace_back(next, v);
    key = next;
    prev = &key;
  }
  return out;
}

}  // namespace vpnpt
