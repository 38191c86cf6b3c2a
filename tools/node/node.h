// Node: one remit process's components, opened together from a data directory: the App
// (log, views, engine), the secrets store, the sandbox processor and the portal.
// Thread safety: the members are thread-safe; Open and destruction are single-threaded.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "adapters/api/api.h"
#include "adapters/app/app.h"
#include "adapters/app/portal.h"
#include "adapters/crypto/secrets.h"
#include "adapters/kafka/kafka_event_log.h"
#include "adapters/kafka/kafka_kv.h"
#include "adapters/kafka/kafka_membership.h"
#include "adapters/payments/sandbox_gateway.h"
#include "events/mutex.h"
#include "tools/node/backup.h"

namespace remit {

// Kafka mode (docs/kafka.md): the topics are <prefix>.events (the log, partitioned by
// practice), <prefix>.owners, and one single-partition topic per store beside the log
// (<prefix>.secrets, <prefix>.sandbox-gateway, <prefix>.idempotency).
struct KafkaSetup {
  std::string brokers;
  std::string topic_prefix = "remit";
  std::string group = "remit";
  std::string client_id = "remit";
};

struct Node {
  std::unique_ptr<App> app;
  std::unique_ptr<SecretsStore> secrets;
  std::unique_ptr<SandboxGateway> sandbox;
  std::unique_ptr<Portal> portal;
  // The HTTP layer's idempotency records (request fingerprint and answer by key).
  std::unique_ptr<KvStore> idempotency;
  // Kafka mode only: the log as Kafka, the mirrored stores, and the group membership (after
  // StartMembership).
  KafkaEventLog* kafka_log = nullptr;
  std::vector<KafkaKv*> kafka_stores;
  std::unique_ptr<KafkaMembership> membership;

  // Opens everything under options.data_dir (and on Kafka when `kafka` is given) and, on the
  // embedded log, finishes payments a crash left open.
  static Result<std::unique_ptr<Node>> Open(const AppOptions& options,
                                            const std::optional<KafkaSetup>& kafka = std::nullopt);
  // Kafka mode: joins the group once peers can reach this process at app->advertise_url(). A
  // partition's open payments are finished when it becomes this process's. `on_peers` is
  // called with the members' announced URLs each time they change (the HTTP server exempts
  // their addresses from its per-address cap).
  Status StartMembership(std::function<void(const std::vector<std::string>&)> on_peers = {});

  // The background storage check: reads every store of the node whole and checks it (block
  // checksums of the log, views, idempotency, secrets and processor stores; reads that failed on
  // damage). Damage degrades the App: writes answer 503 read_only and /healthz 503, naming the
  // store. Runs at once, then every `interval`, on a thread of its own.
  static constexpr auto kStorageCheckInterval = std::chrono::hours(1);
  void StartStorageCheck(std::chrono::milliseconds interval = kStorageCheckInterval);
  // One pass of the check, on the calling thread; degrades the App on damage.
  Status CheckStorage();
  // Every request that may write holds this shared (Api::Handle); Backup holds it alone, so the
  // log and the stores beside it are copied at one point.
  std::shared_mutex write_gate;
  // Copies the data directory to `to` (tools/node/backup.h) with every writer held still.
  Result<BackupReport> Backup(const std::string& to);
  // When the last pass ended (0 before the first), for /healthz.
  std::atomic<int64_t> storage_checked_at_us{0};
  // What the HTTP API serves from: this node's parts (valid while the node is). In Kafka mode
  // the cluster forwards nothing until StartMembership has run.
  ApiParts api_parts();
  ~Node();

 private:
  std::optional<KafkaSetup> kafka_;
  std::unique_ptr<PracticeOwners> owners_;
  Mutex check_mu_;
  CondVar check_cv_;  // signalled to stop the check
  bool check_stop_ REMIT_GUARDED_BY(check_mu_) = false;
  std::thread check_thread_;
};

}  // namespace remit
