#include "adapters/storage/rocks_event_log.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>

#include "adapters/storage/files.h"
#include "adapters/storage/rocks_options.h"
#include "events/check.h"
#include "events/event.h"

namespace remit {
namespace {

constexpr char kEntryPrefix = 'e';
constexpr char kIndexPrefix = 'k';

void AppendOffset(std::string* k, uint64_t offset) {
  for (int i = 7; i >= 0; --i) k->push_back(static_cast<char>((offset >> (8 * i)) & 0xff));
}

std::string Key(uint64_t offset) {
  std::string k(1, kEntryPrefix);
  AppendOffset(&k, offset);
  return k;
}

std::string IndexKey(std::string_view key, uint64_t offset) {
  std::string k(1, kIndexPrefix);
  k.append(key);
  k.push_back('\0');
  AppendOffset(&k, offset);
  return k;
}

// The offset in the last 8 bytes of an entry or index key.
uint64_t ParseOffset(const rocksdb::Slice& k) {
  uint64_t v = 0;
  for (size_t i = k.size() - 8; i < k.size(); ++i) v = (v << 8) | static_cast<uint8_t>(k[i]);
  return v;
}

bool IsEntryKey(const rocksdb::Slice& k) { return k.size() == 9 && k[0] == kEntryPrefix; }

// Building a WriteBatch in memory cannot fail short of a broken invariant.
void Check(const rocksdb::Status& s) {
  REMIT_CHECK(s.ok(), "WriteBatch::Put failed: " + s.ToString());
}

Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return Status::OK();
  if (s.IsCorruption()) return Status::Corruption(s.ToString());
  if (s.IsNotFound()) return Status::NotFound(s.ToString());
  return Status::IOError(s.ToString());
}

// How far a damaged log can be read: opened read-only with RocksDB's point-in-time recovery
// (which stops at the damage), the offset after its last entry. Only for the message of a
// refused open: the log itself is never opened that way.
std::optional<uint64_t> ReadableEnd(const std::string& dir,
                                    const std::vector<rocksdb::ColumnFamilyDescriptor>& families) {
  rocksdb::DBOptions options;
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::OpenForReadOnly(options, dir, families, &handles, &raw).ok())
    return std::nullopt;
  std::unique_ptr<rocksdb::DB> db(raw);
  std::optional<uint64_t> end;
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[0]));
    it->SeekForPrev(Key(UINT64_MAX));
    end = it->Valid() && IsEntryKey(it->key()) ? ParseOffset(it->key()) + 1 : 0;
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  return end;
}

}  // namespace

Result<std::unique_ptr<RocksEventLog>> RocksEventLog::Open(const std::string& dir) {
  return OpenImpl(dir, false);
}

Result<std::unique_ptr<RocksEventLog>> RocksEventLog::OpenReadOnly(const std::string& dir) {
  return OpenImpl(dir, true);
}

