// CheckDataDirectory: `remit audit verify`'s check of a whole data directory, beside a running
// server or not. Every store is opened read-only and read whole: the log (every record's hash
// and chain, every block's checksum, its high-water mark), the views (checksums, and that they
// have not applied more than the log holds), the idempotency, secrets and processor stores
// (checksums) and the secrets key (against the value sealed under it).
// Thread safety: a pure function of the directory.
#pragma once

#include <string>
#include <vector>

#include "adapters/storage/audit.h"
#include "events/status.h"

namespace remit {

struct DataCheck {
  ChainReport chains;  // of the log (chain_ok false when it could not be read at all)
  std::vector<std::string> problems;  // one line per damaged store, naming it and the remedy
  bool ok() const { return chains.chain_ok && problems.empty(); }
};

// `key_file` empty: <data>/secrets.key. `practice` as for VerifyChains.
DataCheck CheckDataDirectory(const std::string& data, const std::string& practice,
                             const std::string& key_file = {});

}  // namespace remit
