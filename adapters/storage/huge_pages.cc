#include "adapters/storage/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>

namespace remit {

char* AllocateLarge(size_t bytes, size_t* held) {
  if (bytes < kHugePageBytes) {
    auto* data = static_cast<char*>(std::calloc(bytes == 0 ? 1 : bytes, 1));
    if (data == nullptr) throw std::bad_alloc();
    *held = bytes;
    return data;
  }
  // Map a huge page more than asked, keep the 2 MiB-aligned part and ask for huge pages; the
  // kernel's fresh pages are the zeroing.
  size_t size = (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  void* p = mmap(nullptr, size + kHugePageBytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  auto start = reinterpret_cast<uintptr_t>(p);
  uintptr_t aligned = (start + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  if (aligned > start) munmap(p, aligned - start);
  size_t tail = start + size + kHugePageBytes - (aligned + size);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + size), tail);
  auto* data = reinterpret_cast<char*>(aligned);
  madvise(data, size, MADV_HUGEPAGE);  // advice only: 4 KiB pages work too
  *held = size;
  return data;
}

void FreeLarge(char* data, size_t held) {
  if (data == nullptr) return;
  if (held < kHugePageBytes) {
    std::free(data);
  } else {
    munmap(data, held);
  }
}

}  // namespace remit
