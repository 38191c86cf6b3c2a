"""Writes a C++ file that holds zxcvbn's 30,000 most common passwords (Debian's python3-zxcvbn,
MIT; ranked from public breach corpora) in rank order, one per line, for CommonPasswords().

Usage: /usr/bin/python3 embed_passwords.py OUT.cc
"""
import sys

from zxcvbn.frequency_lists import FREQUENCY_LISTS

words = FREQUENCY_LISTS["passwords"]
if len(words) < 10000 or any("\n" in w or not w for w in words):
    sys.exit("python3-zxcvbn: expected at least 10,000 non-empty passwords, got %d" % len(words))
data = "".join(w + "\n" for w in words).encode()
rows = [",".join(str(b) for b in data[i:i + 64]) for i in range(0, len(data), 64)]
with open(sys.argv[1], "w") as out:
    out.write("// Generated from python3-zxcvbn at build time. Do not edit.\n")
    out.write('#include "adapters/crypto/common_passwords.h"\n\nnamespace remit {\nnamespace {\n')
    out.write("const unsigned char kList[] = {\n%s};\n}  // namespace\n\n" % ",\n".join(rows))
    out.write("std::string_view CommonPasswords() {\n")
    out.write("  return std::string_view(reinterpret_cast<const char*>(kList), %d);\n}\n\n" % len(data))
    out.write("size_t CommonPasswordCount() { return %d; }\n\n}  // namespace remit\n" % len(words))
