// ProjectionRunner: folds the log into the views, in order, exactly once.
//
// Each batch of events is applied to every projection and written in one WriteBatch together
// with each projection's checkpoint (the next offset it will apply), so a crash can neither
// apply an event twice nor skip one. Records are verified as they are read; a corrupt record
// stops the runner with a Corruption status (see status()). While one batch is applied, the
// next is read and verified on another thread.
// Thread safety: Start/Stop/CatchUp from one thread; WaitApplied/applied_end/status from any.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>
#include "events/mutex.h"

#include "adapters/storage/event_log.h"
#include "adapters/storage/huge_pages.h"
#include "adapters/storage/view_store.h"
#include "events/event.h"
#include "projections/projections.h"

namespace remit {

struct DecodedEntry {
  uint64_t offset = 0;
  Event event;
};
// A batch of decoded events (16k events are about 7 MiB: on huge pages, see huge_pages.h).
using DecodedBatch = std::vector<DecodedEntry, LargeAllocator<DecodedEntry>>;

class ProjectionRunner {
 public:
  static constexpr size_t kBatchEventsMax = 16384;
  // Batches CatchUp reads and verifies ahead of the fold, each on its own thread.
  static constexpr size_t kReadAheadBatches = 4;
  // CatchUp keeps its writes in memory across batches and commits when this many keys are
  // pending (or at the end): a rebuild then writes each key about once, not once per event.
  static constexpr size_t kCatchUpPendingKeysMax = 1 << 20;
  // The fold hints the keys of the event this many ahead (Projection::Prefetch).
  static constexpr size_t kPrefetchAhead = 8;

  ProjectionRunner(EventLog* log, ViewStore* views);
  ~ProjectionRunner();

  // Applies everything up to `end` on the calling thread. `keep` may cut the replay: the first
  // event for which it returns false ends the run.
  Status CatchUp(uint64_t end, const std::function<bool(const Event&)>& keep = {});
  // Starts following the log on a thread of its own.
  void Start();
  void Stop();

  // Waits until every event before `end` is applied; false on timeout or failure.
  bool WaitApplied(uint64_t end, std::chrono::milliseconds timeout);
  uint64_t applied_end() const { return applied_end_.load(); }
  // The furthest checkpoint of any projection, as read from the views when constructed.
  uint64_t max_checkpoint() const { return max_checkpoint_; }
  Status status() const;

  static std::string CheckpointKey(std::string_view projection);

  // Called by CatchUp after each batch with the number of events folded so far.
  void SetProgress(std::function<void(uint64_t)> progress) { progress_ = std::move(progress); }

  // Applies `entries` (in offset order) as one write. Offsets a projection has already applied
  // are skipped, so a redelivered batch changes nothing. Sets *cut when `keep` cut it.
  Status ApplyBatch(const DecodedBatch& entries, const std::function<bool(const Event&)>& keep,
                    bool* cut);

  // Reads and verifies up to `max` entries from `from`.
  static Status ReadDecoded(EventLog* log, uint64_t from, size_t max, DecodedBatch* out);

 private:
  // Folds entries into `txn`; returns one past the last offset folded.
  uint64_t Fold(ViewStore::Txn& txn, const DecodedBatch& entries,
                const std::function<bool(const Event&)>& keep, bool* cut);
  // Writes `txn` with every projection's checkpoint, then publishes `end`.
  Status Commit(ViewStore::Txn& txn, uint64_t end);
  void Loop();

  EventLog* log_;
  ViewStore* views_;
  std::vector<std::unique_ptr<projections::Projection>> projections_;
  std::vector<uint64_t> checkpoints_;
  uint64_t max_checkpoint_ = 0;
  std::atomic<uint64_t> applied_end_{0};
  std::atomic<bool> stop_{false};
  mutable Mutex mu_;
  CondVar applied_cv_;  // signalled when applied_end_ or status_ changes
  Status status_ REMIT_GUARDED_BY(mu_);
  std::thread thread_;
  std::function<void(uint64_t)> progress_;
};

}  // namespace remit
