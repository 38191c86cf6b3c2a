#include "tools/node/backup.h"

#include <filesystem>

#include "adapters/storage/files.h"
#include "adapters/storage/rocks_event_log.h"
#include "tools/node/data_check.h"

namespace remit {
namespace {

namespace fs = std::filesystem;

Status EmptyTarget(const std::string& to) {
  std::error_code ec;
  if (fs::exists(to, ec) && !fs::is_empty(to, ec)) {
    return Status::InvalidArgument(
        to + " exists and is not empty: a backup or restore never writes over anything");
  }
  fs::create_directories(to, ec);
  if (ec) return Status::IOError("cannot create " + to + ": " + ec.message());
  return Status::OK();
}

Status CopyFileMode(const std::string& from, const std::string& to, unsigned mode) {
  auto data = ReadFile(from);
  if (!data.ok()) return data.status();
  return WriteFileMode(to, *data, mode);
}

Result<BackupReport> Checked(const std::string& dir) {
  DataCheck check = CheckDataDirectory(dir, "");
  if (!check.ok()) {
    std::string why = check.chains.chain_ok ? "" : check.chains.why;
    for (const auto& p : check.problems) why += (why.empty() ? "" : "; ") + p;
    return Status::Corruption(dir + " does not verify: " + why);
  }
  BackupReport r;
  r.events = check.chains.events_checked;
  return r;
}

}  // namespace

Result<BackupReport> WriteBackup(const BackupSources& from, const std::string& to) {
  Status s = EmptyTarget(to);
  if (!s.ok()) return s;
  // Views first: copied before the log, they can only be behind it.
  if (from.views != nullptr) s = from.views->Checkpoint(to + "/views");
  if (s.ok()) s = from.log->Checkpoint(to + "/log");
  for (const auto& [name, kv] : from.stores) {
    if (s.ok()) s = kv->Checkpoint(to + "/" + name);
  }
  if (s.ok() && fs::exists(from.secrets_key_file))
    s = CopyFileMode(from.secrets_key_file, to + "/secrets.key", 0600);
  if (s.ok() && fs::exists(from.operator_token_file)) {
    s = CopyFileMode(from.operator_token_file, to + "/operator-token", 0600);
  }
  if (s.ok()) {
    auto copy = RocksEventLog::OpenReadOnly(to + "/log");
    if (!copy.ok()) return copy.status();
    uint64_t end = (*copy)->EndOffset();
    copy->reset();
    s = RocksEventLog::WriteHighWater(to + "/log", end);
  }
  if (!s.ok()) return s;
  return Checked(to);
}

Result<BackupReport> RestoreBackup(const std::string& from, const std::string& data) {
  if (!fs::exists(from + "/log"))
    return Status::InvalidArgument(from + " is not a remit backup (no log/)");
  auto check = Checked(from);
  if (!check.ok()) return check.status();
  Status s = EmptyTarget(data);
  if (!s.ok()) return s;
  std::error_code ec;
  fs::copy(from, data, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
  if (ec) return Status::IOError("cannot copy " + from + " to " + data + ": " + ec.message());
  return Checked(data);
}

}  // namespace remit
