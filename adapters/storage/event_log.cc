#include "adapters/storage/event_log.h"

#include <future>

namespace remit {

Result<uint64_t> EventLog::Append(std::vector<LogRecord> records) {
  std::promise<Result<uint64_t>> p;
  auto f = p.get_future();
  AppendAsync(std::move(records), [&p](Result<uint64_t> r) { p.set_value(std::move(r)); });
  return f.get();
}

Status EventLog::Scan(uint64_t from, size_t max_entries, const ScanFn& fn) {
  std::vector<LogEntry> entries;
  Status s = Read(from, max_entries, &entries);
  for (size_t i = 0; s.ok() && i < entries.size(); ++i)
    s = fn(entries[i].offset, entries[i].record);
  return s;
}

Status ForEachEvent(EventLog& log, const std::string& practice,
                    const std::function<bool(uint64_t, const Event&)>& fn, uint64_t from) {
  std::vector<LogEntry> entries;
  for (;;) {
    Status s = log.ReadKey(practice, from, 1024, &entries);
    if (!s.ok()) return s;
    if (entries.empty()) return Status::OK();
    for (const auto& entry : entries) {
      auto ev = DecodeRecord(entry.record);
      if (!ev.ok()) {
        return Status::Corruption("offset " + std::to_string(entry.offset) + ": " +
                                  ev.status().message());
      }
      if (!fn(entry.offset, *ev)) return Status::OK();
    }
    from = entries.back().offset + 1;
  }
}

}  // namespace remit
