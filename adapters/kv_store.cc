#include "adapters/kv_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "adapters/rocks_options.h"

namespace remit {
namespace {

class RocksKv final : public KvStore {
 public:
  RocksKv(std::unique_ptr<rocksdb::DB> db, std::string dir) : db_(std::move(db)), dir_(std::move(dir)) {}
  ~RocksKv() override { db_->Close().PermitUncheckedError(); }

  Status Put(const std::string& key, const std::string& value) override {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::Status s = db_->Put(wo, key, value);
    return s.ok() ? Status::OK() : Status::IOError(s.ToString());
  }

  Result<Value> Get(const std::string& key) const override {
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &v);
    if (s.IsNotFound()) return Value();
    if (s.IsCorruption()) return StoreError(s, StoreKind::kKv, dir_);
    if (!s.ok()) return Status::IOError(s.ToString());
    return Value(std::move(v));
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
