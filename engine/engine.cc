#include "engine/engine.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace remit::engine {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

Decision Rejected(Reject r, std::string detail) {
  return Decision{Rejection{r, std::move(detail)}, Outcome::kUnchanged};
}

// Builds the decision's events with ids derived from the command key and their index.
Decision Emit(const CommandContext& ctx, std::vector<Payload> payloads,
              Outcome outcome = Outcome::kCreated) {
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
  return Decision{std::move(events), outcome};
}

bool SamePatient(const PatientUpserted& a, const PatientUpserted& b) {
  return a.first_name == b.first_name && a.last_name == b.last_name && a.phone == b.phone &&
         a.email == b.email && a.date_of_birth == b.date_of_birth &&
         a.guarantor_id == b.guarantor_id;
}

[[noreturn]] void Broken(const char* what) {
  std::fprintf(stderr, "remit: broken invariant in engine: %s\n", what);
  std::abort();
}

}  // namespace

std::string_view RejectCode(Reject r) {
  switch (r) {
    case Reject::kPracticeExists: return "practice_exists";
    case Reject::kPracticeNotFound: return "not_found";
    case Reject::kInvalidGuarantor: return "invalid_guarantor";
    case Reject::kPatientNotFound: return "patient_not_found";
    case Reject::kChargeConflict: return "charge_conflict";
    case Reject::kTokenNotFound: return "not_found";
    case Reject::kValidationFailed: return "validation_failed";
  }
  return "internal";
}

Hash256 ChargeFingerprint(const ChargePosted& c) {
  std::string m = c.charge_id + '\0' + c.patient_id + '\0' + std::to_string(c.amount_cents) +
                  '\0' + c.description + '\0' + c.service_date;
  return Sha256(m);
}

Decision Decide(const PracticeState& s, const Command& cmd, const CommandContext& ctx) {
  if (!std::holds_alternative<RegisterPractice>(cmd) && !s.registered) {
    return Rejected(Reject::kPracticeNotFound, "no practice " + ctx.practice_id);
  }
  return std::visit(
      Overloaded{
          [&](const RegisterPractice& c) -> Decision {
            if (s.registered) {
              return Rejected(Reject::kPracticeExists, "practice " + ctx.practice_id + " exists");
            }
            return Emit(ctx, {PracticeRegistered{c.name, c.currency}});
          },
          [&](const ChangeSettings& c) -> Decision {
            SettingsChanged next{c.portal_payments_enabled.value_or(s.portal_payments_enabled),
                                 c.auto_post_to_ledger.value_or(s.auto_post_to_ledger)};
            if (next.portal_payments_enabled == s.portal_payments_enabled &&
                next.auto_post_to_ledger == s.auto_post_to_ledger) {
              return Decision{std::vector<Event>{}, Outcome::kUnchanged};
            }
            return Emit(ctx, {next}, Outcome::kUpdated);
          },
          [&](const IssueToken& c) -> Decision {
            if (s.tokens.contains(c.token_id)) Broken("token id reused");
            return Emit(ctx, {StaffTokenIssued{c.token_id, c.role, c.label, c.token_sha256}});
          },
          [&](const RevokeToken& c) -> Decision {
            auto it = s.tokens.find(c.token_id);
            if (it == s.tokens.end()) {
              return Rejected(Reject::kTokenNotFound, "no token " + c.token_id);
            }
            if (it->second.revoked) return Decision{std::vector<Event>{}, Outcome::kUnchanged};
            return Emit(ctx, {StaffTokenRevoked{c.token_id}}, Outcome::kUpdated);
          },
          [&](const UpsertPatient& c) -> Decision {
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
                return Rejected(Reject::kInvalidGuarantor,
                                "guarantor " + p.guarantor_id + " is a dependent");
              }
              if (existing != s.patients.end() && existing->second.dependents > 0) {
                return Rejected(Reject::kInvalidGuarantor,
                                "patient " + p.patient_id +
                                    " is a guarantor of others and cannot become a dependent");
              }
            }
            if (existing == s.patients.end()) return Emit(ctx, {p}, Outcome::kCreated);
            if (SamePatient(existing->second.record, p)) {
              return Decision{std::vector<Event>{}, Outcome::kUnchanged};
            }
            return Emit(ctx, {p}, Outcome::kUpdated);
          },
          [&](const PostCharge& c) -> Decision {
            const ChargePosted& ch = c.charge;
            auto existing = s.charges.find(ch.charge_id);
            if (existing != s.charges.end()) {
              if (existing->second.fingerprint == ChargeFingerprint(ch)) {
                return Decision{std::vector<Event>{}, Outcome::kUnchanged};
              }
              return Rejected(Reject::kChargeConflict,
                              "charge " + ch.charge_id + " exists with another body");
            }
            if (!s.patients.contains(ch.patient_id)) {
              return Rejected(Reject::kPatientNotFound, "no patient " + ch.patient_id);
            }
            if (ch.amount_cents <= 0) Broken("non-positive charge reached the engine");
            return Emit(ctx, {ch});
          },
          [&](const IssueInvite& c) -> Decision {
            if (!s.patients.contains(c.patient_id)) {
              return Rejected(Reject::kPatientNotFound, "no patient " + c.patient_id);
            }
            return Emit(ctx, {PortalInviteIssued{c.patient_id, c.invite_id, c.expires_at_us}});
          },
      },
      cmd);
}

void Evolve(PracticeState* s, const Event& e) {
  std::visit(Overloaded{
                 [&](const PracticeRegistered& p) {
                   s->registered = true;
                   s->name = p.name;
                   s->currency = p.currency;
                 },
                 [&](const SettingsChanged& p) {
                   s->portal_payments_enabled = p.portal_payments_enabled;
                   s->auto_post_to_ledger = p.auto_post_to_ledger;
                 },
                 [&](const StaffTokenIssued& p) { s->tokens[p.token_id] = {p.role, false}; },
                 [&](const StaffTokenRevoked& p) { s->tokens[p.token_id].revoked = true; },
                 [&](const PatientUpserted& p) {
                   auto& slot = s->patients[p.patient_id];
                   if (!slot.record.guarantor_id.empty()) {
                     s->patients[slot.record.guarantor_id].dependents--;
                   }
                   slot.record = p;
                   if (!p.guarantor_id.empty()) s->patients[p.guarantor_id].dependents++;
                 },
                 [&](const ChargePosted& p) {
                   s->charges[p.charge_id] = {ChargeFingerprint(p)};
                 },
                 [&](const auto&) {},
             },
             e.payload);
  s->head_hash = e.hash;
  s->events++;
  s->last_occurred_at_us = std::max(s->last_occurred_at_us, e.occurred_at_us);
}

}  // namespace remit::engine
