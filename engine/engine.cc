#include "engine/engine.h"

#include "engine/decide.h"

namespace remit::engine {

Decision Rejected(Reject r, std::string detail) {
  return Decision{Rejection{r, std::move(detail)}, Outcome::kUnchanged, std::nullopt};
}

Decision Emit(const CommandContext& ctx, std::vector<Payload> payloads, Outcome outcome) {
  std::vector<Event> events;
  events.reserve(payloads.size());
  uint32_t index = 0;
  for (auto& p : payloads) {
    Event e;
    e.event_id = DeriveEventId(ctx.practice_id, ctx.command_key, index++);
    e.practice_id = ctx.practice_id;
    e.occurred_at_us = ctx.now_us;
    e.command_key = ctx.command_key;
    e.request_sha256 = ctx.request_sha256;
    e.actor = ctx.actor;
    e.payload = std::move(p);
    events.push_back(std::move(e));
  }
  return Decision{std::move(events), outcome, std::nullopt};
}

Decision Unchanged() { return Decision{std::vector<Event>{}, Outcome::kUnchanged, std::nullopt}; }

std::string_view RejectCode(Reject r) {
  switch (r) {
    case Reject::kPracticeExists:
      return "practice_exists";
    case Reject::kPracticeNotFound:
      return "not_found";
    case Reject::kInvalidGuarantor:
      return "invalid_guarantor";
    case Reject::kPatientNotFound:
      return "patient_not_found";
    case Reject::kChargeConflict:
      return "charge_conflict";
    case Reject::kTokenNotFound:
      return "not_found";
    case Reject::kValidationFailed:
      return "validation_failed";
    case Reject::kInvalidInvite:
      return "invalid_invite";
    case Reject::kUsernameTaken:
      return "username_taken";
    case Reject::kIdentityNotVerified:
      return "identity_not_verified";
    case Reject::kLockedOut:
      return "locked_out";
    case Reject::kInvalidCredentials:
      return "invalid_credentials";
    case Reject::kInvalidCode:
      return "invalid_code";
    case Reject::kSessionNotFound:
      return "unauthorized";
    case Reject::kPaymentsDisabled:
      return "payments_disabled";
    case Reject::kAmountExceedsBalance:
      return "amount_exceeds_balance";
    case Reject::kInvalidAmount:
      return "invalid_amount";
    case Reject::kCardNotFound:
      return "card_not_found";
    case Reject::kPaymentNotFound:
      return "not_found";
    case Reject::kNotPostable:
      return "not_postable";
    case Reject::kNotificationNotFound:
      return "not_found";
  }
  return "internal";
}

Hash256 ChargeFingerprint(const ChargePosted& c) {
  std::string m = c.charge_id + '\0' + c.patient_id + '\0' + std::to_string(c.amount_cents) + '\0' +
                  c.description + '\0' + c.service_date;
  return Sha256(m);
}

Decision Decide(const PracticeState& s, const Command& cmd, const CommandContext& ctx) {
  if (!std::holds_alternative<RegisterPractice>(cmd) && !s.registered) {
    return Rejected(Reject::kPracticeNotFound, "no practice " + ctx.practice_id);
  }
  return std::visit([&](const auto& c) { return DecideCommand(s, c, ctx); }, cmd);
}

}  // namespace remit::engine
