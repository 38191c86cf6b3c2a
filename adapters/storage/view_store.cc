#include "adapters/storage/view_store.h"

#include "adapters/storage/huge_pages.h"
#include "adapters/storage/rocks_options.h"
#include "events/check.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <rocksdb/sst_file_writer.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <future>
#include <utility>
#include <vector>

namespace remit {

Result<std::unique_ptr<ViewStore>> ViewStore::Open(const std::string& dir, bool bulk_load) {
  rocksdb::Options options;
  ApplyStoreOptions(&options);
  options.create_if_missing = true;
  options.write_buffer_size = 64 << 20;
  if (bulk_load) options.max_write_buffer_number = 4;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) return StoreError(s, StoreKind::kViews, dir);
  return std::unique_ptr<ViewStore>(
      new ViewStore(std::unique_ptr<rocksdb::DB>(raw), dir, bulk_load));
}

Result<std::unique_ptr<ViewStore>> ViewStore::OpenReadOnly(const std::string& dir) {
  rocksdb::Options options;
  ApplyStoreOptions(&options);
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(options, dir, &raw);
  if (!s.ok()) return StoreError(s, StoreKind::kViews, dir);
  return std::unique_ptr<ViewStore>(new ViewStore(std::unique_ptr<rocksdb::DB>(raw), dir, false));
}

ViewStore::ViewStore(std::unique_ptr<rocksdb::DB> db, std::string dir, bool bulk_load)
    : db_(std::move(db)), dir_(std::move(dir)), bulk_load_(bulk_load) {
  // Only a rebuild (bulk load) trusts this: it is the single writer from the start.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  it->SeekToFirst();
  empty_ = bulk_load_ && !it->Valid();
}

ViewStore::~ViewStore() { db_->Close().PermitUncheckedError(); }

Status ViewStore::VerifyStorage() {
  {
    MutexLock l(&read_failure_mu_);
    if (!read_failure_.ok()) return read_failure_;
  }
  return VerifyStore(db_.get(), StoreKind::kViews, dir_);
}

Status ViewStore::Checkpoint(const std::string& to) {
  return CheckpointStore(db_.get(), StoreKind::kViews, dir_, to);
}

void ViewStore::NoteReadFailure(const rocksdb::Status& s) const {
  MutexLock l(&read_failure_mu_);
  if (read_failure_.ok()) read_failure_ = StoreError(s, StoreKind::kViews, dir_);
}

std::optional<std::string> ViewStore::Get(std::string_view key) const {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &v);
  if (!s.ok()) {
    if (!s.IsNotFound()) NoteReadFailure(s);
    return std::nullopt;
  }
  return v;
}

void ViewStore::Scan(std::string_view prefix,
                     const std::function<bool(std::string_view, std::string_view)>& fn,
                     std::string_view start) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::string_view from = start.empty() ? prefix : start;
  for (it->Seek(rocksdb::Slice(from.data(), from.size())); it->Valid(); it->Next()) {
    std::string_view k(it->key().data(), it->key().size());
    if (!k.starts_with(prefix)) break;
    if (!fn(k, std::string_view(it->value().data(), it->value().size()))) break;
  }
  if (!it->status().ok()) NoteReadFailure(it->status());
}

void ViewStore::ScanReverse(
    std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::string upper(prefix);
  upper.push_back('\xff');
  for (it->SeekForPrev(upper); it->Valid(); it->Prev()) {
    std::string_view k(it->key().data(), it->key().size());
    if (!k.starts_with(prefix)) break;
    if (!fn(k, std::string_view(it->value().data(), it->value().size()))) break;
  }
  if (!it->status().ok()) NoteReadFailure(it->status());
}

Status ViewStore::Put(std::string_view key, std::string_view value, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  empty_ = false;
  rocksdb::Status s = db_->Put(wo, rocksdb::Slice(key.data(), key.size()),
                               rocksdb::Slice(value.data(), value.size()));
  return s.ok() ? Status::OK() : Status::IOError(s.ToString());
}