Result<std::unique_ptr<RocksEventLog>> RocksEventLog::OpenImpl(const std::string& dir,
                                                               bool read_only) {
  rocksdb::Options options;
  ApplyStoreOptions(&options);
  options.create_if_missing = !read_only;
  // Appends are sequential keys: large memtables and few levels suit them.
  options.write_buffer_size = 64 << 20;
  options.compression = rocksdb::kNoCompression;
  // Replays read the log front to back: large blocks cost fewer block loads per record.
  rocksdb::BlockBasedTableOptions table;
  table.block_size = 64 << 10;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Table files are read through mmap: a scan then copies no block through a read buffer.
  options.allow_mmap_reads = true;
  options.create_missing_column_families = true;
  // The index by key lives in a column family of its own: each family then receives ascending
  // keys, and scans of the entries never step over index keys. One WriteBatch spans both.
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(options)},
      {"index", rocksdb::ColumnFamilyOptions(options)}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      read_only
          ? rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(options), dir, families, &handles, &raw)
          : rocksdb::DB::Open(rocksdb::DBOptions(options), dir, families, &handles, &raw);
  if (!s.ok() && s.IsCorruption()) {
    // Say how far the log can be read: the first offset past that is the first one lost.
    Status e = StoreError(s, StoreKind::kLog, dir);
    auto readable = ReadableEnd(dir, families);
    if (!readable) return e;
    return Status::Corruption(e.message() + " [the log can be read up to offset " +
                              std::to_string(*readable) + "; the first offset it cannot read is " +
                              std::to_string(*readable) + "]");
  }
  if (!s.ok()) return StoreError(s, StoreKind::kLog, dir);
  std::unique_ptr<rocksdb::DB> db(raw);
  std::unique_ptr<rocksdb::ColumnFamilyHandle> default_cf(handles[0]);
  std::unique_ptr<rocksdb::ColumnFamilyHandle> index_cf(handles[1]);

  // Verify the tail: the newest entries must be dense and each must verify.
  uint64_t end = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    it->SeekForPrev(Key(UINT64_MAX));
    if (it->Valid() && IsEntryKey(it->key())) {
      end = ParseOffset(it->key()) + 1;
      uint64_t expect = end - 1;
      size_t verify = read_only ? 0 : kTailVerifyEvents;
      for (size_t n = 0; it->Valid() && IsEntryKey(it->key()) && n < verify;
           it->Prev(), ++n, --expect) {
        uint64_t off = ParseOffset(it->key());
        if (off != expect) {
          return Status::Corruption("event log has a gap before offset " +
                                    std::to_string(expect + 1));
        }
        auto ev = DecodeRecord(std::string_view(it->value().data(), it->value().size()));
        if (!ev.ok()) {
          return Status::Corruption(dir + ": offset " + std::to_string(off) + ": " +
                                    ev.status().message() + ". " + StoreRemedy(StoreKind::kLog));
        }
        if (off == 0) break;
      }
    }
    if (!it->status().ok()) return StoreError(it->status(), StoreKind::kLog, dir);
  }
  // The log must reach at least as far as it ever said it had.
  auto high_water = ReadHighWater(dir);
  if (!high_water.ok()) return high_water.status();
  if (high_water->has_value() && **high_water > end) {
    return Status::Corruption(dir + ": the log ends at offset " + std::to_string(end) + " but " +
                              HighWaterPath(dir) + " records that it reached offset " +
                              std::to_string(**high_water) + ": " +
                              std::to_string(**high_water - end) +
                              " acknowledged events are missing, the first at offset " +
                              std::to_string(end) + ". " + StoreRemedy(StoreKind::kLog));
  }
  return std::unique_ptr<RocksEventLog>(new RocksEventLog(
      std::move(db), std::move(default_cf), std::move(index_cf), end, dir, read_only));
}

namespace {

std::string HighWaterCheck(uint64_t end) {
  return Hex(Sha256("remit-log-end:" + std::to_string(end)));
}

}  // namespace

Result<std::optional<uint64_t>> RocksEventLog::ReadHighWater(const std::string& dir) {
  std::string path = HighWaterPath(dir);
  auto text = ReadFile(path);
  if (!text.ok()) return std::optional<uint64_t>();
  // "remit-log-end v1 <end> <sha256 hex of 'remit-log-end:<end>'>\n"
  char end_text[32] = {0}, check[65] = {0};
  unsigned long long end = 0;
  if (std::sscanf(text->c_str(), "remit-log-end v1 %20s %64s", end_text, check) != 2 ||
      std::sscanf(end_text, "%llu", &end) != 1 || std::to_string(end) != end_text ||
      HighWaterCheck(end) != check ||
      *text != "remit-log-end v1 " + std::string(end_text) + " " + std::string(check) + "\n") {
    return Status::Corruption(
        path + " is damaged, so how far the log got cannot be checked. " +
        "Compare the log with a backup (remit audit verify on both); when the " +
        "log is known whole, delete this file and start again (docs/operations.md)");
  }
  return std::optional<uint64_t>(end);
}

