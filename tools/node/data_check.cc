#include "tools/node/data_check.h"

#include <filesystem>

#include "adapters/app/projection_runner.h"
#include "adapters/crypto/secrets.h"
#include "adapters/storage/kv_store.h"
#include "adapters/storage/rocks_event_log.h"
#include "adapters/storage/rocks_options.h"
#include "adapters/storage/view_store.h"

namespace remit {

DataCheck CheckDataDirectory(const std::string& data, const std::string& practice,
                             const std::string& key_file) {
  DataCheck out;
  auto log = RocksEventLog::OpenReadOnly(data + "/log");
  if (!log.ok()) {
    out.chains.chain_ok = false;
    out.chains.why = log.status().ToString();
    out.problems.push_back(log.status().ToString());
    return out;
  }
  out.chains = VerifyChains(**log, practice);
  Status s = (*log)->VerifyStorage();
  if (!s.ok()) out.problems.push_back(s.ToString());
  uint64_t end = (*log)->EndOffset();

  if (std::filesystem::exists(data + "/views")) {
    auto views = ViewStore::OpenReadOnly(data + "/views");
    if (!views.ok()) {
      out.problems.push_back(views.status().ToString());
    } else {
      s = (*views)->VerifyStorage();
      if (!s.ok()) out.problems.push_back(s.ToString());
      ProjectionRunner runner(log->get(), views->get());
      if (runner.max_checkpoint() > end) {
        out.problems.push_back(data + "/views have applied the log up to offset " +
                               std::to_string(runner.max_checkpoint()) + " but it ends at offset " +
                               std::to_string(end) +
                               ": the log lost acknowledged events, the first at offset " +
                               std::to_string(end) + ". " + StoreRemedy(StoreKind::kLog));
      }
    }
  }
  for (const char* name : {"idempotency", "secrets", "sandbox-gateway"}) {
    std::string dir = data + "/" + name;
    if (!std::filesystem::exists(dir)) continue;
    auto kv = OpenRocksKvReadOnly(dir);
    if (!kv.ok()) {
      out.problems.push_back(kv.status().ToString());
      continue;
    }
    s = (*kv)->VerifyStorage();
    if (!s.ok()) {
      out.problems.push_back(s.ToString());
      continue;
    }
    if (std::string(name) == "secrets") {
      auto secrets = SecretsStore::Open(std::move(kv.value()),
                                        key_file.empty() ? data + "/secrets.key" : key_file,
                                        /*read_only=*/true);
      if (!secrets.ok()) out.problems.push_back(secrets.status().ToString());
    }
  }
  return out;
}

}  // namespace remit
