// The engine: turns a command and a practice's decision state into events or a rejection.
//
// Deterministic: the clock, random ids and the command key come in as inputs (CommandContext);
// it does no I/O. The caller (adapters/app) is the single writer of each practice's stream: it
// holds that practice's lock across Decide, the durable append and Evolve.
// Thread safety: none; a PracticeState is owned by one writer at a time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "events/event.h"

namespace remit::engine {

// Business rejections: values with stable codes (the contract's `code`), never exceptions.
enum class Reject {
  kPracticeExists,
  kPracticeNotFound,
  kInvalidGuarantor,
  kPatientNotFound,
  kChargeConflict,
  kTokenNotFound,
  kValidationFailed,
  // Portal sign-in.
  kInvalidInvite,
  kUsernameTaken,
  kIdentityNotVerified,
  kLockedOut,
  kInvalidCredentials,
  kInvalidCode,
  kSessionNotFound,
  // Payments.
  kPaymentsDisabled,
  kAmountExceedsBalance,
  kInvalidAmount,
  kCardNotFound,
  kPaymentNotFound,
  kNotPostable,
  kNotificationNotFound,
};
std::string_view RejectCode(Reject r);

struct Rejection {
  Reject reason;
  std::string detail;
};

// ---- Commands -------------------------------------------------------------------------------
struct RegisterPractice { std::string name, currency; };
struct ChangeSettings {
  std::optional<bool> portal_payments_enabled, auto_post_to_ledger;
};
struct IssueToken {
  std::string token_id, role, label;
  Hash256 token_sha256{};
  int64_t expires_at_us = 0;  // 0: never
};
struct RevokeToken { std::string token_id; };
struct UpsertPatient { PatientUpserted patient; };
struct PostCharge { ChargePosted charge; };
struct IssueInvite { std::string patient_id, invite_id; int64_t expires_at_us = 0; };

// Portal sign-in. Secrets never come in: the adapter checks password and TOTP code against the
// secrets store and passes the verdict; bearer tokens come in as their SHA-256 (hex).
// `secret_id` names the secrets the adapter stored for this attempt (fresh per attempt: a
// refused enrolment's secrets are never referenced, so it changes nothing).
struct Enroll { std::string invite_id, username, secret_id; };
struct CheckIdentity { std::string username, method, value, identity_id; };
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
struct Logout { std::string session_id, reason; };

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
struct PostPayment { std::string payment_id; };
struct RemoveCard { std::string patient_id, card_id; };
struct MarkNotificationRead { std::string notification_id; };
struct RecordAccess { std::string resource, patient_id; };

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

// ---- Decision state: what the engine must know to decide -----------------------------------
struct PatientState {
  PatientUpserted record;
  int dependents = 0;
};
struct ChargeState {
  Hash256 fingerprint{};
  std::string patient_id, service_date;
  Cents amount_cents = 0;
  Cents open_cents = 0;
};
struct InviteState {
  std::string patient_id;
  int64_t expires_at_us = 0;
  bool used = false;  // used, or voided by another enrolment of the patient
  bool account_reset = false;
};
struct PortalUser {
  std::string patient_id, secret_id;  // secret_id names the current secrets
  int64_t last_totp_step = -1;
  int password_failures = 0;
  int64_t password_locked_until_us = 0;
  std::vector<int64_t> code_failures = {};  // times of wrong codes within kCodeWindowUs
  int64_t code_locked_until_us = 0;
};
struct Grant {  // an identity token or a login challenge
  std::string username, patient_id;
  int64_t expires_at_us = 0;
  int failures = 0;
  bool spent = false;
};
struct SessionState {
  std::string patient_id;
  int64_t expires_at_us = 0;
  bool ended = false;
};
enum class PaymentStatus { kSubmitted, kSucceeded, kDeclined };
struct PaymentState {
  PaymentSubmitted submitted;
  PaymentStatus status = PaymentStatus::kSubmitted;
  bool posted = false;
  std::string command_key;
};
struct CardState {
  CardSaved card;
  bool removed = false;
};
struct TokenState {
  std::string role;
  bool revoked = false;
  int64_t expires_at_us = 0;  // 0: never
};

struct PracticeState {
  bool registered = false;
  std::string name, currency;
  bool portal_payments_enabled = false;
  bool auto_post_to_ledger = false;
  std::map<std::string, PatientState> patients;
  std::map<std::string, ChargeState> charges;
  std::map<std::string, TokenState> tokens;
  std::map<std::string, InviteState> invites;
  std::map<std::string, PortalUser> users;                     // by username
  std::map<std::string, std::string> usernames;                // patient -> username
  std::map<std::string, std::vector<int64_t>> identity_failures;  // username -> times
  std::map<std::string, Grant> identity_grants;                // by identity_id
  std::map<std::string, Grant> challenges;                     // by challenge_id
  std::map<std::string, SessionState> sessions;                // by session_id
  std::map<std::string, PaymentState> payments;
  std::map<std::string, CardState> cards;
  std::map<std::string, Cents> credits;                        // guarantor -> unapplied
  std::map<std::string, bool> notifications_read;              // notification_id -> read
  Hash256 head_hash{};
  uint64_t events = 0;
  // The newest occurred_at_us: the writer never gives an event an earlier time, so a
  // practice's events are in time order and "as of T" is a prefix of its stream.
  int64_t last_occurred_at_us = 0;
};

// A stable fingerprint of a charge's body, to tell a replay from a conflict.
Hash256 ChargeFingerprint(const ChargePosted& c);

// The family view's arithmetic, from the decision state (what the engine decides on).
// The members a patient sees: a guarantor, themselves and their dependents; a dependent, only
// themselves. Empty when the patient is unknown.
std::vector<std::string> ViewMembers(const PracticeState& s, const std::string& patient_id);
Cents PatientBalance(const PracticeState& s, const std::string& patient_id);
// Balance of the view less payments submitted or succeeded but not posted.
Cents AmountDue(const PracticeState& s, const std::string& patient_id);
std::string GuarantorOf(const PracticeState& s, const std::string& patient_id);
// How a posting of `payment` is allocated: the view's open charges, oldest service date
// first; what is left is the unapplied credit. Allocations + credit == amount (asserted).
PaymentPosted Allocate(const PracticeState& s, const PaymentState& payment);

// Notification id of a succeeded payment's inbox item.
std::string NotificationIdFor(const std::string& payment_id);

// Identity check rules of the contract: phone by the last 10 digits; email trimmed and
// case-insensitive; initials of first and last name, case-insensitive.
bool IdentityMatches(const PatientUpserted& p, const std::string& method, const std::string& value);

// Decides `cmd` against `state`. Events come back complete but unsealed (no hashes).
Decision Decide(const PracticeState& state, const Command& cmd, const CommandContext& ctx);

// Folds one event (already durable) into the decision state.
void Evolve(PracticeState* state, const Event& event);

}  // namespace remit::engine
