#include "adapters/storage/kv_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "adapters/storage/rocks_options.h"

namespace remit {
namespace {

class RocksKv final : public KvStore {
 public:
  RocksKv(std::unique_ptr<rocksdb::DB> db, std::string dir)
      : db_(std::move(db)), dir_(std::move(dir)) {}
  ~RocksKv() override { db_->Close().PermitUncheckedError(); }

  Status Put(const std::string& key, const std::string& value) override {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::Status s = db_->Put(wo, key, value);
    return s.ok() ? Status::OK() : Status::IOError(s.ToString());
  }

  Status Write(const Pairs& pairs, bool sync) override {
    rocksdb::WriteBatch batch;
    for (const auto& [k, v] : pairs) {
      rocksdb::Status s = batch.Put(k, v);
      if (!s.ok()) return Status::InvalidArgument(s.ToString());
    }
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    rocksdb::Status s = db_->Write(wo, &batch);
    return s.ok() ? Status::OK() : StoreError(s, StoreKind::kKv, dir_);
  }

  Result<Value> Get(const std::string& key) const override {
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &v);
    if (s.IsNotFound()) return Value();
    if (s.IsCorruption()) return StoreError(s, StoreKind::kKv, dir_);
    if (!s.ok()) return Status::IOError(s.ToString());
    return Value(std::move(v));
  }

  Status Rewrite(const RewriteFn& fn) override {
    constexpr size_t kBatchPairsMax = 1024;
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::WriteBatch batch;
    size_t rewritten = 0;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto value = fn(it->key().ToString(), it->value().ToString());
      if (!value) continue;
      batch.Put(it->key(), *value);
      ++rewritten;
      if (batch.Count() >= kBatchPairsMax) {
        rocksdb::Status s = db_->Write(wo, &batch);
        if (!s.ok()) return StoreError(s, StoreKind::kKv, dir_);
        batch.Clear();
      }
    }
    if (!it->status().ok()) return StoreError(it->status(), StoreKind::kKv, dir_);
    it.reset();
    if (batch.Count() > 0) {
      rocksdb::Status s = db_->Write(wo, &batch);
      if (!s.ok()) return StoreError(s, StoreKind::kKv, dir_);
    }
    if (rewritten == 0) return Status::OK();
    // The old values are in write-ahead log files and tables: a flush retires the log files
    // that held them, and a compaction to the bottom level drops them from every table.
    rocksdb::Status s = db_->Flush(rocksdb::FlushOptions());
    rocksdb::CompactRangeOptions co;
    co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    if (s.ok()) s = db_->CompactRange(co, nullptr, nullptr);
    return s.ok() ? Status::OK() : StoreError(s, StoreKind::kKv, dir_);
  }

  Status VerifyStorage() const override { return VerifyStore(db_.get(), StoreKind::kKv, dir_); }
  Status Checkpoint(const std::string& to) const override {
    return CheckpointStore(db_.get(), StoreKind::kKv, dir_, to);
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::string dir_;
};

}  // namespace

Result<std::unique_ptr<KvStore>> OpenRocksKv(const std::string& dir) {
  rocksdb::Options options;
  ApplyStoreOptions(&options);
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) return StoreError(s, StoreKind::kKv, dir);
  return std::unique_ptr<KvStore>(new RocksKv(std::unique_ptr<rocksdb::DB>(raw), dir));
}

Result<std::unique_ptr<KvStore>> OpenRocksKvReadOnly(const std::string& dir) {
  rocksdb::Options options;
  ApplyStoreOptions(&options);
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(options, dir, &raw);
  if (!s.ok()) return StoreError(s, StoreKind::kKv, dir);
  return std::unique_ptr<KvStore>(new RocksKv(std::unique_ptr<rocksdb::DB>(raw), dir));
}

}  // namespace remit
