// Backups of a data directory: every store at one point, the keys beside them, checked.
//
// WriteBackup copies, in this order, the views, the log, then the key-value stores (each with
// RocksDB's checkpoint: hard links on the same file system, copies otherwise), then the secrets
// key and the operator token, writes the copy's log.end, and runs CheckDataDirectory on it. The
// caller holds every writer still (Node::Backup: the write gate), so the log and the stores
// beside it are one point in time; the views, copied first, can only be behind the log, and a
// start catches them up. RestoreBackup copies a backup into a new data directory and checks it.
// Thread safety: functions of their arguments; see the caller's contract for the stores.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "adapters/storage/event_log.h"
#include "adapters/storage/kv_store.h"
#include "adapters/storage/view_store.h"
#include "events/status.h"

namespace remit {

struct BackupSources {
  EventLog* log = nullptr;
  ViewStore* views = nullptr;
  std::vector<std::pair<std::string, const KvStore*>> stores;  // by directory name
  std::string secrets_key_file;
  std::string operator_token_file;
};

struct BackupReport {
  uint64_t events = 0;  // the copy's log end
};

// `to` must not exist, or be an empty directory.
Result<BackupReport> WriteBackup(const BackupSources& from, const std::string& to);

// Copies the backup `from` into `data` (which must not exist, or be empty), then checks it.
Result<BackupReport> RestoreBackup(const std::string& from, const std::string& data);

}  // namespace remit
