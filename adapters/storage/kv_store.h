// KvStore: the small durable key-value stores beside the event log (the secrets store, the
// sandbox processor). Embedded: a RocksDB of its own with synced writes. On Kafka: a topic
// that every process mirrors (adapters/kafka/kafka_kv.h), so that whichever process owns a practice
// finds the same secrets and card tokens.
// Thread safety: all methods are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "events/status.h"

namespace remit {

class KvStore {
 public:
  virtual ~KvStore() = default;
  // Returns once the value is durable.
  virtual Status Put(const std::string& key, const std::string& value) = 0;
  // The value, or an empty optional when the key has none; an error when the store cannot
  // tell (a Kafka store that cannot reach its topic): a miss is never guessed.
  using Value = std::optional<std::string>;
  virtual Result<Value> Get(const std::string& key) const = 0;
  // Reads everything the store keeps on disk and checks it (the background check); OK for a
  // store with nothing of its own to check.
  virtual Status VerifyStorage() const { return Status::OK(); }
  // Writes every pair in one atomic batch; with `sync`, durable before it returns (without, a
  // crash may lose the batch whole, never part of it). A store that cannot write atomically
  // says NotSupported.
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  virtual Status Write(const Pairs& pairs, bool sync) {
    return Status::NotSupported("this store cannot write a batch atomically");
  }
  // Calls `fn` on every pair; where it returns a value, that value replaces the old one, durably,
  // and the old bytes leave the disk (flushed out of the write-ahead log and compacted out of
  // every table): how a value that should never have been kept is scrubbed. NotSupported for a
  // store that lives elsewhere (a Kafka topic keeps what it was sent).
  using RewriteFn =
      std::function<std::optional<std::string>(const std::string& key, const std::string& value)>;
  virtual Status Rewrite(const RewriteFn& fn) {
    return Status::NotSupported("this store cannot rewrite its values in place");
  }
  // A consistent copy in `to` (remit backup); NotSupported for a store that lives elsewhere.
  virtual Status Checkpoint(const std::string& to) const {
    return Status::InvalidArgument("this store cannot be copied: " + to);
  }
};

// The embedded store in `dir`.
Result<std::unique_ptr<KvStore>> OpenRocksKv(const std::string& dir);
// The same, read-only (also beside a running server): Put fails.
Result<std::unique_ptr<KvStore>> OpenRocksKvReadOnly(const std::string& dir);

}  // namespace remit
