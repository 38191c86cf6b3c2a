// Options and error messages shared by every RocksDB store of remit (the log, the views, the
// key-value stores): damage is refused, never skipped, and every refusal names the store's
// directory and says what to do (docs/operations.md).
//
// RocksDB's default WAL recovery (point in time) stops replaying at the first damaged record
// and opens as if the log ended there: every acknowledged write after the damage is gone without
// a word. remit opens with kTolerateCorruptedTailRecords instead: an incomplete record at the end
// of the WAL (a write torn by a crash, which was never acknowledged because each write is synced
// before it is acknowledged) is dropped, and any other damage fails the open as Corruption.
// Thread safety: pure functions.
#pragma once

#include <string>

#include "events/status.h"

namespace rocksdb {
struct Options;
class DB;
class Status;
}  // namespace rocksdb

namespace remit {

// The kinds of store, for messages that say what to do about damage to each.
enum class StoreKind { kLog, kViews, kKv };

// Sets the options every remit store opens with (recovery mode, paranoid checks).
void ApplyStoreOptions(rocksdb::Options* options);

// A failed open or check of the store in `dir`, as a Status whose message names the directory
// and the remedy. Corruption stays Corruption; everything else is IOError.
Status StoreError(const rocksdb::Status& s, StoreKind kind, const std::string& dir);

// Reads every table file of `db` and checks each block's checksum (RocksDB's VerifyChecksum):
// damage anywhere in the store, not only where the last start read.
Status VerifyStore(rocksdb::DB* db, StoreKind kind, const std::string& dir);

// A consistent copy of `db` in `to` (which must not exist): RocksDB's checkpoint, hard links
// for table files on the same file system, copies otherwise, and the live write-ahead log.
Status CheckpointStore(rocksdb::DB* db, StoreKind kind, const std::string& dir,
                       const std::string& to);

// What to do about damage to a store of `kind`.
const char* StoreRemedy(StoreKind kind);

}  // namespace remit
