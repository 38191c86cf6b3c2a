// App: the application's core. Owns the event log, the views, the projection runner and the
// engine's decision state for every practice, and executes commands as the single writer per
// practice.
//
// Execute holds the practice's lock across Decide, the durable append and folding the events
// back from the log, so each practice's stream has one total order and its hash chain one
// head. The decision state is a fold of the log: before deciding, the practice's events that
// the state has not seen (on Kafka, written by a process that owned the practice before) are
// folded in; an append refused as a fork is decided again on the new head. It returns only when
// the events are durable and applied to the views (read-your-writes).
// Thread safety: all public methods are thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/app/projection_runner.h"
#include "adapters/storage/event_log.h"
#include "adapters/storage/files.h"
#include "adapters/storage/kv_store.h"
#include "adapters/storage/view_store.h"
#include "engine/engine.h"
#include "events/mutex.h"

namespace remit {

struct AppOptions {
  std::string data_dir;
  // The event log to use; when null, the embedded log in <data_dir>/log.
  std::function<Result<std::unique_ptr<EventLog>>(const std::string& data_dir)> open_log;
  // The stores beside the log, by name ("secrets", "sandbox-gateway"); when null, embedded ones
  // in <data_dir>/<name>.
  std::function<Result<std::unique_ptr<KvStore>>(const std::string& name)> open_store;
  std::string secrets_key_file;     // default <data_dir>/secrets.key
  std::string public_url;           // what portal links and QR codes point at (see SetPublicUrl)
  std::string operator_token_file;  // default <data_dir>/operator-token
  // Serve what can be read from a log that fails verification: the log is opened read-only,
  // state and views stop at the first bad record, and every write answers 503 read_only.
  bool read_only = false;
};

// Who is calling.
struct Principal {
  enum class Kind { kNone, kOperator, kStaff, kPatient } kind = Kind::kNone;
  std::string practice_id;
  std::string role;  // staff: admin, staff or auditor
  std::string token_id;
  std::string patient_id;
};

int RoleRank(std::string_view role);  // auditor 1 < staff 2 < admin 3; unknown 0

struct ExecResult {
  engine::Outcome outcome = engine::Outcome::kUnchanged;
  std::optional<engine::Rejection> rejection;
  uint64_t end_offset = 0;  // one past the command's last event
};

class App {
 public:
  static constexpr auto kApplyWait = std::chrono::seconds(30);
  static constexpr int kForkRetries = 3;

  static Result<std::unique_ptr<App>> Open(const AppOptions& options);
  ~App();

  // Executes a command for ctx.practice_id (ctx.now_us is filled in when zero).
  Result<ExecResult> Execute(engine::CommandContext ctx, const engine::Command& cmd);

  // Bearer token to principal: the operator token, or a staff token from the views.
  Principal Authenticate(std::string_view bearer) const;

  // Creates a staff token for `practice_id`: {token_id, token}.
  Result<std::pair<std::string, std::string>> CreateToken(const std::string& practice_id,
                                                          const std::string& role,
                                                          const std::string& label,
                                                          const std::string& actor,
                                                          int64_t expires_at_us = 0);

  // Issues a single-use portal invite, valid kInviteTtlUs. The code is the secret: the log
  // keeps only its hash as the invite's id.
  struct Invite {
    std::string code;
    int64_t expires_at_us = 0;
    bool account_reset = false;  // the patient was enrolled: using it replaces their sign-in
  };
  static constexpr int64_t kInviteTtlUs = int64_t{7} * 24 * 3600 * 1000000;
  Result<std::variant<engine::Rejection, Invite>> IssueInvite(const std::string& practice_id,
                                                              const std::string& patient_id,
                                                              const std::string& actor);

  bool PracticeExists(const std::string& practice_id) const;
  std::vector<std::string> Practices() const;

  // Runs `f` on the practice's decision state under its lock; false if the practice is unknown.
  // `f` must be quick: it holds up every command of the practice.
  bool Inspect(const std::string& practice_id,
               const std::function<void(const engine::PracticeState&)>& f);

  const AppOptions& options() const { return options_; }
  // Set once the listener is bound (its port may be chosen by the OS).
  void SetPublicUrl(std::string url) {
    MutexLock l(&public_url_mu_);
    public_url_ = std::move(url);
  }
  std::string public_url() const {
    MutexLock l(&public_url_mu_);
    return public_url_;
  }
  // Where the other remit processes reach this one (Kafka mode's forwarding to a practice's
  // owner); set once the listener is bound. Never the public URL (see remit serve
  // --advertise-url).
  void SetAdvertiseUrl(std::string url) {
    MutexLock l(&public_url_mu_);
    advertise_url_ = std::move(url);
  }
  std::string advertise_url() const {
    MutexLock l(&public_url_mu_);
    return advertise_url_.empty() ? public_url_ : advertise_url_;
  }
  const std::string& operator_token() const { return operator_token_; }
  bool created_operator_token() const { return created_operator_token_; }
  ViewStore& views() { return *views_; }
  EventLog& log() { return *log_; }
  ProjectionRunner& runner() { return *runner_; }
  uint64_t events_appended() const { return events_appended_.load(); }
  // Started read-only, or degraded since (Degrade): every write answers 503 read_only.
  bool read_only() const { return options_.read_only || degraded_.load(); }
  // Why the server does not take writes, or cannot serve everything: a log that could not be
  // fully read at a read-only start, or damage found later (empty when neither).
  std::string degraded_reason() const {
    MutexLock l(&degraded_mu_);
    return degraded_reason_;
  }
  // Damage found while running (the background storage check): from now on every write is
  // refused with 503 read_only and /healthz answers 503 with `reason`. Never undone while the
  // process runs: the data directory needs an operator (docs/operations.md).
  void Degrade(const std::string& reason);

 private:
  struct Slot {
    Mutex mu;
    engine::PracticeState state REMIT_GUARDED_BY(mu);
    // The log offset from which the practice's events are not yet folded.
    uint64_t next REMIT_GUARDED_BY(mu) = 0;
  };
  App() = default;
  Status LoadOperatorToken();
  Status RebuildState();
  // The practice's slot; created when `create`, or when the log holds events of the practice
  // (another process's, on Kafka).
  Slot* GetSlot(const std::string& practice_id, bool create);
  // Folds the practice's events the slot has not seen yet (slot->mu held): the decision state
  // follows the log, whoever wrote to it.
  Status CatchUpSlot(const std::string& practice_id, Slot* slot) REMIT_REQUIRES(slot->mu);

  AppOptions options_;
  mutable Mutex public_url_mu_;
  std::string public_url_ REMIT_GUARDED_BY(public_url_mu_);
  std::string advertise_url_ REMIT_GUARDED_BY(public_url_mu_);
  std::string operator_token_;
  bool created_operator_token_ = false;
  std::unique_ptr<EventLog> log_;
  std::unique_ptr<ViewStore> views_;
  std::unique_ptr<ProjectionRunner> runner_;
  mutable SharedMutex slots_mu_;
  std::map<std::string, std::unique_ptr<Slot>, std::less<>> slots_ REMIT_GUARDED_BY(slots_mu_);
  std::atomic<uint64_t> events_appended_{0};
  mutable Mutex degraded_mu_;
  std::string degraded_reason_ REMIT_GUARDED_BY(degraded_mu_);
  std::atomic<bool> degraded_{false};
};

}  // namespace remit
