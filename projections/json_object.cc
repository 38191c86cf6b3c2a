#include "projections/json_object.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "events/check.h"

namespace remit::projections {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if there is none (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF).
size_t Utf8Length(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (at(k) & 0xC0) == 0x80; };
  uint8_t c = at(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    uint8_t c1 = at(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
    if (c == 0xED && c1 > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    uint8_t c1 = at(i + 1);
    if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
    if (c == 0xF4 && c1 > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    // Runs of bytes that need no escape are copied whole.
    size_t run = i;
    while (run < s.size()) {
      auto c = static_cast<uint8_t>(s[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++run;
    }
    out->append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x80) {
      size_t n = Utf8Length(s, i);
      if (n == 0) {
        out->append("\xEF\xBF\xBD");
        ++i;
      } else {
        out->append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out->append(buf, 6);
      }
    }
    ++i;
  }
  out->push_back('"');
}

JsonObject& JsonObject::Add(const Member& m) {
  REMIT_CHECK(size_ < kMembersMax, "a projection's fixed shape outgrew JsonObject");
  members_[size_++] = m;
  return *this;
}

JsonObject& JsonObject::Str(std::string_view key, std::string_view value) {
  return Add(Member{key, Kind::kStr, value, 0});
}
JsonObject& JsonObject::Int(std::string_view key, int64_t value) {
  return Add(Member{key, Kind::kInt, {}, value});
}
JsonObject& JsonObject::Bool(std::string_view key, bool value) {
  return Add(Member{key, Kind::kBool, {}, value ? 1 : 0});
}
JsonObject& JsonObject::Null(std::string_view key) { return Add(Member{key, Kind::kNull, {}, 0}); }

std::string JsonObject::Dump() const {
  // nlohmann keeps an object's members in a std::map: in byte order of the keys, and a key
  // given twice keeps its first value.
  std::array<const Member*, kMembersMax> order;
  for (size_t i = 0; i < size_; ++i) order[i] = &members_[i];
  std::stable_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(size_),
                   [](const Member* a, const Member* b) { return a->key < b->key; });
  std::string out;
  size_t bytes = 2;
  for (size_t i = 0; i < size_; ++i) bytes += order[i]->key.size() + order[i]->str.size() + 24;
  out.reserve(bytes);
  out.push_back('{');
  bool first = true;
  for (size_t i = 0; i < size_; ++i) {
    const Member& m = *order[i];
    if (i > 0 && m.key == order[i - 1]->key) continue;
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(&out, m.key);
    out.push_back(':');
    switch (m.kind) {
      case Kind::kStr:
        AppendJsonString(&out, m.str);
        break;
      case Kind::kInt:
        out.append(std::to_string(m.num));
        break;
      case Kind::kBool:
        out.append(m.num != 0 ? "true" : "false");
        break;
      case Kind::kNull:
        out.append("null");
        break;
    }
  }
  out.push_back('}');
  return out;
}

}  // namespace remit::projections
