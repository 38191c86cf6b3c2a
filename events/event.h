// Event: one immutable fact in a practice's stream, as the C++ layers above see it.
//
// The stored form is a record (events/schema/events.fbs): magic, the previous hash of the
// practice's chain, hash = SHA-256(prev_hash || body), and the FlatBuffers Body. Only this
// folder includes the generated header. Every buffer read back is verified; a buffer that
// fails is a Corruption status, never a crash.
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "events/status.h"
#include "events/types.h"

namespace remit {

struct PracticeRegistered {
  std::string name, currency;
};
struct SettingsChanged {
  bool portal_payments_enabled = false, auto_post_to_ledger = false;
};
struct StaffTokenIssued {
  std::string token_id, role, label;
  Hash256 token_sha256{};
  int64_t expires_at_us = 0;  // 0: never
};
struct StaffTokenRevoked {
  std::string token_id;
};
struct PatientUpserted {
  std::string patient_id, first_name, last_name, phone, email, date_of_birth;
  std::string guarantor_id;  // empty: self-guarantor
};
struct ChargePosted {
  std::string charge_id, patient_id;
  Cents amount_cents = 0;
  std::string description, service_date;
};
struct PortalInviteIssued {
  std::string patient_id, invite_id;
  int64_t expires_at_us = 0;
  bool account_reset = false;  // the patient was enrolled: using it replaces their sign-in
};
struct PortalEnrolled {
  std::string patient_id, username, invite_id;
  std::string secret_id;  // names the enrolment's secrets; empty in old logs: invite_id
};
struct IdentityVerified {
  std::string username, patient_id, method, identity_id;
  int64_t expires_at_us = 0;
};
struct IdentityFailed {
  std::string username, method, reason;
};
struct PasswordVerified {
  std::string username, patient_id, challenge_id;
  int64_t expires_at_us = 0;
};
struct PasswordFailed {
  std::string username, reason;
};
struct SecondFactorVerified {
  std::string username, patient_id;
  int64_t totp_step = 0;
  std::string challenge_id;
};
struct SecondFactorFailed {
  std::string username, reason, challenge_id;
};
struct LockedOut {
  std::string username, stage;
  int64_t until_us = 0;
};
struct SessionStarted {
  std::string session_id, patient_id;
  int64_t expires_at_us = 0;
  std::string username;
};
struct SessionEnded {
  std::string session_id, reason;
};
struct PaymentSubmitted {
  std::string payment_id, patient_id, guarantor_id;
  Cents amount_cents = 0;
  std::string card_id, card_brand, card_last4;
  bool save_card = false;
  std::string processor_token;
  int32_t exp_month = 0, exp_year = 0;
};
struct PaymentSucceeded {
  std::string payment_id, processor_ref;
};
struct PaymentDeclined {
  std::string payment_id, decline_reason;
};
struct CardSaved {
  std::string card_id, patient_id, processor_token, brand, last4;
  int32_t exp_month = 0, exp_year = 0;
};
struct CardRemoved {
  std::string card_id, patient_id;
};
struct Allocation {
  std::string charge_id, patient_id;
  Cents amount_cents = 0;
};
struct PaymentPosted {
  std::string payment_id;
  std::vector<Allocation> allocations;
  Cents unapplied_cents = 0;
  std::string posted_by;
  std::string guarantor_id;
};
struct InboxNotificationRead {
  std::string notification_id, read_by;
};
struct RecordAccessed {
  std::string resource, patient_id;
};

// The order of the alternatives is the order of the schema's union (index + 1 = union type).
using Payload =
    std::variant<PracticeRegistered, SettingsChanged, StaffTokenIssued, StaffTokenRevoked,
                 PatientUpserted, ChargePosted, PortalInviteIssued, PortalEnrolled,
                 IdentityVerified, IdentityFailed, PasswordVerified, PasswordFailed,
                 SecondFactorVerified, SecondFactorFailed, LockedOut, SessionStarted, SessionEnded,
                 PaymentSubmitted, PaymentSucceeded, PaymentDeclined, CardSaved, CardRemoved,
                 PaymentPosted, InboxNotificationRead, RecordAccessed>;

// The snake_case type name of a payload ("charge_posted"), stable: it is part of the API.
std::string_view TypeName(const Payload& p);
std::string_view TypeNameAt(size_t index);
constexpr size_t kPayloadTypes = std::variant_size_v<Payload>;

constexpr uint16_t kSchemaVersion = 1;

struct Event {
  EventId event_id{};
  std::string practice_id;
  int64_t occurred_at_us = 0;
  uint16_t schema_version = kSchemaVersion;
  std::string command_key;
  Hash256 request_sha256{};
  std::string actor;
  Payload payload;
  // Filled by Seal() / DecodeRecord():
  Hash256 prev_hash{};
  Hash256 hash{};
};

// Notification id of the inbox item an account reset (PortalInviteIssued with account_reset)
// makes: the engine (to mark it read) and the inbox projection agree on it.
inline std::string AccountResetNotificationId(const std::string& invite_id) {
  return "ntf_reset_" + invite_id;
}

// The deterministic id of the `index`th event of the command with key `command_key`.
EventId DeriveEventId(std::string_view practice_id, std::string_view command_key, uint32_t index);

// Encodes the event's body, sets prev_hash and hash, and returns the record bytes to store.
std::string Seal(Event* event, const Hash256& prev_hash);

// Verifies and decodes a record: hash == SHA-256(prev_hash || body), then FlatBuffers
// verification of the body. Does not check the chain link (see ChainVerifier).
Result<Event> DecodeRecord(std::string_view record);
// The same into an existing event, reusing its strings' storage (replays decode millions).
// On failure *out is unspecified.
Status DecodeRecordInto(std::string_view record, Event* out);

// Checks practice chains across a sequence of records, in log order.
class ChainVerifier {
 public:
  // Returns Corruption naming the offset and the reason when `event` does not follow its
  // practice's previous event.
  Status Check(uint64_t offset, const Event& event);
  const Hash256& Head(const std::string& practice_id) const;
  uint64_t events_checked() const { return checked_; }

 private:
  std::unordered_map<std::string, Hash256> heads_;
  uint64_t checked_ = 0;
};

}  // namespace remit
