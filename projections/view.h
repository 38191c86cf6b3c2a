// The storage a projection folds into, as an abstract key/value transaction.
//
// Projections never see RocksDB: adapters/ implement ViewTxn over a RocksDB WriteBatch (live
// and rebuild) or over a plain map (point-in-time views). A Get sees the Puts and Deletes made
// earlier in the same transaction.
// Thread safety: a ViewTxn is used by one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace remit::projections {

class ViewTxn {
 public:
  virtual ~ViewTxn() = default;
  virtual std::optional<std::string> Get(std::string_view key) = 0;
  virtual void Put(std::string_view key, std::string_view value) = 0;
  virtual void Delete(std::string_view key) = 0;
  // A hint that `key` will be read soon: a rebuild starts fetching its slot from memory while
  // it folds the events before. Changes nothing that Get, Put or Delete see.
  virtual void Prefetch(std::string_view /*key*/) {}
};

// Fixed-width encodings that sort as numbers.
std::string EncodeOffset(uint64_t offset);  // 16 hex digits
std::string EncodeCents(int64_t cents);     // 8 bytes, little endian
int64_t DecodeCents(std::string_view bytes);

}  // namespace remit::projections
