// The commands the engine decides, the context each comes with, the limits of the contract,
// and what a decision is.
// Thread safety: values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/rejection.h"
#include "events/event.h"

namespace remit::engine {

struct RegisterPractice {
  std::string name, currency;
};
struct ChangeSettings {
  std::optional<bool> portal_payments_enabled, auto_post_to_ledger;
};
struct IssueToken {
  std::string token_id, role, label;
  Hash256 token_sha256{};
  int64_t expires_at_us = 0;  // 0: never
};
struct RevokeToken {
  std::string token_id;
};
struct UpsertPatient {
  PatientUpserted patient;
};
struct PostCharge {
  ChargePosted charge;
};
struct IssueInvite {
  std::string patient_id, invite_id;
  int64_t expires_at_us = 0;
};

// Portal sign-in. Secrets never come in: the adapter checks password and TOTP code against the
// secrets store and passes the verdict; bearer tokens come in as their SHA-256 (hex).
// `secret_id` names the secrets the adapter stored for this attempt (fresh per attempt: a
// refused enrolment's secrets are never referenced, so it changes nothing).
struct Enroll {
  std::string invite_id, username, secret_id;
};
struct CheckIdentity {
  std::string username, method, value, identity_id;
};
struct Login {
  std::string identity_id, username;
  bool password_ok = false;
  std::string challenge_id;
};
struct VerifyCode {
  std::string challenge_id;
  std::optional<int64_t> matched_step;  // the TOTP step the code matched, if any
  std::string session_id;
};
struct Logout {
  std::string session_id, reason;
};

// Payments.
struct SubmitPayment {
  std::string patient_id, payment_id;
  Cents amount_cents = 0;
  std::string card_id;  // a saved card, or empty with the fields below for a new one
  std::string processor_token, brand, last4;
  int32_t exp_month = 0, exp_year = 0;
  bool save_card = false;
};
struct RecordPaymentOutcome {
  std::string payment_id;
  bool succeeded = false;
  std::string processor_ref, decline_reason;
  std::string new_card_id;  // for a card to save
};
struct PostPayment {
  std::string payment_id;
};
struct RemoveCard {
  std::string patient_id, card_id;
};
struct MarkNotificationRead {
  std::string notification_id;
};
struct RecordAccess {
  std::string resource, patient_id;
};

using Command = std::variant<RegisterPractice, ChangeSettings, IssueToken, RevokeToken,
                             UpsertPatient, PostCharge, IssueInvite, Enroll, CheckIdentity, Login,
                             VerifyCode, Logout, SubmitPayment, RecordPaymentOutcome, PostPayment,
                             RemoveCard, MarkNotificationRead, RecordAccess>;

// Limits of the contract.
constexpr int64_t kMinuteUs = 60 * 1000000LL;
constexpr int64_t kIdentityTokenTtlUs = 10 * kMinuteUs;
constexpr int64_t kChallengeTtlUs = 5 * kMinuteUs;
constexpr int64_t kSessionTtlUs = 12 * 60 * kMinuteUs;
constexpr int64_t kSessionIdleUs = 60 * kMinuteUs;
constexpr int kIdentityFailuresMax = 5;
constexpr int64_t kIdentityWindowUs = 15 * kMinuteUs;
constexpr int kPasswordFailuresMax = 10;
constexpr int64_t kPasswordLockUs = 30 * kMinuteUs;
constexpr int kCodeFailuresMax = 5;                // per challenge
constexpr int kCodeFailuresPerUserMax = 10;        // per username, across challenges ...
constexpr int64_t kCodeWindowUs = 15 * kMinuteUs;  // ... in this window
constexpr int64_t kCodeLockUs = 30 * kMinuteUs;

struct CommandContext {
  std::string practice_id;
  std::string command_key;  // idempotency key (given or derived); seeds the event ids
  Hash256 request_sha256{};
  std::string actor;
  int64_t now_us = 0;
};

// What a command did, for the caller's answer.
enum class Outcome { kCreated, kUpdated, kUnchanged };

struct Decision {
  std::variant<Rejection, std::vector<Event>> result;
  Outcome outcome = Outcome::kCreated;
  // A failure that is recorded (the events say so) and still answered as a rejection:
  // a wrong password, a wrong code, a failed identity check.
  std::optional<Rejection> failure;
  bool rejected() const { return result.index() == 0; }
  const Rejection& rejection() const { return std::get<0>(result); }
  std::vector<Event>& events() { return std::get<1>(result); }
};

}  // namespace remit::engine
