#include "adapters/storage/rocks_options.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/checkpoint.h>

#include <filesystem>
#include <memory>

namespace remit {

void ApplyStoreOptions(rocksdb::Options* options) {
  options->wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  options->paranoid_checks = true;
}

const char* StoreRemedy(StoreKind kind) {
  switch (kind) {
    case StoreKind::kLog:
      return "the event log cannot be trusted past this point; stop, keep this directory as it "
             "is, and restore the data directory from a backup (remit restore; "
             "docs/operations.md)";
    case StoreKind::kViews:
      return "the views are a projection of the log: rebuild them with "
             "`remit replay --data DIR --out NEW` and move NEW/views into place "
             "(docs/operations.md)";
    case StoreKind::kKv:
      return "restore the data directory from a backup (remit restore; docs/operations.md)";
  }
  return "";
}

Status StoreError(const rocksdb::Status& s, StoreKind kind, const std::string& dir) {
  std::string m = dir + ": " + (s.getState() != nullptr ? std::string(s.getState()) : s.ToString());
  if (s.IsCorruption()) {
    // RocksDB does not always say which file: name the write-ahead log files beside the tables.
    std::string wals;
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
      if (f.path().extension() == ".log")
        wals += (wals.empty() ? "" : ", ") + f.path().filename().string();
    }
    if (!wals.empty() && m.find(".sst") == std::string::npos)
      m += " (write-ahead log: " + wals + ")";
  }
  if (s.IsCorruption()) return Status::Corruption(m + ". " + StoreRemedy(kind));
  return Status::IOError(m);
}

Status CheckpointStore(rocksdb::DB* db, StoreKind kind, const std::string& dir,
                       const std::string& to) {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db, &raw);
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  // A flush first: the copy then holds the data in table files, not only in a log.
  if (s.ok()) s = cp->CreateCheckpoint(to, /*log_size_for_flush=*/0);
  if (s.ok()) return Status::OK();
  return StoreError(s, kind, dir + " (backup to " + to + ")");
}

Status VerifyStore(rocksdb::DB* db, StoreKind kind, const std::string& dir) {
  rocksdb::Status s = db->VerifyChecksum();
  if (s.ok()) return Status::OK();
  return StoreError(s, kind, dir);
}

}  // namespace remit