ViewStore::Overlay::Block::Block(size_t bytes) { data_ = AllocateLarge(bytes, &bytes_); }

ViewStore::Overlay::Block::~Block() { FreeLarge(data_, bytes_); }

ViewStore::Overlay::Block::Block(Block&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

ViewStore::Overlay::Block& ViewStore::Overlay::Block::operator=(Block&& o) noexcept {
  Block taken(std::move(o));  // frees what this held when it goes
  std::swap(data_, taken.data_);
  std::swap(bytes_, taken.bytes_);
  return *this;
}

ViewStore::Overlay::Overlay() { Grow(1024); }

ViewStore::Overlay::~Overlay() {
  for (Entry* e : entries_) e->~Entry();
}

void ViewStore::Overlay::Grow(size_t slots) {
  Block old = std::move(slots_);
  const Slot* old_slots = reinterpret_cast<const Slot*>(old.data());
  size_t old_count = old.size() / sizeof(Slot);
  slots_ = Block(slots * sizeof(Slot));
  mask_ = slots - 1;
  Slot* table = this->slots();
  for (size_t j = 0; j < old_count; ++j) {
    const Slot& s = old_slots[j];
    if (s.entry == nullptr) continue;
    size_t i = s.hash & mask_;
    while (table[i].entry != nullptr) i = (i + 1) & mask_;
    table[i] = s;
  }
}

void ViewStore::Overlay::Reserve(size_t keys) {
  size_t slots = slot_count();
  while (slots < 2 * keys) slots *= 2;
  if (slots != slot_count()) Grow(slots);
}

ViewStore::Overlay::Entry* ViewStore::Overlay::Find(std::string_view key) const {
  uint64_t h = Hash(key);
  const Slot* table = slots();
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot& s = table[i];
    if (s.entry == nullptr) return nullptr;
    if (s.hash == h && s.entry->key() == key) return s.entry;
  }
}

void ViewStore::Overlay::Prefetch(std::string_view key) const {
  __builtin_prefetch(&slots()[Hash(key) & mask_]);
}

char* ViewStore::Overlay::Allocate(size_t bytes) {
  bytes = (bytes + 7) & ~size_t{7};  // entries hold strings: 8-aligned
  if (bytes > left_) {
    // Chunks double from 16 KiB to 4 MiB: a live batch of a few keys stays small, a rebuild's
    // big chunks sit on huge pages.
    size_t chunk = std::max<size_t>(
        bytes,
        chunks_.empty() ? kFirstChunk : std::min<size_t>(2 * chunks_.back().size(), kLastChunk));
    chunks_.emplace_back(chunk);
    next_ = chunks_.back().data();
    left_ = chunks_.back().size();
  }
  REMIT_CHECK(bytes <= left_, "an overlay entry would run past its arena chunk");
  char* p = next_;
  next_ += bytes;
  left_ -= bytes;
  return p;
}

ViewStore::Overlay::Entry* ViewStore::Overlay::Insert(std::string_view key) {
  if (2 * (entries_.size() + 1) > slot_count()) Grow(2 * slot_count());
  // Half the slots stay empty, so every probe ends; a key's length fits its entry's field.
  REMIT_CHECK(2 * (entries_.size() + 1) <= slot_count(), "the overlay's table is over half full");
  REMIT_CHECK(key.size() <= UINT32_MAX, "a view key longer than 4 GiB");
  char* at = Allocate(sizeof(Entry) + key.size());
  auto* e = new (at) Entry();
  e->key_size = static_cast<uint32_t>(key.size());
  std::memcpy(at + sizeof(Entry), key.data(), key.size());
  uint64_t h = Hash(key);
  Slot* table = slots();
  size_t i = h & mask_;
  while (table[i].entry != nullptr) i = (i + 1) & mask_;
  table[i] = Slot{h, e};
  entries_.push_back(e);
  return e;
}

