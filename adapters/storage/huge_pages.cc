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
  // Pointer arithmetic from the mapping itself (never an integer made back into a pointer).
  auto* start = static_cast<char*>(p);
  size_t misalign = reinterpret_cast<uintptr_t>(start) & (kHugePageBytes - 1);
  size_t head = misalign == 0 ? 0 : kHugePageBytes - misalign;
  char* data = start + head;
  if (head > 0) munmap(start, head);
  size_t tail = kHugePageBytes - head;
  if (tail > 0) munmap(data + size, tail);
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
