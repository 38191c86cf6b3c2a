// KafkaEventLog: the event log on a Kafka topic, for several remit processes (docs/kafka.md).
//
// The topic is the system of record: one message per sealed record, key = practice id (so a
// practice lives in one partition), value = the record bytes, CloudEvents headers (binary
// mode). Each process mirrors the whole topic into a local RocksEventLog, which gives it the
// dense offsets, reads by key and waits that the rest of remit (projections, audit, /events)
// uses unchanged. The mirror is where "exactly once in effect" is made, since the broker's
// deduplication and read_committed cannot be relied on:
//   - a command's records are one unit (header ce_remitbatch "i/n"); a unit is taken whole or
//     not at all, never in part;
//   - a unit whose first event id the mirror already holds is a duplicate (a producer retry, a
//     redelivery) and is skipped;
//   - a unit whose first prev_hash is not its practice's head is a fork (a second writer for
//     the practice) and is refused, so each practice's chain stays one line;
//   - the Kafka position of every partition is stored in the same RocksDB write as the entries
//     taken from it, so a restart neither loses nor repeats anything;
//   - a mirror is only opened on the topic it was made from: one whose positions lie past the
//     topic's end (the topic was deleted and made again, or these are another cluster's
//     brokers), or that was made with another partition count (practices would change
//     partition and their order with it), is refused at Open, naming what differs.
// Every process applies these rules to the same partition order, so every mirror holds the
// same units, in the same order per practice.
// An append produces the unit (idempotent producer, acks=all) and is acknowledged once the
// mirror has taken it: with its local offset, or with an error when it was refused or could
// not be delivered.
// Thread safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "adapters/storage/event_log.h"
#include "adapters/storage/rocks_event_log.h"
#include "events/mutex.h"
#include "events/types.h"

namespace remit {

struct KafkaLogOptions {
  std::string brokers;  // bootstrap.servers
  std::string topic = "remit.events";
  std::string dir;  // the local mirror
  std::string client_id = "remit";
  // How long an append may wait for delivery and for the mirror before it fails.
  int append_timeout_ms = 30000;
};

class KafkaEventLog final : public EventLog {
 public:
  static constexpr size_t kMirrorBatchMax = 8192;  // messages taken per mirror write

  static Result<std::unique_ptr<KafkaEventLog>> Open(const KafkaLogOptions& options);
  ~KafkaEventLog() override;

  // `records` must all have the same key (one practice's command).
  void AppendAsync(std::vector<LogRecord> records, AppendCallback done) override;
  Status Read(uint64_t from, size_t max_entries, std::vector<LogEntry>* out) override;
  Status Scan(uint64_t from, size_t max_entries, const ScanFn& fn) override;
  Status ReadKey(std::string_view key, uint64_t from, size_t max_entries,
                 std::vector<LogEntry>* out) override;
  uint64_t EndOffset() const override;
  Status VerifyStorage() override { return mirror_->VerifyStorage(); }
  bool WaitFor(uint64_t offset, std::chrono::milliseconds timeout) override;

  int32_t partitions() const { return partitions_; }
  // The partition of a practice: murmur2 of the key, as Kafka's Java clients compute it.
  int32_t PartitionOf(std::string_view key) const;
  // The next offset of `partition` that the mirror has not yet taken.
  int64_t Position(int32_t partition) const;
  // Waits until the mirror has taken everything before `offset` in `partition`.
  bool WaitPosition(int32_t partition, int64_t offset, std::chrono::milliseconds timeout);
  // The broker's high watermark of `partition` (one past its last message).
  Result<int64_t> HighWatermark(int32_t partition, std::chrono::milliseconds timeout);
  // Waits until the mirror holds everything the topic held when called (all partitions, or
  // one): what a writer must see before it decides anything for a practice.
  Status CatchUp(std::chrono::milliseconds timeout, int32_t only_partition = -1);

  struct Counters {
    uint64_t units = 0;       // units taken into the mirror
    uint64_t duplicates = 0;  // units skipped as already held
    uint64_t forks = 0;       // units refused: not on their practice's head
    uint64_t incomplete = 0;  // partial units dropped
    uint64_t malformed = 0;   // messages that are not remit records
  };
  Counters counters() const;

 private:
  struct Waiter {
    AppendCallback done;
    std::chrono::steady_clock::time_point deadline;
    int32_t partition = 0;
  };
  struct Message {
    int32_t partition = 0;
    int64_t offset = 0;
    std::string key;
    std::string value;
    int index = 1;  // 1-based position in its unit
    int count = 1;
    bool mine = false;  // produced by this instance (ce_remitwriter)
  };
  struct Impl;

  KafkaEventLog() = default;
  void MirrorLoop();
  void PollLoop();
  // Takes consumed messages into the mirror (one durable write) and resolves appends.
  Status Take(std::vector<Message> messages);
  void Resolve(const std::string& first_event_id, Result<uint64_t> outcome);
  void ExpireWaiters();

  KafkaLogOptions options_;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<RocksEventLog> mirror_;
  // At Open: Corruption when the mirror was not made from this topic as it is (see the top).
  Status CheckMirrorFitsTopic(const std::vector<int64_t>& start, int stored_partition_max);
  // Every partition's position, as the mirror has taken it.
  std::vector<int64_t> Positions() const;

  int32_t partitions_ = 0;
  bool partitions_recorded_ = false;  // the mirror holds partitions_ under kPartitionsMeta
  std::string writer_id_;             // this instance, in the ce_remitwriter header

  // Mirror state, owned by the mirror thread (positions_ also read under mu_).
  std::unordered_map<std::string, Hash256> heads_;
  std::map<std::pair<int32_t, std::string>, std::vector<Message>> partial_;

  mutable Mutex mu_;
  CondVar position_cv_;  // signalled when positions_ move
  std::vector<int64_t> positions_ REMIT_GUARDED_BY(mu_);
  std::unordered_map<std::string, Waiter> waiters_ REMIT_GUARDED_BY(mu_);  // by first event id
  Counters counters_ REMIT_GUARDED_BY(mu_);

  std::atomic<bool> stop_{false};
  std::thread mirror_thread_;
  std::thread poll_thread_;
};

}  // namespace remit
