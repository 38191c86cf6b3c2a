// Audit: recomputing the hash chains of a log, for GET /audit/verify and `remit audit verify`.
// Thread safety: stateless functions over a thread-safe EventLog.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "adapters/storage/event_log.h"
#include "events/event.h"

namespace remit {

struct ChainReport {
  uint64_t events_checked = 0;  // of the practice asked for, or of every practice
  bool chain_ok = true;
  std::optional<uint64_t> first_bad_offset;
  std::string why;            // for the first bad offset: edited bytes, missing event, broken link
  std::string head_hash_hex;  // of the practice asked for (empty for all)
};

// Reads the whole log in order: every record must be present (dense offsets), verify (its
// hash matches its bytes) and link to its practice's previous event. Stops at the first
// failure. With `practice`, counts and reports that practice's head, but a gap or a corrupt
// record anywhere is still a failure (the record's practice cannot be known).
ChainReport VerifyChains(EventLog& log, const std::string& practice = {});

}  // namespace remit
