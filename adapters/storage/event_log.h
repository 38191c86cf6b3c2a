// EventLog: the system of record. An ordered, durable sequence of sealed event records.
//
// Offsets are dense, start at 0 and are never reused. Append is atomic per batch: after a crash
// a batch is either wholly present or wholly absent, and nothing after a missing batch exists.
// A batch is acknowledged (its callback runs with its first offset) only once it is durable.
// Thread safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "events/event.h"
#include "events/status.h"

namespace remit {

// What is appended: the sealed record and its key, the practice id (as in Kafka, where the
// key picks the partition). The log keeps an index by key.
struct LogRecord {
  std::string key;
  std::string record;
};

struct LogEntry {
  uint64_t offset = 0;
  std::string record;
};

class EventLog {
 public:
  using AppendCallback = std::function<void(Result<uint64_t> first_offset)>;

  virtual ~EventLog() = default;

  // Queues `records` for one atomic durable append; `done` runs (on the log's own thread) once
  // they are durable, with the offset of the first record, or with the error.
  virtual void AppendAsync(std::vector<LogRecord> records, AppendCallback done) = 0;

  // Appends and waits until durable.
  Result<uint64_t> Append(std::vector<LogRecord> records);

  // Reads up to `max_entries` durable entries starting at `from`.
  virtual Status Read(uint64_t from, size_t max_entries, std::vector<LogEntry>* out) = 0;

  // Calls `fn(offset, record)` for up to `max_entries` durable entries from `from`, in order,
  // stopping at the first error `fn` returns. `record` is valid only during the call: a scan
  // need not copy what it only verifies and decodes. The default goes through Read. Reads may
  // skip the storage's own block checksums: every record carries its SHA-256, and every
  // reader verifies it (DecodeRecordInto) before it uses a byte.
  using ScanFn = std::function<Status(uint64_t offset, std::string_view record)>;
  virtual Status Scan(uint64_t from, size_t max_entries, const ScanFn& fn);

  // Reads up to `max_entries` durable entries with key `key` at offsets >= `from`, in order.
  virtual Status ReadKey(std::string_view key, uint64_t from, size_t max_entries,
                         std::vector<LogEntry>* out) = 0;

  // One past the last durable offset.
  virtual uint64_t EndOffset() const = 0;

  // Waits until EndOffset() > `offset` or `timeout` passes; true if it did.
  virtual bool WaitFor(uint64_t offset, std::chrono::milliseconds timeout) = 0;
  // Reads everything the log keeps on disk and checks it (block checksums as well as records):
  // the background check of a running server. OK for logs with nothing of their own to check.
  virtual Status VerifyStorage() { return Status::OK(); }
  // A consistent copy of the log's storage in `to` (remit backup); NotSupported where the log
  // lives elsewhere (Kafka: back up the topics).
  virtual Status Checkpoint(const std::string& to) {
    return Status::InvalidArgument("this log cannot be copied: " + to);
  }
};

// The embedded log in `dir` (adapters/storage/rocks_event_log.h), opened for writing or, with
// `read_only`, beside a running server: what a caller gets when it asks for no other log.
Result<std::unique_ptr<EventLog>> OpenEmbeddedLog(const std::string& dir, bool read_only);

// Calls `fn(offset, event)` for every event of `practice` at offsets >= `from`, in order,
// stopping when it returns false. Corruption ends the walk with that status.
Status ForEachEvent(EventLog& log, const std::string& practice,
                    const std::function<bool(uint64_t, const Event&)>& fn, uint64_t from = 0);

}  // namespace remit