void ViewStore::Overlay::Clear() {
  for (Entry* e : entries_) e->~Entry();
  entries_.clear();
  // A big catch-up's table is not kept for the small writes that follow it.
  if (slot_count() > (1 << 16)) {
    slots_ = Block();
    mask_ = 0;
    Grow(1024);
  } else {
    std::memset(slots_.data(), 0, slots_.size());
  }
  if (chunks_.size() > 1) chunks_.resize(1);
  if (!chunks_.empty()) {
    next_ = chunks_.front().data();
    left_ = chunks_.front().size();
  }
}

ViewStore::Overlay::Entry* ViewStore::Txn::Find(std::string_view key) {
  if (last_ != nullptr && last_->key() == key) return last_;
  Overlay::Entry* e = overlay_.Find(key);
  if (e != nullptr) last_ = e;
  return e;
}

ViewStore::Overlay::Entry* ViewStore::Txn::FindOrInsert(std::string_view key) {
  Overlay::Entry* e = Find(key);
  if (e == nullptr) last_ = e = overlay_.Insert(key);
  return e;
}

std::optional<std::string> ViewStore::Txn::Get(std::string_view key) {
  const Overlay::Entry* e = Find(key);
  if (e != nullptr) return e->value;
  if (store_->empty_) return std::nullopt;  // a rebuild's first batch: nothing to read
  return store_->Get(key);
}

void ViewStore::Txn::Put(std::string_view key, std::string_view value) {
  std::optional<std::string>& v = FindOrInsert(key)->value;
  if (v) {
    v->assign(value);  // keeps its storage
  } else {
    v.emplace(value);
  }
}

void ViewStore::Txn::Delete(std::string_view key) { FindOrInsert(key)->value.reset(); }

// An entry to sort, with the first bytes of its key beside it (zero padded): most comparisons
// end there, and never touch the key itself, which sits behind its entry in the arena.
struct ViewStore::SortEntry {
  using Entry = Overlay::Entry;
  static constexpr size_t kHead = 40;
  std::array<char, kHead> head;
  const Entry* entry;

  explicit SortEntry(const Entry* e) : head{}, entry(e) {
    std::memcpy(head.data(), e->key().data(), std::min<size_t>(kHead, e->key_size));
  }
  // The order of the keys: where the heads differ, the zero padding orders as the shorter key.
  bool operator<(const SortEntry& o) const {
    int c = std::memcmp(head.data(), o.head.data(), kHead);
    return c != 0 ? c < 0 : entry->key() < o.entry->key();
  }
};

Status ViewStore::Txn::Commit() {
  SortEntries entries;
  entries.reserve(overlay_.size());
  for (const Overlay::Entry* e : overlay_.entries()) entries.emplace_back(e);
  Status s = store_->bulk_load_ ? store_->Ingest(&entries) : store_->Write(&entries);
  if (!s.ok()) return s;
  overlay_.Clear();
  last_ = nullptr;
  store_->empty_ = false;
  return Status::OK();
}

Status ViewStore::WriteTable(const std::string& path, const SortEntry* begin,
                             const SortEntry* end) {
  // Not compressed: a rebuild's tables are written once and read soon; snappy cost a tenth of
  // the final write.
  rocksdb::Options options;
  options.compression = rocksdb::kNoCompression;
  rocksdb::SstFileWriter writer{rocksdb::EnvOptions(), options};
  rocksdb::Status s = writer.Open(path);
  for (const SortEntry* it = begin; s.ok() && it != end; ++it) {
    const SortEntry::Entry* kv = it->entry;
    rocksdb::Slice key(kv->key().data(), kv->key().size());
    s = kv->value ? writer.Put(key, *kv->value) : writer.Delete(key);
  }
  if (s.ok()) s = writer.Finish();
  return s.ok() ? Status::OK() : Status::IOError("write " + path + ": " + s.ToString());
}

