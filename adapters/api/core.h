// ApiCore: what every route group shares: the parts the API serves from (ApiParts), the limits
// of the anonymous portal steps, the access log's memory, idempotent answers by key, and, in
// Kafka mode, the way to the process that writes for a practice.
// Thread safety: every method may be called concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <tuple>
#include <vector>

#include "adapters/app/app.h"
#include "adapters/app/portal.h"
#include "adapters/app/rate_limit.h"
#include "adapters/crypto/secrets.h"
#include "adapters/http/http_server.h"
#include "adapters/http/metrics.h"
#include "adapters/payments/sandbox_gateway.h"
#include "adapters/storage/kv_store.h"
#include "events/check.h"
#include "events/mutex.h"

namespace remit {

// Kafka mode's cluster as the API sees it: which process writes for a practice, and waiting
// until this process holds what that process wrote. The wiring (tools/node) implements it over
// the Kafka log and the group membership; null on the embedded log.
class PracticeOwners {
 public:
  virtual ~PracticeOwners() = default;
  // False until this process has joined the cluster's group: until then it forwards nothing.
  virtual bool active() const = 0;
  virtual bool Owns(const std::string& practice) const = 0;
  // Where the owner of `practice` is reached; empty while nobody owns it.
  virtual std::string OwnerUrl(const std::string& practice) const = 0;
  // Where this process is reached.
  virtual std::string url() const = 0;
  // Waits until this process's copy of the log holds what the topic held for `practice`.
  virtual Status CatchUp(const std::string& practice, std::chrono::milliseconds timeout) = 0;
  // For /metrics: (name, help, value).
  using Gauge = std::tuple<std::string, std::string, double>;
  virtual std::vector<Gauge> Gauges() const = 0;
};

// What the API serves from, opened and owned by the wiring (tools/node): the API sees the
// application and the interfaces of the stores, never how they were made.
struct ApiParts {
  App* app = nullptr;
  Portal* portal = nullptr;
  SecretsStore* secrets = nullptr;
  SandboxGateway* sandbox = nullptr;
  KvStore* idempotency = nullptr;    // request fingerprints and answers by Idempotency-Key
  PracticeOwners* owners = nullptr;  // Kafka mode only
  // Every request that may write holds it shared; a backup holds it alone.
  std::shared_mutex* write_gate = nullptr;
  // When the background storage check last ended (0 before the first), for /healthz.
  const std::atomic<int64_t>* storage_checked_at_us = nullptr;
  // Copies the data directory to `to` with every writer held still; the copy's log end.
  // InvalidArgument when `to` is refused.
  std::function<Result<uint64_t>(const std::string& to)> backup;
};

class ApiCore {
 public:
  explicit ApiCore(ApiParts parts) : parts_(std::move(parts)) {
    REMIT_CHECK(parts_.app != nullptr && parts_.portal != nullptr && parts_.secrets != nullptr &&
                    parts_.sandbox != nullptr && parts_.idempotency != nullptr &&
                    parts_.write_gate != nullptr && parts_.storage_checked_at_us != nullptr,
                "the API needs every part but the cluster's");
  }

  // Limits of the anonymous portal steps (enrol, identity check, password, code), checked
  // before anything is written; past them 429 rate_limited with Retry-After. Sized so that a
  // front-desk kiosk or an office network, where many patients share one address, keeps at
  // least 100 steps a minute, while one address can neither flood the log nor lock out many
  // usernames (each failed identity check spends one of 30 for the address, back at 2 a minute).
  static constexpr double kStepsPerAddressBurst = 120;
  static constexpr auto kStepsPerAddressRefill = std::chrono::milliseconds(500);
  static constexpr double kIdentityChecksPerUserBurst = 10;
  static constexpr auto kIdentityChecksPerUserRefill = std::chrono::seconds(30);
  static constexpr double kIdentityFailuresPerAddressBurst = 30;
  static constexpr auto kIdentityFailuresPerAddressRefill = std::chrono::seconds(30);
  // The most inbox items one answer lists.
  static constexpr size_t kInboxItemsMax = 1000;

  const ApiParts& parts() const { return parts_; }
  App& app() const { return *parts_.app; }
  Portal& portal() const { return *parts_.portal; }
  Metrics& metrics() { return metrics_; }

  // Runs `fn` under the request's Idempotency-Key (if any), scoped to `who` (anonymous: to the
  // path): replays, conflicts, waits for an identical request in flight, and stores the answer.
  HttpResponse WithIdempotency(const HttpRequest& req, const Principal& who,
                               const std::function<HttpResponse()>& fn);

  // Records that `actor` read `resource` (HIPAA access log), once per `reader` (a session or a
  // staff token) and resource; remembered in memory, up to kAccessMemoryMax pairs.
  void RecordAccess(const std::string& practice, const std::string& actor,
                    const std::string& reader, const std::string& resource,
                    const std::string& patient_id);

  // Kafka mode: a command for a practice that another process writes for is sent to that
  // process, and its answer relayed once this process's views hold what it wrote
  // (read-your-writes). Null when the request is this process's to handle.
  std::optional<HttpResponse> ForwardToOwner(const HttpRequest& req);

  // The client a request is for: the TCP peer (or a trusted proxy's client), or, for a request
  // another remit process forwarded, the client it named.
  static std::string ClientOf(const HttpRequest& req);
  // 429 rate_limited when `limiter` has no token for `key` (spending one when it has).
  static std::optional<HttpResponse> Throttle(RateLimiter& limiter, const std::string& key);

  RateLimiter& steps_per_address() { return steps_per_address_; }
  RateLimiter& identity_checks_per_user() { return identity_checks_per_user_; }
  RateLimiter& identity_failures_per_address() { return identity_failures_per_address_; }

 private:
  static constexpr size_t kAccessMemoryMax = 100000;
  static constexpr auto kForwardWait = std::chrono::seconds(20);

  // Sends a request (with `headers`) to the owner of `practice` and relays the answer; retries
  // while ownership moves, up to kForwardWait.
  std::optional<HttpResponse> CallOwner(const std::string& practice, const std::string& method,
                                        const std::string& target, const std::string& body,
                                        std::map<std::string, std::string> headers);
  // The cluster once this process has joined it; null before, and on the embedded log.
  PracticeOwners* ActiveOwners() const {
    return parts_.owners != nullptr && parts_.owners->active() ? parts_.owners : nullptr;
  }

  const ApiParts parts_;
  Metrics metrics_;
  RateLimiter steps_per_address_{kStepsPerAddressBurst, kStepsPerAddressRefill};
  RateLimiter identity_checks_per_user_{kIdentityChecksPerUserBurst, kIdentityChecksPerUserRefill};
  RateLimiter identity_failures_per_address_{kIdentityFailuresPerAddressBurst,
                                             kIdentityFailuresPerAddressRefill};
  Mutex access_mu_;
  std::set<std::string> accessed_ REMIT_GUARDED_BY(access_mu_);
  Mutex idem_mu_;
  CondVar idem_cv_;  // signalled when a key leaves idem_in_flight_
  std::set<std::string> idem_in_flight_ REMIT_GUARDED_BY(idem_mu_);
};

}  // namespace remit
