#include "adapters/projection_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>

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

Status ProjectionRunner::ApplyBatch(const std::vector<LogEntry>& entries,
                                    const std::function<bool(const Event&)>& keep, bool* cut) {
  ViewStore::Txn txn(views_);
  uint64_t end = applied_end_.load();
  for (const auto& entry : entries) {
    auto ev = DecodeRecord(entry.record);
    if (!ev.ok()) {
      return Status::Corruption("offset " + std::to_string(entry.offset) + ": " +
                                ev.status().message());
    }
    if (keep && !keep(*ev)) {
      *cut = true;
      break;
    }
    for (size_t i = 0; i < projections_.size(); ++i) {
      if (checkpoints_[i] > entry.offset) continue;  // already applied before a restart
      projections_[i]->Apply(txn, entry.offset, *ev);
      checkpoints_[i] = entry.offset + 1;
    }
    end = std::max(end, entry.offset + 1);
  }
  for (size_t i = 0; i < projections_.size(); ++i) {
    txn.Put(CheckpointKey(projections_[i]->name()), projections::EncodeOffset(checkpoints_[i]));
  }
  Status s = txn.Commit();
  if (!s.ok()) return s;
  {
    std::lock_guard<std::mutex> l(mu_);
    applied_end_ = end;
  }
  applied_cv_.notify_all();
  return Status::OK();
}

Status ProjectionRunner::CatchUp(uint64_t end, const std::function<bool(const Event&)>& keep) {
  std::vector<LogEntry> entries;
  bool cut = false;
  while (!cut && applied_end_.load() < end) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kBatchEventsMax, end - applied_end_));
    Status s = log_->Read(applied_end_, n, &entries);
    if (!s.ok()) return s;
    if (entries.empty()) break;
    s = ApplyBatch(entries, keep, &cut);
    if (!s.ok()) return s;
  }
  return Status::OK();
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
  std::vector<LogEntry> entries;
  bool cut = false;
  while (!stop_) {
    if (!log_->WaitFor(applied_end_, std::chrono::milliseconds(100))) continue;
    Status s = log_->Read(applied_end_, kBatchEventsMax, &entries);
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