Status RocksEventLog::WriteHighWater(const std::string& dir, uint64_t end) {
  return ReplaceFileDurably(
      HighWaterPath(dir),
      "remit-log-end v1 " + std::to_string(end) + " " + HighWaterCheck(end) + "\n", 0600);
}

void RocksEventLog::HighWaterLoop() {
  uint64_t written = UINT64_MAX;
  for (;;) {
    uint64_t end;
    bool stop;
    {
      MutexLock l(&mu_);
      auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(kHighWaterIntervalMs);
      while (!stopping_ && high_water_cv_.WaitUntil(&mu_, deadline)) {
      }
      end = end_;
      stop = stopping_;
    }
    if (end != written) {
      Status s = WriteHighWater(dir_, end);
      if (!s.ok())
        std::fprintf(stderr, "remit: cannot write the log's high-water mark: %s\n",
                     s.ToString().c_str());
      if (s.ok()) written = end;
    }
    if (stop) return;
  }
}

Status RocksEventLog::Checkpoint(const std::string& to) {
  return CheckpointStore(db_.get(), StoreKind::kLog, dir_, to);
}

Status RocksEventLog::VerifyStorage() { return VerifyStore(db_.get(), StoreKind::kLog, dir_); }

RocksEventLog::RocksEventLog(std::unique_ptr<rocksdb::DB> db,
                             std::unique_ptr<rocksdb::ColumnFamilyHandle> default_cf,
                             std::unique_ptr<rocksdb::ColumnFamilyHandle> index_cf, uint64_t end,
                             std::string dir, bool read_only)
    : dir_(std::move(dir)),
      read_only_(read_only),
      db_(std::move(db)),
      default_cf_(std::move(default_cf)),
      index_cf_(std::move(index_cf)),
      end_(end) {
  writer_ = std::thread([this] { WriterLoop(); });
  completer_ = std::thread([this] { CompleterLoop(); });
  if (!read_only_) high_water_ = std::thread([this] { HighWaterLoop(); });
}

RocksEventLog::~RocksEventLog() {
  {
    MutexLock l(&mu_);
    stopping_ = true;
  }
  work_cv_.SignalAll();
  high_water_cv_.SignalAll();
  writer_.join();
  if (high_water_.joinable()) high_water_.join();
  {
    MutexLock l(&done_mu_);
    done_stopping_ = true;
  }
  done_cv_.SignalAll();
  completer_.join();
  if (!read_only_) {
    // Every append has finished: record the final end (the loop may have stopped before it).
    Status s = WriteHighWater(dir_, EndOffset());
    if (!s.ok())
      std::fprintf(stderr, "remit: cannot write the log's high-water mark: %s\n",
                   s.ToString().c_str());
  }
  db_->DestroyColumnFamilyHandle(index_cf_.release()).PermitUncheckedError();
  db_->DestroyColumnFamilyHandle(default_cf_.release()).PermitUncheckedError();
  db_->Close().PermitUncheckedError();
}

void RocksEventLog::AppendAsync(std::vector<LogRecord> records, AppendCallback done) {
  AppendWithMeta(std::move(records), {}, std::move(done));
}

void RocksEventLog::AppendWithMeta(std::vector<LogRecord> records, std::vector<MetaPut> meta,
                                   AppendCallback done) {
  Status refused;
  std::optional<uint64_t> nothing_to_write;
  {
    MutexLock l(&mu_);
    while (queue_.size() >= kQueueBatchesMax && !stopping_) space_cv_.Wait(&mu_);
    if (!failed_.ok() || stopping_) {
      refused = failed_.ok() ? Status::IOError("event log is closing") : failed_;
    } else if (records.empty() && meta.empty()) {
      nothing_to_write = end_;
    } else {
      // (Exchanged, not moved: `done` is left empty, and not called below.)
      queue_.push_back(Pending{std::move(records), std::exchange(done, {}), std::move(meta)});
    }
  }
  // The callback runs without the lock held.
  if (!refused.ok()) return done(refused);
  if (nothing_to_write) return done(*nothing_to_write);
  work_cv_.Signal();
}

