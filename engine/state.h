// The decision state: what the engine must know of a practice to decide (a fold of its events,
// Evolve), and the family view's arithmetic on it.
// Thread safety: none; a PracticeState is owned by one writer at a time.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/commands.h"
#include "events/event.h"

namespace remit::engine {

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
  std::map<std::string, PortalUser> users;                        // by username
  std::map<std::string, std::string> usernames;                   // patient -> username
  std::map<std::string, std::vector<int64_t>> identity_failures;  // username -> times
  std::map<std::string, Grant> identity_grants;                   // by identity_id
  std::map<std::string, Grant> challenges;                        // by challenge_id
  std::map<std::string, SessionState> sessions;                   // by session_id
  std::map<std::string, PaymentState> payments;
  std::map<std::string, CardState> cards;
  std::map<std::string, Cents> credits;            // guarantor -> unapplied
  std::map<std::string, bool> notifications_read;  // notification_id -> read
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

// Folds one event (already durable) into the decision state.
void Evolve(PracticeState* state, const Event& event);

}  // namespace remit::engine
