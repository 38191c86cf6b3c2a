// `remit backup` and `remit restore` (docs/operations.md).
//
// A backup of a running server is made by the server itself (POST /api/v1/operator/backup):
// it holds every writer still while it copies, so the log and the stores beside it are one
// point in time. With no server running, the stores are opened here and copied.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "adapters/storage/kv_store.h"
#include "adapters/storage/rocks_event_log.h"
#include "adapters/storage/view_store.h"
#include "tools/cli.h"
#include "tools/node/backup.h"

namespace remit::tools {
namespace {

std::string Absolute(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

Result<BackupReport> BackupStopped(const std::string& data, const std::string& to,
                                   const std::string& token_file, const std::string& key_file) {
  auto log = RocksEventLog::Open(data + "/log");
  if (!log.ok()) return log.status();
  auto views = ViewStore::Open(data + "/views");
  if (!views.ok()) return views.status();
  std::vector<std::unique_ptr<KvStore>> open;
  BackupSources from;
  from.log = log->get();
  from.views = views->get();
  for (const char* name : {"idempotency", "secrets", "sandbox-gateway"}) {
    if (!std::filesystem::exists(data + "/" + name)) continue;
    auto kv = OpenRocksKv(data + "/" + name);
    if (!kv.ok()) return kv.status();
    from.stores.push_back({name, kv->get()});
    open.push_back(std::move(kv.value()));
  }
  from.secrets_key_file = key_file.empty() ? data + "/secrets.key" : key_file;
  from.operator_token_file = token_file.empty() ? data + "/operator-token" : token_file;
  return WriteBackup(from, to);
}

}  // namespace

int Backup(const Args& args) {
  auto data = args.Get("data");
  auto to = args.Get("to");
  if (!data || !to) {
    std::fprintf(stderr, "remit backup: --data DIR --to DIR2 are required\n");
    return 2;
  }
  std::string target = Absolute(*to);
  std::string token_file = args.Get("operator-token-file").value_or("");
  if (auto r = CallRunningServer(*data, token_file, "POST", "/api/v1/operator/backup",
                                 nlohmann::json{{"to", target}}.dump())) {
    if (!r->ok()) {
      std::fprintf(stderr, "remit backup: %s\n", r->status().ToString().c_str());
      return 1;
    }
    if ((*r)->status != 200) {
      std::fprintf(stderr, "remit backup: the server answered %d: %s\n", (*r)->status,
                   (*r)->body.c_str());
      return 1;
    }
    auto j = nlohmann::json::parse((*r)->body, nullptr, false);
    std::printf(
        "backup of the running server in %s: %llu events, checked\n", target.c_str(),
        static_cast<unsigned long long>(j.is_discarded() ? 0 : j.value("events", uint64_t{0})));
    return 0;
  }
  if (!std::filesystem::exists(*data + "/log")) {
    std::fprintf(stderr, "remit backup: no event log in %s\n", data->c_str());
    return 1;
  }
  auto r = BackupStopped(*data, target, token_file, args.Get("secrets-key").value_or(""));
  if (!r.ok()) {
    std::fprintf(stderr, "remit backup: %s\n", r.status().ToString().c_str());
    return 1;
  }
  std::printf("backup in %s: %llu events, checked\n", target.c_str(),
              static_cast<unsigned long long>(r->events));
  return 0;
}

int Restore(const Args& args) {
  auto from = args.Get("from");
  auto data = args.Get("data");
  if (!from || !data) {
    std::fprintf(stderr, "remit restore: --from DIR2 --data DIR are required\n");
    return 2;
  }
  auto r = RestoreBackup(*from, *data);
  if (!r.ok()) {
    std::fprintf(stderr, "remit restore: %s\n", r.status().ToString().c_str());
    return 1;
  }
  std::printf("restored %s into %s: %llu events, every chain and store checked\n", from->c_str(),
              data->c_str(), static_cast<unsigned long long>(r->events));
  return 0;
}

}  // namespace remit::tools
