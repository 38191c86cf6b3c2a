// Memory for large tables touched at random or streamed once: from 2 MiB up, a mapping of its
// own on 2 MiB pages where the kernel allows (transparent huge pages, "madvise" mode on
// Debian). A rebuild's lookups land at random in tens of MiB; under a hypervisor each TLB miss
// is a two-level page walk. Smaller requests come from malloc.
#pragma once

#include <cstddef>
#include <new>

namespace remit {

inline constexpr size_t kHugePageBytes = 2 << 20;

// Zeroed memory of at least `bytes` (a multiple of kHugePageBytes from 2 MiB up); throws
// std::bad_alloc. Returns the size actually held in *held.
char* AllocateLarge(size_t bytes, size_t* held);
// Frees what AllocateLarge returned, with the size it held.
void FreeLarge(char* data, size_t held);

// A std::allocator for vectors that grow large (the runner's batches of decoded events).
template <class T>
struct LargeAllocator {
  using value_type = T;
  LargeAllocator() = default;
  template <class U>
  LargeAllocator(const LargeAllocator<U>&) noexcept {}  // NOLINT: rebinding converts implicitly
  T* allocate(size_t n) {
    size_t held = 0;
    return reinterpret_cast<T*>(AllocateLarge(n * sizeof(T), &held));
  }
  void deallocate(T* p, size_t n) noexcept {
    size_t bytes = n * sizeof(T);
    FreeLarge(
        reinterpret_cast<char*>(p),
        bytes < kHugePageBytes ? bytes : (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1));
  }
  template <class U>
  bool operator==(const LargeAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace remit
