// REMIT_CHECK: the one assertion, on in every build. A broken invariant (postings that do not
// balance, a gap in offsets, a chain head that moved under a writer) is not an error to handle:
// the process stops at once, naming the condition, the reason and the place, before it can
// write anything built on it.
// Thread safety: may be called from any thread.
#pragma once

#include <string_view>

namespace remit {

[[noreturn]] void CheckFailed(const char* condition, std::string_view why, const char* file,
                              int line);

}  // namespace remit

#define REMIT_CHECK(condition, why)                                \
  do {                                                             \
    if (!(condition)) [[unlikely]] {                               \
      ::remit::CheckFailed(#condition, (why), __FILE__, __LINE__); \
    }                                                              \
  } while (false)
