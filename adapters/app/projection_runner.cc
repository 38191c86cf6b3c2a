#include "adapters/app/projection_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <future>

namespace remit {

std::string ProjectionRunner::CheckpointKey(std::string_view projection) {
  return "meta/checkpoint/" + std::string(projection);
}

ProjectionRunner::ProjectionRunner(EventLog* log, ViewStore* views)
    : log_(log), views_(views), projections_(projections::AllProjections()) {
  uint64_t min_cp = UINT64_MAX;
  for (const auto& p : projections_) {
    auto v = views_->Get(CheckpointKey(p->name()));
    uint64_t cp = v ? std::stoull(*v, nullptr, 16) : 0;
    checkpoints_.push_back(cp);
    min_cp = std::min(min_cp, cp);
    max_checkpoint_ = std::max(max_checkpoint_, cp);
  }
  applied_end_ = projections_.empty() ? 0 : min_cp;
}

ProjectionRunner::~ProjectionRunner() { Stop(); }

Status ProjectionRunner::ReadDecoded(EventLog* log, uint64_t from, size_t max, DecodedBatch* out) {
  // Entries already in *out are decoded into again: their strings keep their storage. Room for
  // `max` up front: growing by doubling would move and zero-fill megabytes along the way.
  out->reserve(std::min(max, kBatchEventsMax));
  size_t n = 0;
  Status s = log->Scan(from, max, [out, &n](uint64_t offset, std::string_view record) {
    if (n == out->size()) out->emplace_back();
    DecodedEntry& entry = (*out)[n];
    Status d = DecodeRecordInto(record, &entry.event);
    if (!d.ok()) return Status::Corruption("offset " + std::to_string(offset) + ": " + d.message());
    entry.offset = offset;
    ++n;
    return Status::OK();
  });
  out->resize(n);
  return s;
}

uint64_t ProjectionRunner::Fold(ViewStore::Txn& txn, const DecodedBatch& entries,
                                const std::function<bool(const Event&)>& keep, bool* cut) {
  uint64_t end = 0;
  for (size_t at = 0; at < entries.size(); ++at) {
    const DecodedEntry& entry = entries[at];
    if (at + kPrefetchAhead < entries.size()) {
      for (auto& p : projections_) p->Prefetch(txn, entries[at + kPrefetchAhead].event);
    }
    if (keep && !keep(entry.event)) {
      *cut = true;
      break;
    }
    for (size_t i = 0; i < projections_.size(); ++i) {
      if (checkpoints_[i] > entry.offset) continue;  // already applied before a restart
      projections_[i]->Apply(txn, entry.offset, entry.event);
      checkpoints_[i] = entry.offset + 1;
    }
    end = entry.offset + 1;
  }
  return end;
}

Status ProjectionRunner::Commit(ViewStore::Txn& txn, uint64_t end) {
  for (size_t i = 0; i < projections_.size(); ++i) {
    txn.Put(CheckpointKey(projections_[i]->name()), projections::EncodeOffset(checkpoints_[i]));
  }
  Status s = txn.Commit();
  if (!s.ok()) return s;
  {
    MutexLock l(&mu_);
    applied_end_ = std::max(applied_end_.load(), end);
  }
  applied_cv_.SignalAll();
  return Status::OK();
}

Status ProjectionRunner::ApplyBatch(const DecodedBatch& entries,
                                    const std::function<bool(const Event&)>& keep, bool* cut) {
  ViewStore::Txn txn(views_);
  uint64_t end = Fold(txn, entries, keep, cut);
  return Commit(txn, end);
}

Status ProjectionRunner::CatchUp(uint64_t end, const std::function<bool(const Event&)>& keep) {
  uint64_t from = applied_end_.load();
  if (from >= end) return Status::OK();
  // Batches are read and verified ahead of the fold, each on a thread of its own, into slots
  // that are reused (reading and verifying costs more than folding; reused slots keep their
  // memory, so no batch faults in fresh pages).
  struct Slot {
    DecodedBatch entries;
    std::future<Status> read;
  };
  std::array<Slot, kReadAheadBatches> slots;
  uint64_t next_from = from;
  auto launch = [&](Slot& slot) {
    if (next_from >= end) return;
    size_t n = static_cast<size_t>(std::min<uint64_t>(kBatchEventsMax, end - next_from));
    slot.read = std::async(std::launch::async, [this, &slot, at = next_from, n] {
      return ReadDecoded(log_, at, n, &slot.entries);
    });
    next_from += n;
  };
  auto drain = [&] {
    for (auto& slot : slots) {
      if (slot.read.valid()) slot.read.wait();
    }
  };
  for (auto& slot : slots) launch(slot);
  ViewStore::Txn txn(views_);
  // About one key per four events in a rebuild of a practice-heavy log; the table grows if not.
  txn.Reserve(std::min<uint64_t>(kCatchUpPendingKeysMax, (end - from) / 4));
  uint64_t folded = from;
  bool cut = false;
  for (size_t i = 0; !cut; i = (i + 1) % slots.size()) {
    Slot& slot = slots[i];
    if (!slot.read.valid()) break;  // everything up to `end` is folded
    Status s = slot.read.get();
    if (!s.ok()) {
      drain();
      return s;
    }
    folded = std::max(folded, Fold(txn, slot.entries, keep, &cut));
    if (progress_) progress_(folded);
    if (!cut) launch(slot);
    if (txn.size() >= kCatchUpPendingKeysMax) {
      s = Commit(txn, folded);
      if (!s.ok()) {
        drain();
        return s;
      }
    }
  }
  drain();
  return Commit(txn, folded);
}

void ProjectionRunner::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void ProjectionRunner::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  applied_cv_.SignalAll();
}

void ProjectionRunner::Loop() {
  DecodedBatch entries;
  bool cut = false;
  while (!stop_) {
    if (!log_->WaitFor(applied_end_, std::chrono::milliseconds(100))) continue;
    Status s = ReadDecoded(log_, applied_end_, kBatchEventsMax, &entries);
    if (s.ok() && !entries.empty()) s = ApplyBatch(entries, {}, &cut);
    if (!s.ok()) {
      spdlog::error("projection runner stopped: {}", s.ToString());
      MutexLock l(&mu_);
      status_ = s;
      applied_cv_.SignalAll();
      return;
    }
  }
}

bool ProjectionRunner::WaitApplied(uint64_t end, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock l(&mu_);
  while (applied_end_ < end && status_.ok()) {
    if (!applied_cv_.WaitUntil(&mu_, deadline)) break;
  }
  return applied_end_ >= end;
}

Status ProjectionRunner::status() const {
  MutexLock l(&mu_);
  return status_;
}

}  // namespace remit
