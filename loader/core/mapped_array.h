// A memory-mappable BPF array (BPF_F_MMAPABLE) mapped read-write into the
// daemon, which changes single fields of the slots in place. Move-only;
// unmapped on destruction.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "loader/core/result.h"

namespace vpnpt {

template <class V>
class MappedArray {
 public:
  // Maps the @n slots of the array @fd (@what names it in the error).
  static Result<MappedArray> map(int fd, uint32_t n, const std::string& what) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t len = (sizeof(V) * n + page - 1) / page * page;
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
      return make_error("cannot map " + what + " read-write (it must be the memory-mappable array vpnpt creates)",
                        errno);
    MappedArray a;
    a.p_ = static_cast<V*>(p);
    a.n_ = n;
    a.len_ = len;
    return a;
  }

  MappedArray() = default;
  MappedArray(MappedArray&& o) noexcept { *this = std::move(o); }
  MappedArray& operator=(MappedArray&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
      len_ = std::exchange(o.len_, 0);
    }
    return *this;
  }
  MappedArray(const MappedArray&) = delete;
  MappedArray& operator=(const MappedArray&) = delete;
  ~MappedArray() { reset(); }

  // Shared memory: the slot as the hooks see it (const or not, the daemon may write it).
  V& operator[](size_t i) const { return p_[i]; }
  uint32_t size() const { return n_; }

 private:
  void reset() {
    if (p_) munmap(p_, len_);
    p_ = nullptr;
  }
  V* p_ = nullptr;
  uint32_t n_ = 0;
  size_t len_ = 0;
};

}  // namespace vpnpt
