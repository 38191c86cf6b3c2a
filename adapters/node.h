// Node: one remit process's components, opened together from a data directory: the App
// (log, views, engine), the secrets store, the sandbox processor and the portal.
// Thread safety: the members are thread-safe; Open and destruction are single-threaded.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "adapters/app.h"
#include "adapters/kafka_event_log.h"
#include "adapters/kafka_kv.h"
#include "adapters/kafka_membership.h"
#include "adapters/portal.h"
#include "adapters/sandbox_gateway.h"
#include "adapters/secrets.h"

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
  // Kafka mode: joins the group once peers can reach this process at app->public_url(). A
  // partition's open payments are finished when it becomes this process's.
  Status StartMembership();
  ~Node();

 private:
  std::optional<KafkaSetup> kafka_;
};

}  // namespace remit
