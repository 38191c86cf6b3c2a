// RocksEventLog: the embedded default EventLog, kept in a RocksDB database of its own.
//
// Durability: each append group is one WriteBatch written with WAL sync, so an acknowledged
// append survives kill -9 and power loss. Group commit: appenders queue their batches; one
// writer thread drains the queue, assigns dense offsets, and makes one synced write for all of
// them (at most `group_events_max` events per write).
// Keys: "e" + 8-byte big-endian offset -> the sealed record; in the "index" column family,
// "k" + key + "\0" + first offset -> the 8-byte offsets of that key's entries in one append
// group (the index by key, written in the same batch).
// Callbacks run on a completer thread, in append order, while the writer syncs the next group.
// After a failed write the log refuses further appends (the state on disk is unknown until it
// is reopened).
// Damage: RocksDB opens with rocks_options.h's recovery mode, so damage before the end of the
// WAL fails the open instead of cutting the log there. And the log keeps an independent record
// of how far it got: `<dir>.end` (the high-water mark, beside the log's directory) is replaced
// durably at most every kHighWaterIntervalMs and at close with the durable end. A log that opens
// shorter than its high-water mark lost acknowledged events: the open fails as Corruption.
// Thread safety: all methods are thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adapters/storage/event_log.h"
#include "events/mutex.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace remit {

class RocksEventLog final : public EventLog {
 public:
  static constexpr size_t kGroupEventsMax = 8192;
  static constexpr size_t kQueueBatchesMax = 65536;
  static constexpr size_t kTailVerifyEvents = 1024;
  static constexpr int kHighWaterIntervalMs = 200;

  // Opens or creates the log in `dir`. Checks that the newest entries are dense and verify.
  static Result<std::unique_ptr<RocksEventLog>> Open(const std::string& dir);
  // Opens an existing log read-only (also while a server has it open), without the tail check,
  // for auditors: appends fail; reads see what was durable when it was opened.
  static Result<std::unique_ptr<RocksEventLog>> OpenReadOnly(const std::string& dir);
  ~RocksEventLog() override;

  void AppendAsync(std::vector<LogRecord> records, AppendCallback done) override;
  Status Read(uint64_t from, size_t max_entries, std::vector<LogEntry>* out) override;
  Status Scan(uint64_t from, size_t max_entries, const ScanFn& fn) override;
  Status ReadKey(std::string_view key, uint64_t from, size_t max_entries,
                 std::vector<LogEntry>* out) override;
  uint64_t EndOffset() const override;
  bool WaitFor(uint64_t offset, std::chrono::milliseconds timeout) override;
  Status VerifyStorage() override;
  Status Checkpoint(const std::string& to) override;

  // The high-water mark file of the log in `dir`, and its value (nullopt when there is none:
  // a new log, or one written before remit kept it). Corruption when the file is damaged.
  static std::string HighWaterPath(const std::string& dir) { return dir + ".end"; }
  static Result<std::optional<uint64_t>> ReadHighWater(const std::string& dir);
  static Status WriteHighWater(const std::string& dir, uint64_t end);

  // Appends like AppendAsync and writes `meta` in the same atomic write, also when `records` is
  // empty: a mirror of another log keeps its source positions with the entries it took. Meta
  // keys live in the index family under "m" and never collide with the index by key.
  struct MetaPut {
    std::string key;
    std::string value;
  };
  void AppendWithMeta(std::vector<LogRecord> records, std::vector<MetaPut> meta,
                      AppendCallback done);
  std::optional<std::string> GetMeta(std::string_view key) const;
  // Calls fn(key, value) for meta keys starting with `prefix` (the "m" not included).
  void ScanMeta(std::string_view prefix,
                const std::function<void(std::string_view, std::string_view)>& fn) const;

  // Test hook: overwrite the stored bytes at `offset` (to simulate tampering) or delete it.
  Status TestOnlyOverwrite(uint64_t offset, const std::string* record);

 private:
  struct Pending {
    std::vector<LogRecord> records;
    AppendCallback done;
    std::vector<MetaPut> meta;
  };
  struct Completed {
    std::vector<Pending> group;
    uint64_t first = 0;
    Status status;
  };
  static Result<std::unique_ptr<RocksEventLog>> OpenImpl(const std::string& dir, bool read_only);
  RocksEventLog(std::unique_ptr<rocksdb::DB> db,
                std::unique_ptr<rocksdb::ColumnFamilyHandle> default_cf,
                std::unique_ptr<rocksdb::ColumnFamilyHandle> index_cf, uint64_t end,
                std::string dir, bool read_only);
  void WriterLoop();
  void CompleterLoop();
  void HighWaterLoop();

  const std::string dir_;
  const bool read_only_;
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<rocksdb::ColumnFamilyHandle> default_cf_;
  std::unique_ptr<rocksdb::ColumnFamilyHandle> index_cf_;
  mutable Mutex mu_;
  CondVar work_cv_;   // writer waits for queued batches
  CondVar space_cv_;  // appenders wait for queue space
  CondVar end_cv_;    // readers wait for new durable entries
  std::deque<Pending> queue_ REMIT_GUARDED_BY(mu_);
  uint64_t end_ REMIT_GUARDED_BY(mu_) = 0;  // one past the last durable offset
  Status failed_ REMIT_GUARDED_BY(mu_);
  bool stopping_ REMIT_GUARDED_BY(mu_) = false;
  std::thread writer_;
  // Acknowledgements, in append order, on their own thread.
  Mutex done_mu_;
  CondVar done_cv_;
  std::deque<Completed> done_ REMIT_GUARDED_BY(done_mu_);
  bool done_stopping_ REMIT_GUARDED_BY(done_mu_) = false;
  std::thread completer_;
  // The high-water mark's writer (not in read-only opens).
  CondVar high_water_cv_;
  std::thread high_water_;
};

}  // namespace remit