void RocksEventLog::WriterLoop() {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  std::vector<Pending> group;
  for (;;) {
    uint64_t first;
    size_t events_in_group = 0;
    {
      MutexLock l(&mu_);
      while (queue_.empty() && !stopping_) work_cv_.Wait(&mu_);
      if (queue_.empty() && stopping_) return;
      size_t events = 0;
      while (!queue_.empty() &&
             (group.empty() || events + queue_.front().records.size() <= kGroupEventsMax)) {
        events += queue_.front().records.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      first = end_;
      events_in_group = events;
    }
    space_cv_.SignalAll();

    // Only this thread assigns offsets, so `first` cannot move under us.
    rocksdb::WriteBatch batch;
    uint64_t next = first;
    // The index gets one key per practice per group, holding that practice's offsets in it:
    // under load a group of thousands of events adds a handful of index keys.
    std::map<std::string_view, std::string> runs;
    for (const auto& p : group) {
      for (const auto& r : p.records) {
        std::string& run = runs[r.key];
        if (run.empty()) run.reserve(64);
        AppendOffset(&run, next);
        Check(batch.Put(Key(next++), r.record));
      }
      for (const auto& m : p.meta) Check(batch.Put(index_cf_.get(), "m" + m.key, m.value));
    }
    // Dense offsets: the group takes exactly [first, first + its events), nothing skipped.
    REMIT_CHECK(next - first == events_in_group, "a group's offsets are not dense");
    for (const auto& [key, run] : runs) {
      uint64_t run_first = ParseOffset(rocksdb::Slice(run.data(), 8));
      Check(batch.Put(index_cf_.get(), IndexKey(key, run_first), run));
    }
    Status st = FromRocks(db_->Write(wo, &batch));
    {
      MutexLock l(&mu_);
      if (st.ok()) {
        REMIT_CHECK(end_ == first, "the log's end moved under its only writer");
        end_ = next;
      } else {
        failed_ = st;
      }
    }
    end_cv_.SignalAll();
    std::deque<Pending> rest;
    if (!st.ok()) {
      // Fail everything still queued: the log is no longer appendable.
      MutexLock l(&mu_);
      rest.swap(queue_);
    }
    {
      // Acknowledgements run on the completer thread, while this one syncs the next group.
      MutexLock l(&done_mu_);
      done_.push_back(Completed{std::move(group), first, st});
      if (!rest.empty()) {
        done_.push_back(Completed{std::vector<Pending>(std::make_move_iterator(rest.begin()),
                                                       std::make_move_iterator(rest.end())),
                                  0, st});
      }
    }
    done_cv_.Signal();
    group.clear();
  }
}

void RocksEventLog::CompleterLoop() {
  for (;;) {
    Completed c;
    {
      MutexLock l(&done_mu_);
      while (done_.empty() && !done_stopping_) done_cv_.Wait(&done_mu_);
      if (done_.empty()) return;
      c = std::move(done_.front());
      done_.pop_front();
    }
    uint64_t off = c.first;
    for (auto& p : c.group) {
      if (c.status.ok()) {
        p.done(off);
      } else {
        p.done(c.status);
      }
      off += p.records.size();
    }
  }
}

Status RocksEventLog::Read(uint64_t from, size_t max_entries, std::vector<LogEntry>* out) {
  out->clear();
  return Scan(from, max_entries, [out](uint64_t offset, std::string_view record) {
    out->push_back(LogEntry{offset, std::string(record)});
    return Status::OK();
  });
}

Status RocksEventLog::Scan(uint64_t from, size_t max_entries, const ScanFn& fn) {
  uint64_t end = EndOffset();
  if (from >= end || max_entries == 0) return Status::OK();
  // Bounded, read-ahead scan: replays read the log front to back.
  std::string upper = Key(end);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  ro.readahead_size = 2 << 20;
  ro.fill_cache = max_entries < 64;
  // Block checksums are not checked here: every record carries its own SHA-256, which every
  // reader of a scan verifies (DecodeRecordInto), and the offsets are checked dense below.
  ro.verify_checksums = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  uint64_t expect = from;
  size_t seen = 0;
  for (it->Seek(Key(from)); it->Valid() && seen < max_entries && expect < end;
       it->Next(), ++expect, ++seen) {
    uint64_t off = IsEntryKey(it->key()) ? ParseOffset(it->key()) : UINT64_MAX;
    if (off != expect) {
      return Status::Corruption("event log is missing offset " + std::to_string(expect));
    }
    Status s = fn(off, std::string_view(it->value().data(), it->value().size()));
    if (!s.ok()) return s;
  }
  if (!it->status().ok()) return FromRocks(it->status());
  if (seen == 0 || (expect < end && seen < max_entries)) {
    return Status::Corruption("event log is missing offset " + std::to_string(expect));
  }
  return Status::OK();
}

std::optional<std::string> RocksEventLog::GetMeta(std::string_view key) const {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), index_cf_.get(), "m" + std::string(key), &v);
  if (!s.ok()) return std::nullopt;
  return v;
}

