// Commands of the practice's staff: registration, settings, tokens, patients, charges,
// invites, the inbox, and the access log.
#include "engine/decide.h"

#include "events/check.h"

namespace remit::engine {
namespace {

bool SamePatient(const PatientUpserted& a, const PatientUpserted& b) {
  return a.first_name == b.first_name && a.last_name == b.last_name && a.phone == b.phone &&
         a.email == b.email && a.date_of_birth == b.date_of_birth &&
         a.guarantor_id == b.guarantor_id;
}

}  // namespace

Decision DecideCommand(const PracticeState& s, const RegisterPractice& c,
                       const CommandContext& ctx) {
  if (s.registered) {
    return Rejected(Reject::kPracticeExists, "practice " + ctx.practice_id + " exists");
  }
  return Emit(ctx, {PracticeRegistered{c.name, c.currency}});
}

Decision DecideCommand(const PracticeState& s, const ChangeSettings& c, const CommandContext& ctx) {
  SettingsChanged next{c.portal_payments_enabled.value_or(s.portal_payments_enabled),
                       c.auto_post_to_ledger.value_or(s.auto_post_to_ledger)};
  if (next.portal_payments_enabled == s.portal_payments_enabled &&
      next.auto_post_to_ledger == s.auto_post_to_ledger) {
    return Unchanged();
  }
  return Emit(ctx, {next}, Outcome::kUpdated);
}

Decision DecideCommand(const PracticeState& s, const IssueToken& c, const CommandContext& ctx) {
  REMIT_CHECK(!s.tokens.contains(c.token_id), "token id reused");
  return Emit(ctx,
              {StaffTokenIssued{c.token_id, c.role, c.label, c.token_sha256, c.expires_at_us}});
}

Decision DecideCommand(const PracticeState& s, const RevokeToken& c, const CommandContext& ctx) {
  auto it = s.tokens.find(c.token_id);
  if (it == s.tokens.end()) {
    return Rejected(Reject::kTokenNotFound, "no token " + c.token_id);
  }
  if (it->second.revoked) return Unchanged();
  return Emit(ctx, {StaffTokenRevoked{c.token_id}}, Outcome::kUpdated);
}

Decision DecideCommand(const PracticeState& s, const UpsertPatient& c, const CommandContext& ctx) {
  const PatientUpserted& p = c.patient;
  auto existing = s.patients.find(p.patient_id);
  if (!p.guarantor_id.empty()) {
    auto g = s.patients.find(p.guarantor_id);
    if (p.guarantor_id == p.patient_id) {
      return Rejected(Reject::kInvalidGuarantor, "a patient cannot guarantee themselves");
    }
    if (g == s.patients.end()) {
      return Rejected(Reject::kInvalidGuarantor,
                      "guarantor " + p.guarantor_id + " is not a patient");
    }
    if (!g->second.record.guarantor_id.empty()) {
      return Rejected(Reject::kInvalidGuarantor, "guarantor " + p.guarantor_id + " is a dependent");
    }
    if (existing != s.patients.end() && existing->second.dependents > 0) {
      return Rejected(
          Reject::kInvalidGuarantor,
          "patient " + p.patient_id + " is a guarantor of others and cannot become a dependent");
    }
  }
  if (existing == s.patients.end()) return Emit(ctx, {p}, Outcome::kCreated);
  if (SamePatient(existing->second.record, p)) {
    return Unchanged();
  }
  return Emit(ctx, {p}, Outcome::kUpdated);
}

Decision DecideCommand(const PracticeState& s, const PostCharge& c, const CommandContext& ctx) {
  const ChargePosted& ch = c.charge;
  auto existing = s.charges.find(ch.charge_id);
  if (existing != s.charges.end()) {
    if (existing->second.fingerprint == ChargeFingerprint(ch)) {
      return Unchanged();
    }
    return Rejected(Reject::kChargeConflict,
                    "charge " + ch.charge_id + " exists with another body");
  }
  if (!s.patients.contains(ch.patient_id)) {
    return Rejected(Reject::kPatientNotFound, "no patient " + ch.patient_id);
  }
  if (!IsValidAmount(ch.amount_cents)) {
    return Rejected(Reject::kInvalidAmount,
                    "amount_cents must be 1 to " + std::to_string(kAmountCentsMax));
  }
  return Emit(ctx, {ch});
}

Decision DecideCommand(const PracticeState& s, const IssueInvite& c, const CommandContext& ctx) {
  if (!s.patients.contains(c.patient_id)) {
    return Rejected(Reject::kPatientNotFound, "no patient " + c.patient_id);
  }
  // An invite for an enrolled patient is an account reset: recorded as one, and
  // its use ends every session of the patient (Enroll).
  return Emit(ctx, {PortalInviteIssued{c.patient_id, c.invite_id, c.expires_at_us,
                                       s.usernames.contains(c.patient_id)}});
}

Decision DecideCommand(const PracticeState& s, const MarkNotificationRead& c,
                       const CommandContext& ctx) {
  auto it = s.notifications_read.find(c.notification_id);
  if (it == s.notifications_read.end()) {
    return Rejected(Reject::kNotificationNotFound, "no notification " + c.notification_id);
  }
  if (it->second) return Unchanged();
  return Emit(ctx, {InboxNotificationRead{c.notification_id, ctx.actor}}, Outcome::kUpdated);
}

Decision DecideCommand(const PracticeState& s, const RecordAccess& c, const CommandContext& ctx) {
  return Emit(ctx, {RecordAccessed{c.resource, c.patient_id}});
}

}  // namespace remit::engine
