// SHA-256 on the CPU's SHA extensions: Sha256 of types.h. OpenSSL's EVP interface spends a
// quarter of a record's hash on its own bookkeeping (init, cleanse, engine checks); this
// hashes a record straight from one padded copy. Without the extensions (or under valgrind,
// which hides them, or with REMIT_SHA256_NO_ACCEL set) it is OpenSSL's.
// Thread safety: pure functions.
#pragma once

#include <string_view>

#include "events/types.h"

namespace remit {

// True when the SHA extensions are used (else OpenSSL).
bool Sha256Accelerated();

// OpenSSL's SHA-256, for tests that compare the two.
Hash256 Sha256OpenSsl(std::string_view a, std::string_view b = {});

}  // namespace remit