void RocksEventLog::ScanMeta(
    std::string_view prefix,
    const std::function<void(std::string_view, std::string_view)>& fn) const {
  std::string start = "m" + std::string(prefix);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), index_cf_.get()));
  for (it->Seek(start); it->Valid() && it->key().starts_with(start); it->Next()) {
    fn(std::string_view(it->key().data() + 1, it->key().size() - 1),
       std::string_view(it->value().data(), it->value().size()));
  }
}

Status RocksEventLog::ReadKey(std::string_view key, uint64_t from, size_t max_entries,
                              std::vector<LogEntry>* out) {
  out->clear();
  uint64_t end = EndOffset();
  std::string prefix(1, kIndexPrefix);
  prefix.append(key);
  prefix.push_back('\0');
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, index_cf_.get()));
  std::string value;
  auto in_range = [&] {
    return it->Valid() && it->key().starts_with(prefix) && it->key().size() == prefix.size() + 8;
  };
  // The run that holds `from` may start before it.
  it->SeekForPrev(IndexKey(key, from));
  if (!in_range()) it->Seek(IndexKey(key, from));
  for (; in_range() && out->size() < max_entries; it->Next()) {
    rocksdb::Slice run = it->value();
    if (run.size() % 8 != 0) return Status::Corruption("event log index run has a bad length");
    for (size_t i = 0; i < run.size() && out->size() < max_entries; i += 8) {
      uint64_t off = ParseOffset(rocksdb::Slice(run.data() + i, 8));
      if (off < from) continue;
      if (off >= end) return Status::OK();
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), Key(off), &value);
      if (!s.ok()) {
        return Status::Corruption("event log index names offset " + std::to_string(off) +
                                  " which cannot be read: " + s.ToString());
      }
      out->push_back(LogEntry{off, value});
    }
  }
  if (!it->status().ok()) return FromRocks(it->status());
  return Status::OK();
}

uint64_t RocksEventLog::EndOffset() const {
  MutexLock l(&mu_);
  return end_;
}

bool RocksEventLog::WaitFor(uint64_t offset, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock l(&mu_);
  while (end_ <= offset && !stopping_) {
    if (!end_cv_.WaitUntil(&mu_, deadline)) break;
  }
  return end_ > offset;
}

Status RocksEventLog::TestOnlyOverwrite(uint64_t offset, const std::string* record) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (record == nullptr) return FromRocks(db_->Delete(wo, Key(offset)));
  return FromRocks(db_->Put(wo, Key(offset), *record));
}

Result<std::unique_ptr<EventLog>> OpenEmbeddedLog(const std::string& dir, bool read_only) {
  auto log = read_only ? RocksEventLog::OpenReadOnly(dir) : RocksEventLog::Open(dir);
  if (!log.ok()) return log.status();
  return std::unique_ptr<EventLog>(std::move(log.value()));
}

}  // namespace remit
