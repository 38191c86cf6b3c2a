// Fundamental types and helpers shared by every layer: hashes, time, validation of ids and
// money. Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace remit {

using Hash256 = std::array<uint8_t, 32>;
using EventId = std::array<uint8_t, 16>;

// Money is always int64 cents. No floating point near an amount.
using Cents = int64_t;

// The largest amount one command may carry (a charge, a payment, a refund, an adjustment, a
// request): spec/api.md's 1,000,000,000 cents, checked by the API and again by the engine.
inline constexpr Cents kAmountCentsMax = 1'000'000'000;
inline constexpr bool IsValidAmount(Cents c) { return c > 0 && c <= kAmountCentsMax; }

// Sums of amounts (balances, totals, what is due) saturate instead of wrapping: a log written
// before amounts were capped may hold amounts near 2^63, and folding it must stay defined.
inline Cents AddCents(Cents a, Cents b) {
  Cents r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}
inline Cents SubCents(Cents a, Cents b) {
  Cents r;
  if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? INT64_MAX : INT64_MIN;
  return r;
}

// SHA-256 of the concatenation of the given pieces (events/sha256.h: how, and two at once).
Hash256 Sha256(std::string_view a, std::string_view b = {});
std::string Hex(const uint8_t* data, size_t n);
template <size_t N>
std::string Hex(const std::array<uint8_t, N>& a) {
  return Hex(a.data(), N);
}
std::string HashBytes(const Hash256& h);  // the 32 raw bytes as a string

// Microseconds since the Unix epoch, UTC.
int64_t NowMicros();
// "2026-11-27T10:01:19Z" (with ".123456" when there are sub-second digits and `fraction`).
std::string FormatTime(int64_t micros, bool fraction = false);
// Accepts RFC 3339 with 'Z' or a numeric offset, optional fraction; and YYYY-MM-DD (midnight UTC).
std::optional<int64_t> ParseTime(std::string_view text);
// YYYY-MM-DD, a real calendar date.
bool IsValidDate(std::string_view text);

// Identifier rules of spec/api.md.
bool IsValidPracticeId(std::string_view id);       // [a-z0-9-]{3,40}
bool IsValidExternalId(std::string_view id);       // [A-Za-z0-9_-]{1,64}
bool IsValidIdempotencyKey(std::string_view key);  // 1..255 printable ASCII

// A random id of `bytes` random bytes, hex encoded (from the OS's CSPRNG).
std::string RandomHex(size_t bytes);

}  // namespace remit
