#include "adapters/projection_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
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
  }
  applied_end_ = projections_.empty() ? 0 : min_cp;
}

ProjectionRunner::~ProjectionRunner() { Stop(); }

Status ProjectionRunner::ReadDecoded(EventLog* log, uint64_t from, size_t max,
                                     std::vector<DecodedEntry>* out) {
  std::vector<LogEntry> entries;
  out->clear();
  Status s = log->Read(from, max, &entries);
  if (!s.ok()) return s;
  out->reserve(entries.size());
  for (auto& entry : entries) {
    auto ev = DecodeRecord(entry.record);
    if (!ev.ok()) {
      return Status::Corruption("offset " + std::to_string(entry.offset) + ": " +
                                ev.status().message());
    }
    out->push_back(DecodedEntry{entry.offset, std::move(ev).value()});
  }
  return Status::OK();
}

uint64_t ProjectionRunner::Fold(ViewStore::Txn& txn, const std::vector<DecodedEntry>& entries,
                                const std::function<bool(const Event&)>& keep, bool* cut) {
  uint64_t end = 0;
  for (const auto& entry : entries) {
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
    std::lock_guard<std::mutex> l(mu_);
    applied_end_ = std::max(applied_end_.load(), end);
  }
  applied_cv_.notify_all();
  return Status::OK();
}

Status ProjectionRunner::ApplyBatch(const std::vector<DecodedEntry>& entries,
                                    const std::function<bool(const Event&)>& keep, bool* cut) {
  ViewStore::Txn txn(views_);
  uint64_t end = Fold(txn, entries, keep, cut);
  return Commit(txn, end);
}

Status ProjectionRunner::CatchUp(uint64_t end, const std::function<bool(const Event&)>& keep) {
  auto read = [this, end](uint64_t from) {
    auto batch = std::make_unique<std::vector<DecodedEntry>>();
    size_t n = static_cast<size_t>(std::min<uint64_t>(kBatchEventsMax, end - from));
    Status s = n == 0 ? Status::OK() : ReadDecoded(log_, from, n, batch.get());
    return std::make_pair(std::move(s), std::move(batch));
  };
  uint64_t from = applied_end_.load();
  if (from >= end) return Status::OK();
  ViewStore::Txn txn(views_);
  uint64_t folded = from;
  auto current = read(from);
  bool cut = false;
  for (;;) {
    if (!current.first.ok()) return current.first;
    if (current.second->empty()) break;
    uint64_t next_from = current.second->back().offset + 1;
    // Read and verify the next batch while this one is folded.
    std::future<decltype(current)> next;
    if (next_from < end) next = std::async(std::launch::async, read, next_from);
    folded = std::max(folded, Fold(txn, *current.second, keep, &cut));
    if (progress_) progress_(folded);
    if (txn.size() >= kCatchUpPendingKeysMax) {
      Status s = Commit(txn, folded);
      if (!s.ok()) {
        if (next.valid()) next.wait();
        return s;
      }
    }
    if (cut || !next.valid()) {
      if (next.valid()) next.wait();
      break;
    }
    current = next.get();
  }
  return Commit(txn, folded);
}

void ProjectionRunner::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void ProjectionRunner::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  applied_cv_.notify_all();
}

void ProjectionRunner::Loop() {
  std::vector<DecodedEntry> entries;
  bool cut = false;
  while (!stop_) {
    if (!log_->WaitFor(applied_end_, std::chrono::milliseconds(100))) continue;
    Status s = ReadDecoded(log_, applied_end_, kBatchEventsMax, &entries);
    if (s.ok() && !entries.empty()) s = ApplyBatch(entries, {}, &cut);
    if (!s.ok()) {
      spdlog::error("projection runner stopped: {}", s.ToString());
      std::lock_guard<std::mutex> l(mu_);
      status_ = s;
      applied_cv_.notify_all();
      return;
    }
  }
}

bool ProjectionRunner::WaitApplied(uint64_t end, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  return applied_cv_.wait_for(l, timeout, [&] { return applied_end_ >= end || !status_.ok(); }) &&
         applied_end_ >= end;
}

Status ProjectionRunner::status() const {
  std::lock_guard<std::mutex> l(mu_);
  return status_;
}

}  // namespace remit