Status ViewStore::Write(SortEntries* entries) {
  // Sorted keys insert into the memtable's skip list far faster than random ones.
  std::sort(entries->begin(), entries->end());
  rocksdb::WriteBatch batch;
  for (const SortEntry& e : *entries) {
    const auto* kv = e.entry;
    rocksdb::Slice key(kv->key().data(), kv->key().size());
    rocksdb::Status s = kv->value ? batch.Put(key, *kv->value) : batch.Delete(key);
    if (!s.ok()) return Status::IOError(s.ToString());
  }
  rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
  return s.ok() ? Status::OK() : Status::IOError(s.ToString());
}

Status ViewStore::Ingest(SortEntries* entries) {
  // A rebuild writes its keys as sorted table files and hands them to RocksDB: no WAL, no
  // memtable, no flush. The keys are split at the median, and each half is sorted and written
  // on its own thread (the last write of a rebuild has nothing else to overlap with).
  // Ingestion is atomic: the views hold every file of the call or none of them.
  if (entries->empty()) return Status::OK();
  SortEntry* first = entries->data();
  SortEntry* last = first + entries->size();
  SortEntry* mid = first + entries->size() / 2;
  std::nth_element(first, mid, last);
  std::vector<std::string> paths;
  paths.reserve(2);
  for (int i = 0; i < 2; ++i)
    paths.push_back(dir_ + "/ingest-" + std::to_string(ingested_++) + ".sst");
  auto upper = std::async(std::launch::async, [&] {
    std::sort(mid, last);
    return WriteTable(paths[1], mid, last);
  });
  std::sort(first, mid);
  Status s = mid == first ? Status::OK() : WriteTable(paths[0], first, mid);
  Status su = upper.get();
  if (s.ok()) s = su;
  if (mid == first) paths.erase(paths.begin());
  if (s.ok()) {
    rocksdb::IngestExternalFileOptions io;
    io.move_files = true;
    rocksdb::Status r = db_->IngestExternalFile(paths, io);
    if (!r.ok()) s = Status::IOError("ingest views: " + r.ToString());
  }
  if (!s.ok()) {
    for (const auto& path : paths) {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
    return s;
  }
  return Status::OK();
}

std::string ViewStore::Diff(const ViewStore& other, std::string_view only_prefix) const {
  std::unique_ptr<rocksdb::Iterator> a(db_->NewIterator(rocksdb::ReadOptions()));
  std::unique_ptr<rocksdb::Iterator> b(other.db_->NewIterator(rocksdb::ReadOptions()));
  // An owned copy: an empty string_view may have no data pointer, which Slice must not get.
  const std::string only_copy(only_prefix);
  rocksdb::Slice only(only_copy);
  auto in_range = [&](rocksdb::Iterator* it) { return it->Valid() && it->key().starts_with(only); };
  a->Seek(only);
  b->Seek(only);
  for (;;) {
    if (!in_range(a.get()) && !in_range(b.get())) return {};
    if (!in_range(a.get())) return "only in second: " + b->key().ToString();
    if (!in_range(b.get())) return "only in first: " + a->key().ToString();
    if (a->key() != b->key()) {
      return a->key().compare(b->key()) < 0 ? "only in first: " + a->key().ToString()
                                            : "only in second: " + b->key().ToString();
    }
    if (a->value() != b->value()) return "values differ at " + a->key().ToString();
    a->Next();
    b->Next();
  }
}

std::optional<std::string> MemoryViewTxn::Get(std::string_view key) {
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

void MemoryViewTxn::Put(std::string_view key, std::string_view value) {
  data_.insert_or_assign(std::string(key), std::string(value));
}

void MemoryViewTxn::Delete(std::string_view key) {
  auto it = data_.find(key);
  if (it != data_.end()) data_.erase(it);
}

}  // namespace remit
