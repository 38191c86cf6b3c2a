#include "tools/node/node.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "adapters/app/idempotency.h"
#include "adapters/app/queries.h"
#include "adapters/storage/files.h"

#include "projections/projections.h"

namespace remit {

Result<std::unique_ptr<Node>> Node::Open(const AppOptions& app_options,
                                         const std::optional<KafkaSetup>& kafka) {
  auto node = std::make_unique<Node>();
  node->kafka_ = kafka;
  AppOptions options = app_options;
  if (kafka) {
    Node* n = node.get();
    options.open_log = [n, kafka](const std::string& dir) -> Result<std::unique_ptr<EventLog>> {
      KafkaLogOptions o;
      o.brokers = kafka->brokers;
      o.topic = kafka->topic_prefix + ".events";
      o.dir = dir + "/log";
      o.client_id = kafka->client_id;
      auto log = KafkaEventLog::Open(o);
      if (!log.ok()) return log.status();
      // Start from everything the topic holds: the state and views are then whole.
      Status s = (*log)->CatchUp(std::chrono::seconds(120));
      if (!s.ok()) return s;
      n->kafka_log = log->get();
      return std::unique_ptr<EventLog>(std::move(log.value()));
    };
    options.open_store = [n, kafka, dir = options.data_dir](
                             const std::string& name) -> Result<std::unique_ptr<KvStore>> {
      // An idempotency record seen late is harmless (a replayed command finds its events); a
      // card token or a secret must be found as soon as it was written anywhere.
      auto kv = KafkaKv::Open(kafka->brokers, kafka->topic_prefix + "." + name, dir + "/" + name,
                              kafka->client_id, /*fresh_misses=*/name != "idempotency");
      if (!kv.ok()) return kv.status();
      Status s = (*kv)->CatchUp(std::chrono::seconds(60));
      if (!s.ok()) return s;
      n->kafka_stores.push_back(kv->get());
      return std::unique_ptr<KvStore>(std::move(kv.value()));
    };
  }
  // The log and views hold names, phones, emails and dates of birth: the directory is the
  // owner's alone. One others can read (a plain mkdir makes one) is tightened, with a warning;
  // one that cannot be is refused.
  {
    std::error_code ec;
    std::filesystem::create_directories(options.data_dir, ec);
    auto loose = TightenTree(options.data_dir);
    if (!loose.ok()) return loose.status();
    if (*loose > 0) {
      spdlog::warn(
          "the data directory {} could be read by other users: {} entries made private "
          "(directories 0700, files 0600)",
          options.data_dir, *loose);
    }
  }
  auto app = App::Open(options);
  if (!app.ok()) return app.status();
  node->app = std::move(app.value());
  const std::string& dir = node->app->options().data_dir;
  auto open_store = [&](const std::string& name) {
    return options.open_store ? options.open_store(name) : OpenRocksKv(dir + "/" + name);
  };
  auto idempotency = open_store("idempotency");
  if (!idempotency.ok()) return idempotency.status();
  node->idempotency = std::move(idempotency.value());
  auto scrubbed = ScrubKeptSecrets(node->idempotency.get());
  if (!scrubbed.ok()) return scrubbed.status();
  if (*scrubbed > 0) {
    spdlog::warn("{} idempotency records kept secrets from an older remit: rewritten without them",
                 *scrubbed);
  }
  auto secrets_kv = open_store("secrets");
  if (!secrets_kv.ok()) return secrets_kv.status();
  auto secrets = SecretsStore::Open(std::move(secrets_kv.value()), options.secrets_key_file.empty()
                                                                       ? dir + "/secrets.key"
                                                                       : options.secrets_key_file);
  if (!secrets.ok()) return secrets.status();
  node->secrets = std::move(secrets.value());
  auto sandbox_kv = open_store("sandbox-gateway");
  if (!sandbox_kv.ok()) return sandbox_kv.status();
  node->sandbox = std::make_unique<SandboxGateway>(std::move(sandbox_kv.value()));
  node->portal = std::make_unique<Portal>(node->app.get(), node->secrets.get(), node->sandbox.get(),
                                          node->idempotency.get());
  if (!kafka) {
    Status s = node->portal->ResumePayments(node->app->Practices());
    if (!s.ok()) return s;
  }
  // Files the stores made just now under a permissive umask (a library caller's; `remit` itself
  // runs with umask 077).
  auto made = TightenTree(options.data_dir);
  if (!made.ok()) return made.status();
  return node;
}

Status Node::StartMembership(std::function<void(const std::vector<std::string>&)> on_peers) {
  if (!kafka_ || kafka_log == nullptr) return Status::OK();
  MembershipOptions o;
  o.brokers = kafka_->brokers;
  o.events_topic = kafka_->topic_prefix + ".events";
  o.owners_topic = kafka_->topic_prefix + ".owners";
  o.group = kafka_->group;
  o.client_id = kafka_->client_id;
  App* a = app.get();
  o.url = [a] { return a->advertise_url(); };
  o.on_owners = std::move(on_peers);
  KafkaEventLog* log = kafka_log;
  std::vector<KafkaKv*> stores = kafka_stores;
  auto prepare = [log, stores](int32_t partition) {
    Status s = log->CatchUp(std::chrono::seconds(30), partition);
    for (size_t i = 0; s.ok() && i < stores.size(); ++i)
      s = stores[i]->CatchUp(std::chrono::seconds(30));
    return s;
  };
  Portal* p = portal.get();
  auto owned = [a, p, log](int32_t partition) {
    // Every practice the views know, whoever registered it.
    std::vector<std::string> mine;
    for (auto& practice : PracticeIds(LiveReader(a->views()))) {
      if (log->PartitionOf(practice) == partition) mine.push_back(std::move(practice));
    }
    p->ResumePayments(mine).IgnoreError();
  };
  auto m = KafkaMembership::Start(o, log, prepare, owned);
  if (!m.ok()) return m.status();
  membership = std::move(m.value());
  return Status::OK();
}

Status Node::CheckStorage() {
  Status s = app->log().VerifyStorage();
  if (s.ok()) s = app->views().VerifyStorage();
  if (s.ok() && idempotency) s = idempotency->VerifyStorage();
  if (s.ok() && secrets) s = secrets->VerifyStorage();
  if (s.ok() && sandbox) s = sandbox->VerifyStorage();
  if (!s.ok()) {
    spdlog::error("storage check failed, taking no more writes: {}", s.ToString());
    app->Degrade("storage check: " + s.ToString());
  }
  storage_checked_at_us = NowMicros();
  return s;
}

namespace {

// Kafka mode's cluster for the API: the group membership and the Kafka log.
class KafkaOwners final : public PracticeOwners {
 public:
  // `membership` is set by StartMembership and reset at shutdown.
  KafkaOwners(const std::unique_ptr<KafkaMembership>& membership, KafkaEventLog* log)
      : membership_(membership), log_(log) {}
  bool active() const override { return membership_ != nullptr; }
  bool Owns(const std::string& practice) const override { return membership_->Owns(practice); }
  std::string OwnerUrl(const std::string& practice) const override {
    return membership_->OwnerUrl(practice);
  }
  std::string url() const override { return membership_->url(); }
  Status CatchUp(const std::string& practice, std::chrono::milliseconds timeout) override {
    return log_->CatchUp(timeout, log_->PartitionOf(practice));
  }
  std::vector<Gauge> Gauges() const override {
    auto c = log_->counters();
    std::vector<Gauge> out = {
        {"remit_kafka_units_taken", "Command units the Kafka mirror took.",
         static_cast<double>(c.units)},
        {"remit_kafka_duplicate_units", "Units skipped as already held.",
         static_cast<double>(c.duplicates)},
        {"remit_kafka_fork_units", "Units refused: not on their practice's head.",
         static_cast<double>(c.forks)},
        {"remit_kafka_incomplete_units", "Partial units dropped.",
         static_cast<double>(c.incomplete)},
        {"remit_kafka_malformed_messages", "Messages that are not remit records.",
         static_cast<double>(c.malformed)}};
    if (membership_) {
      out.emplace_back("remit_kafka_owned_partitions",
                       "Partitions (practices) this process writes for.",
                       static_cast<double>(membership_->Owned().size()));
    }
    return out;
  }

