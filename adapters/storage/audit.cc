#include "adapters/storage/audit.h"

namespace remit {

ChainReport VerifyChains(EventLog& log, const std::string& practice) {
  constexpr size_t kBatch = 4096;
  ChainReport report;
  ChainVerifier chain;
  std::vector<LogEntry> entries;
  uint64_t end = log.EndOffset();
  auto fail = [&](uint64_t offset, std::string why) {
    report.chain_ok = false;
    report.first_bad_offset = offset;
    report.why = std::move(why);
    return report;
  };
  for (uint64_t at = 0; at < end;) {
    Status s = log.Read(at, kBatch, &entries);
    if (!s.ok()) {
      // Find the exact offset that cannot be read.
      for (uint64_t o = at; o < std::min(end, at + kBatch); ++o) {
        if (!log.Read(o, 1, &entries).ok() || entries.empty()) {
          return fail(o, "missing event (the offset cannot be read)");
        }
      }
      return fail(at, s.ToString());
    }
    if (entries.empty()) return fail(at, "missing event");
    for (const auto& e : entries) {
      auto ev = DecodeRecord(e.record);
      if (!ev.ok()) return fail(e.offset, "edited bytes: " + ev.status().message());
      Status c = chain.Check(e.offset, *ev);
      if (!c.ok()) {
        return fail(e.offset,
                    "the event does not follow its practice's previous event "
                    "(missing, reordered or edited event)");
      }
      if (practice.empty() || ev->practice_id == practice) report.events_checked++;
    }
    at = entries.back().offset + 1;
  }
  if (!practice.empty()) report.head_hash_hex = Hex(chain.Head(practice));
  return report;
}

}  // namespace remit
