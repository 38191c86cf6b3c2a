#pragma once

// The common-password blocklist: the 30,000 most common passwords of public breach corpora
// (zxcvbn's list, from Debian's python3-zxcvbn), compiled into the binary at build time
// (cmake/embed_passwords.py), so a password check reads no file and asks no service.

#include <cstddef>
#include <string_view>

namespace remit {

// Every password, lower case, in rank order (most common first), each ended by '\n'.
std::string_view CommonPasswords();
size_t CommonPasswordCount();

}  // namespace remit
