// ViewStore: the RocksDB database that holds every projection's views and checkpoints.
//
// Durability: writes are not synced; each write carries the projections' checkpoints with their
// data, so after a crash the views are a consistent prefix of the log and the runner resumes
// from the checkpoints. Views can always be rebuilt from the log.
// Thread safety: all methods are thread-safe; one writer (the projection runner) at a time.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/storage/huge_pages.h"
#include "events/mutex.h"
#include "events/status.h"
#include "projections/view.h"

namespace rocksdb {
class Status;
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace remit {

class ViewStore {
 public:
  // `bulk_load`: for a rebuild into a fresh directory. Each transaction is written as one sorted
  // table file and ingested whole, skipping the WAL and the memtable; data and checkpoints go
  // in together, so after a crash the views are still a consistent prefix of the log.
  static Result<std::unique_ptr<ViewStore>> Open(const std::string& dir, bool bulk_load = false);
  // Read-only, also beside a running server (for comparisons).
  static Result<std::unique_ptr<ViewStore>> OpenReadOnly(const std::string& dir);
  ~ViewStore();

  std::optional<std::string> Get(std::string_view key) const;
  // The background check: every table file's checksums, and any read that failed on damage.
  Status VerifyStorage();
  // A consistent copy in `to` (remit backup).
  Status Checkpoint(const std::string& to);
  // Calls fn(key, value) for keys starting with `prefix`, from `start` (inclusive; default the
  // prefix), in order, until fn returns false.
  void Scan(std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& fn,
            std::string_view start = {}) const;
  void ScanReverse(std::string_view prefix,
                   const std::function<bool(std::string_view, std::string_view)>& fn) const;

  Status Put(std::string_view key, std::string_view value, bool sync);

  // The pending writes of a transaction: an open-addressing table of (hash, entry) slots over
  // entries that keep their key bytes right behind them in an arena. A lookup touches a slot
  // and an entry; std::unordered_map touched a bucket, the node before, the node and the key
  // (a rebuild does one lookup per event over ~200k keys, most of them cache misses).
  class Overlay {
   public:
    struct Entry {
      std::optional<std::string> value;  // empty: deleted
      uint32_t key_size = 0;
      std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_size}; }
    };
    Overlay();
    ~Overlay();
    Overlay(const Overlay&) = delete;
    Overlay& operator=(const Overlay&) = delete;
    Entry* Find(std::string_view key) const;
    // Starts fetching the slot where a lookup of `key` begins.
    void Prefetch(std::string_view key) const;
    // Adds `key`, which must not be present, with no value.
    Entry* Insert(std::string_view key);
    // Room for `keys` entries without growing the slots.
    void Reserve(size_t keys);
    void Clear();
    size_t size() const { return entries_.size(); }
    // In the order they were added.
    const std::vector<Entry*>& entries() const { return entries_; }

    // Zeroed memory for the slots and the arena, from AllocateLarge (huge_pages.h): a
    // rebuild's lookups land at random in tens of MiB.
    class Block {
     public:
      Block() = default;
      explicit Block(size_t bytes);
      ~Block();
      Block(Block&& o) noexcept;
      Block& operator=(Block&& o) noexcept;
      char* data() const { return data_; }
      size_t size() const { return bytes_; }

     private:
      char* data_ = nullptr;
      size_t bytes_ = 0;
    };

   private:
    struct Slot {
      uint64_t hash = 0;
      Entry* entry = nullptr;
    };
    static uint64_t Hash(std::string_view key) { return std::hash<std::string_view>()(key); }
    Slot* slots() const { return reinterpret_cast<Slot*>(slots_.data()); }
    size_t slot_count() const { return mask_ + 1; }
    void Grow(size_t slots);
    char* Allocate(size_t bytes);

    Block slots_;
    size_t mask_ = 0;
    std::vector<Entry*> entries_;
    static constexpr size_t kFirstChunk = 16 << 10;
    static constexpr size_t kLastChunk = 4 << 20;
    std::vector<Block> chunks_;
    char* next_ = nullptr;
    size_t left_ = 0;
  };

  // A transaction that buffers writes (seen by its own Gets) until Commit: one WriteBatch,
  // keys sorted. Only one may be open at a time (the projection runner's).
  class Txn final : public projections::ViewTxn {
   public:
    explicit Txn(ViewStore* store) : store_(store) {}
    Txn(const Txn&) = delete;
    Txn& operator=(const Txn&) = delete;
    // Room for `keys` pending keys without growing.
    void Reserve(size_t keys) { overlay_.Reserve(keys); }
    std::optional<std::string> Get(std::string_view key) override;
    void Put(std::string_view key, std::string_view value) override;
    void Delete(std::string_view key) override;
    void Prefetch(std::string_view key) override { overlay_.Prefetch(key); }
    Status Commit();
    size_t size() const { return overlay_.size(); }

   private:
    Overlay::Entry* Find(std::string_view key);
    Overlay::Entry* FindOrInsert(std::string_view key);

    ViewStore* store_;
    Overlay overlay_;
    // The entry found or written last: a read is most often followed by a write of the same
    // key (a balance, a JSON record). Entries never move.
    Overlay::Entry* last_ = nullptr;
  };

  // Compares the keys under `only_prefix` (all when empty) and their values with `other`;
  // empty when equal, else the first difference.
  std::string Diff(const ViewStore& other, std::string_view only_prefix = {}) const;

 private:
  ViewStore(std::unique_ptr<rocksdb::DB> db, std::string dir, bool bulk_load);
  // A transaction's entry to write, with the head of its key beside it for sorting.
  struct SortEntry;
  using SortEntries = std::vector<SortEntry, LargeAllocator<SortEntry>>;
  // Writes a transaction's entries (sorted here): one WriteBatch, or (bulk load) ingested files.
  Status Write(SortEntries* entries);
  Status Ingest(SortEntries* entries);
  // Writes sorted entries [begin, end) as one table file at `path`.
  static Status WriteTable(const std::string& path, const SortEntry* begin, const SortEntry* end);

  std::unique_ptr<rocksdb::DB> db_;
  std::string dir_;
  bool bulk_load_ = false;
  uint64_t ingested_ = 0;
  // A bulk load into a store with no keys yet: reads that miss the open transaction skip
  // RocksDB until the first write.
  std::atomic<bool> empty_{false};
  // The first read that failed for a reason other than a missing key (damage): reads answer
  // "not there", and the background check (VerifyStorage) reports it so the server stops
  // taking writes.
  void NoteReadFailure(const rocksdb::Status& s) const;
  mutable Mutex read_failure_mu_;
  mutable Status read_failure_ REMIT_GUARDED_BY(read_failure_mu_);
};

// A ViewTxn over an in-memory map: point-in-time views folded on demand.
class MemoryViewTxn final : public projections::ViewTxn {
 public:
  std::optional<std::string> Get(std::string_view key) override;
  void Put(std::string_view key, std::string_view value) override;
  void Delete(std::string_view key) override;
  const std::map<std::string, std::string, std::less<>>& data() const { return data_; }

 private:
  std::map<std::string, std::string, std::less<>> data_;
};

}  // namespace remit
