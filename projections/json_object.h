// JsonObject: writes a flat JSON object with exactly the bytes nlohmann::json::dump() gives
// for the same members (keys in byte order, no spaces, the same escapes), without building a
// json tree: a projection writes one per event, and the tree cost it a hundred allocations.
//
// Members refer to the caller's strings: they must outlive Dump(). Invalid UTF-8 in a string
// is written as U+FFFD (dump() would throw).
// Thread safety: an object is used by one thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace remit::projections {

class JsonObject {
 public:
  static constexpr size_t kMembersMax = 16;

  JsonObject& Str(std::string_view key, std::string_view value);
  JsonObject& Int(std::string_view key, int64_t value);
  JsonObject& Bool(std::string_view key, bool value);
  JsonObject& Null(std::string_view key);

  std::string Dump() const;

 private:
  enum class Kind : uint8_t { kStr, kInt, kBool, kNull };
  struct Member {
    std::string_view key;
    Kind kind = Kind::kNull;
    std::string_view str;
    int64_t num = 0;
  };
  JsonObject& Add(const Member& m);

  std::array<Member, kMembersMax> members_;
  size_t size_ = 0;
};

// Appends `s` as a JSON string (quoted and escaped as nlohmann::json::dump() does).
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace remit::projections