 private:
  const std::unique_ptr<KafkaMembership>& membership_;
  KafkaEventLog* log_;
};

}  // namespace

ApiParts Node::api_parts() {
  if (kafka_log != nullptr && !owners_)
    owners_ = std::make_unique<KafkaOwners>(membership, kafka_log);
  ApiParts p;
  p.app = app.get();
  p.portal = portal.get();
  p.secrets = secrets.get();
  p.sandbox = sandbox.get();
  p.idempotency = idempotency.get();
  p.owners = owners_.get();
  p.write_gate = &write_gate;
  p.storage_checked_at_us = &storage_checked_at_us;
  p.backup = [this](const std::string& to) -> Result<uint64_t> {
    auto r = Backup(to);
    if (!r.ok()) return r.status();
    return r->events;
  };
  return p;
}

Result<BackupReport> Node::Backup(const std::string& to) {
  std::unique_lock<std::shared_mutex> gate(write_gate);
  BackupSources from;
  from.log = &app->log();
  from.views = &app->views();
  from.stores = {{"idempotency", idempotency.get()}};
  if (secrets) from.stores.push_back({"secrets", secrets->kv()});
  if (sandbox) from.stores.push_back({"sandbox-gateway", sandbox->kv()});
  const AppOptions& o = app->options();
  from.secrets_key_file =
      o.secrets_key_file.empty() ? o.data_dir + "/secrets.key" : o.secrets_key_file;
  from.operator_token_file = o.operator_token_file;
  return WriteBackup(from, to);
}

void Node::StartStorageCheck(std::chrono::milliseconds interval) {
  check_thread_ = std::thread([this, interval] {
    for (;;) {
      {
        MutexLock l(&check_mu_);
        if (check_stop_) return;
      }
      Status s = CheckStorage();
      if (!s.ok()) return;  // degraded for good: nothing more to find out
      auto deadline = std::chrono::steady_clock::now() + interval;
      MutexLock l(&check_mu_);
      while (!check_stop_ && check_cv_.WaitUntil(&check_mu_, deadline)) {
      }
    }
  });
}

Node::~Node() {
  {
    MutexLock l(&check_mu_);
    check_stop_ = true;
  }
  check_cv_.SignalAll();
  if (check_thread_.joinable()) check_thread_.join();
  owners_.reset();
  membership.reset();
  portal.reset();
  sandbox.reset();
  secrets.reset();
  idempotency.reset();
  app.reset();
}

}  // namespace remit
