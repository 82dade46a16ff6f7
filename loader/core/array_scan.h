// Reading every slot of a memory-mappable BPF array (the PPTP and L2TP
// tables) as a scan of shared memory instead of a syscall per slot.
#pragma once

#include <bpf/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace vpnpt {

// Calls @fn(index, value) for each of the @n slots of the mappable array @fd; falls
// back to one lookup per slot if the map cannot be mapped (it then is not ours).
template <class V, class Fn>
void scan_array(int fd, uint32_t n, Fn fn) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t len = (sizeof(V) * n + page - 1) / page * page;
  void* p = mmap(nullptr, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (p == MAP_FAILED) {
    for (uint32_t i = 0; i < n; ++i) {
      V v{};
      if (bpf_map_lookup_elem(fd, &i, &v) == 0) fn(i, v);
    }
    return;
  }
  const auto* vals = static_cast<const volatile V*>(p);
  for (uint32_t i = 0; i < n; ++i) {
    V v;
    // A copy per slot: the data plane may write it meanwhile (a torn read is a stale read).
    __builtin_memcpy(&v, const_cast<const V*>(&vals[i]), sizeof(V));
    fn(i, v);
  }
  munmap(p, len);
}

}  // namespace vpnpt
