#include "events/check.h"

#include <cstdio>
#include <cstdlib>

namespace remit {

void CheckFailed(const char* condition, std::string_view why, const char* file, int line) {
  std::fprintf(stderr, "remit: broken invariant at %s:%d: %.*s (%s)\n", file, line,
               static_cast<int>(why.size()), why.data(), condition);
  std::fflush(stderr);
  std::abort();
}

}  // namespace remit
