// Portal: the patient side of remit: enrolment, the three sign-in steps, sessions, and paying.
//
// Secrets (password hashes, TOTP secrets) go to the SecretsStore and are checked here, outside
// the practice's lock; the engine gets the verdicts and records every step as events. Bearer
// tokens handed out are 256-bit random strings; only their SHA-256 is ever stored.
// Payments run in three durable steps (ADR 0002): submitted, charged, outcome recorded.
// Thread safety: all methods are thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "adapters/app/app.h"
#include "adapters/app/rate_limit.h"
#include "adapters/crypto/secrets.h"
#include "adapters/payments/gateway.h"
#include "events/mutex.h"

namespace remit {

template <typename T>
using Outcome = Result<std::variant<engine::Rejection, T>>;

struct PatientSession {
  std::string practice_id, patient_id, session_id;
};

struct PaymentRequest {
  Cents amount_cents = 0;
  std::string card_id;     // a saved card ...
  std::string card_token;  // ... or a new one from the processor's tokenizer
  bool save_card = false;
};

struct PaymentResult {
  std::string payment_id;
  bool succeeded = false;
  bool posted = false;
  Cents amount_cents = 0;
  std::string brand, last4, decline_reason;
};

class Portal {
 public:
  // argon2id takes 64 MiB and tens of ms: at most kHashingMax at once, whoever asks; a caller
  // that waited kHashingWait is answered 503 with Retry-After.
  static constexpr size_t kHashingMax = 4;
  static constexpr auto kHashingWait = std::chrono::seconds(2);

  // `activity` keeps each session's last request (at most once a minute, so idle time survives
  // a restart within that minute); null keeps it in memory only.
  Portal(App* app, SecretsStore* secrets, PaymentGateway* gateway, KvStore* activity = nullptr)
      : app_(app), secrets_(secrets), gateway_(gateway), activity_(activity) {}
  static constexpr int64_t kActivityWriteEveryUs = 60 * 1000000LL;

  struct Enrolment {
    std::string totp_secret_base32, otpauth_uri;
  };
  // REQUIRES: the password meets PasswordWeakness (the caller answers weak_password).
  Outcome<Enrolment> Enroll(const std::string& practice, const std::string& invite_code,
                            const std::string& username, const std::string& password);
  Outcome<std::string> CheckIdentity(const std::string& practice, const std::string& username,
                                     const std::string& method, const std::string& value);
  Outcome<std::string> Login(const std::string& practice, const std::string& identity_token,
                             const std::string& username, const std::string& password);
  struct NewSession {
    std::string token;
    int64_t expires_at_us = 0;
  };
  Outcome<NewSession> VerifyCode(const std::string& practice, const std::string& challenge_token,
                                 const std::string& code);
  Status Logout(const PatientSession& session);

  // The patient session a bearer token opens, if it is live (12 hours in all, 1 hour idle).
  std::optional<PatientSession> Authenticate(std::string_view bearer);

  Outcome<PaymentResult> Pay(const PatientSession& who, const std::string& idempotency_key,
                             const PaymentRequest& request);
  // Finishes payments that a crash left between submission and outcome.
  Status ResumePayments(const std::vector<std::string>& practices);

  // Tests move the portal's clock (session idle and TOTP time); the default is the wall clock.
  void SetClockForTesting(std::function<int64_t()> now_us) { now_us_ = std::move(now_us); }

  // The bounded password hashing (its counts are in /metrics).
  const WorkLimit& hashing() const { return hashing_; }

  // The TOTP secret of a username (tests compute codes with it, as an authenticator app does).
  Result<std::string> TotpSecretForTesting(const std::string& practice,
                                           const std::string& username);

 private:
  Outcome<PaymentResult> Finish(const std::string& practice, const std::string& payment_id);
  static std::string SecretName(const char* kind, const std::string& practice,
                                const std::string& patient, const std::string& secret_id);

  std::function<int64_t()> now_us_ = [] { return NowMicros(); };
  WorkLimit hashing_{kHashingMax, kHashingWait};
  App* app_;
  SecretsStore* secrets_;
  PaymentGateway* gateway_;
  KvStore* activity_;
  Mutex seen_mu_;
  struct Seen {
    int64_t last_us = 0;  // the last request
    int64_t kept_us = 0;  // what activity_ holds
  };
  std::map<std::string, Seen> last_seen_us_ REMIT_GUARDED_BY(seen_mu_);  // session id -> requests
};

std::string NormalizeUsername(const std::string& username);
bool IsValidUsername(const std::string& username);

}  // namespace remit
