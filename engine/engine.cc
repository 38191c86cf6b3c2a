#include "engine/engine.h"

#include "events/overloaded.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace remit::engine {
namespace {

Decision Rejected(Reject r, std::string detail) {
  return Decision{Rejection{r, std::move(detail)}, Outcome::kUnchanged, std::nullopt};
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
  return Decision{std::move(events), outcome, std::nullopt};
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

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return {};
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

std::string LastDigits(const std::string& s, size_t n) {
  std::string d;
  for (char c : s) {
    if (c >= '0' && c <= '9') d.push_back(c);
  }
  return d.size() <= n ? d : d.substr(d.size() - n);
}

// Failures of a username within the identity window that ends at `now`.
int CountSince(const std::vector<int64_t>& times, int64_t since) {
  return static_cast<int>(std::count_if(times.begin(), times.end(), [&](int64_t t) { return t > since; }));
}

int RecentIdentityFailures(const PracticeState& s, const std::string& username, int64_t now) {
  auto it = s.identity_failures.find(username);
  return it == s.identity_failures.end() ? 0 : CountSince(it->second, now - kIdentityWindowUs);
}

// Wrong codes of a user, across challenges, within the code window that ends at `now`.
int RecentCodeFailures(const PortalUser& u, int64_t now) { return CountSince(u.code_failures, now - kCodeWindowUs); }

bool PaymentCountsAsPending(const PaymentState& p) {
  return p.status == PaymentStatus::kSubmitted ||
         (p.status == PaymentStatus::kSucceeded && !p.posted);
}

}  // namespace

bool IdentityMatches(const PatientUpserted& p, const std::string& method, const std::string& value) {
  if (method == "phone") {
    std::string want = LastDigits(p.phone, 10), got = LastDigits(value, 10);
    return want.size() == 10 && got == want;
  }
  if (method == "email") {
    std::string want = Lower(Trim(p.email));
    return !want.empty() && Lower(Trim(value)) == want;
  }
  if (method == "initials") {
    if (p.first_name.empty() || p.last_name.empty()) return false;
    std::string want = Lower(std::string{p.first_name[0], p.last_name[0]});
    return Lower(Trim(value)) == want;
  }
  return false;
}

std::string GuarantorOf(const PracticeState& s, const std::string& patient_id) {
  auto it = s.patients.find(patient_id);
  if (it == s.patients.end()) return {};
  return it->second.record.guarantor_id.empty() ? patient_id : it->second.record.guarantor_id;
}

std::vector<std::string> ViewMembers(const PracticeState& s, const std::string& patient_id) {
  auto it = s.patients.find(patient_id);
  if (it == s.patients.end()) return {};
  std::vector<std::string> members = {patient_id};
  if (!it->second.record.guarantor_id.empty()) return members;
  for (const auto& [id, p] : s.patients) {
    if (p.record.guarantor_id == patient_id) members.push_back(id);
  }
  return members;
}

Cents PatientBalance(const PracticeState& s, const std::string& patient_id) {
  Cents b = 0;
  for (const auto& [id, c] : s.charges) {
    if (c.patient_id == patient_id) b = AddCents(b, c.open_cents);
  }
  auto credit = s.credits.find(patient_id);
  if (credit != s.credits.end()) b = SubCents(b, credit->second);
  return b;
}

Cents AmountDue(const PracticeState& s, const std::string& patient_id) {
  auto members = ViewMembers(s, patient_id);
  Cents due = 0;
  for (const auto& m : members) due = AddCents(due, PatientBalance(s, m));
  for (const auto& [id, p] : s.payments) {
    if (!PaymentCountsAsPending(p)) continue;
    if (std::find(members.begin(), members.end(), p.submitted.patient_id) != members.end()) {
      due = SubCents(due, p.submitted.amount_cents);
    }
  }
  return std::max<Cents>(0, due);
}

PaymentPosted Allocate(const PracticeState& s, const PaymentState& payment) {
  const PaymentSubmitted& p = payment.submitted;
  auto members = ViewMembers(s, p.patient_id);
  std::vector<std::pair<std::pair<std::string, std::string>, const ChargeState*>> open;
  for (const auto& [id, c] : s.charges) {
    if (c.open_cents <= 0) continue;
    if (std::find(members.begin(), members.end(), c.patient_id) == members.end()) continue;
    open.push_back({{c.service_date, id}, &c});
  }
  std::sort(open.begin(), open.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  PaymentPosted out;
  out.payment_id = p.payment_id;
  out.guarantor_id = p.guarantor_id;
  Cents left = p.amount_cents;
  for (const auto& [key, c] : open) {
    if (left == 0) break;
    Cents take = std::min(left, c->open_cents);
    out.allocations.push_back({key.second, c->patient_id, take});
    left -= take;
  }
  out.unapplied_cents = left;
  Cents total = out.unapplied_cents;
  for (const auto& a : out.allocations) total = AddCents(total, a.amount_cents);
  if (total != p.amount_cents || left < 0) Broken("posting does not balance");
  return out;
}

std::string NotificationIdFor(const std::string& payment_id) { return "ntf_" + payment_id; }

namespace {

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
    case Reject::kInvalidInvite: return "invalid_invite";
    case Reject::kUsernameTaken: return "username_taken";
    case Reject::kIdentityNotVerified: return "identity_not_verified";
    case Reject::kLockedOut: return "locked_out";
    case Reject::kInvalidCredentials: return "invalid_credentials";
    case Reject::kInvalidCode: return "invalid_code";
    case Reject::kSessionNotFound: return "unauthorized";
    case Reject::kPaymentsDisabled: return "payments_disabled";
    case Reject::kAmountExceedsBalance: return "amount_exceeds_balance";
    case Reject::kInvalidAmount: return "invalid_amount";
    case Reject::kCardNotFound: return "card_not_found";
    case Reject::kPaymentNotFound: return "not_found";
    case Reject::kNotPostable: return "not_postable";
    case Reject::kNotificationNotFound: return "not_found";
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
              return Decision{std::vector<Event>{}, Outcome::kUnchanged, std::nullopt};
            }
            return Emit(ctx, {next}, Outcome::kUpdated);
          },
          [&](const IssueToken& c) -> Decision {
            if (s.tokens.contains(c.token_id)) Broken("token id reused");
            return Emit(ctx, {StaffTokenIssued{c.token_id, c.role, c.label, c.token_sha256, c.expires_at_us}});
          },
          [&](const RevokeToken& c) -> Decision {
            auto it = s.tokens.find(c.token_id);
            if (it == s.tokens.end()) {
              return Rejected(Reject::kTokenNotFound, "no token " + c.token_id);
            }
            if (it->second.revoked) return Decision{std::vector<Event>{}, Outcome::kUnchanged, std::nullopt};
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
              return Decision{std::vector<Event>{}, Outcome::kUnchanged, std::nullopt};
            }
            return Emit(ctx, {p}, Outcome::kUpdated);
          },
          [&](const PostCharge& c) -> Decision {
            const ChargePosted& ch = c.charge;
            auto existing = s.charges.find(ch.charge_id);
            if (existing != s.charges.end()) {
              if (existing->second.fingerprint == ChargeFingerprint(ch)) {
                return Decision{std::vector<Event>{}, Outcome::kUnchanged, std::nullopt};
              }
              return Rejected(Reject::kChargeConflict,
                              "charge " + ch.charge_id + " exists with another body");
            }
            if (!s.patients.contains(ch.patient_id)) {
              return Rejected(Reject::kPatientNotFound, "no patient " + ch.patient_id);
            }
            if (!IsValidAmount(ch.amount_cents)) {
              return Rejected(Reject::kInvalidAmount, "amount_cents must be 1 to " +
                                                          std::to_string(kAmountCentsMax));
            }
            return Emit(ctx, {ch});
          },
          [&](const IssueInvite& c) -> Decision {
            if (!s.patients.contains(c.patient_id)) {
              return Rejected(Reject::kPatientNotFound, "no patient " + c.patient_id);
            }
            // An invite for an enrolled patient is an account reset: recorded as one, and
            // its use ends every session of the patient (Enroll).
            return Emit(ctx, {PortalInviteIssued{c.patient_id, c.invite_id, c.expires_at_us,
                                                 s.usernames.contains(c.patient_id)}});
          },
          [&](const Enroll& c) -> Decision {
            auto inv = s.invites.find(c.invite_id);
            if (inv == s.invites.end() || inv->second.used ||
                inv->second.expires_at_us <= ctx.now_us) {
              return Rejected(Reject::kInvalidInvite, "the invite code is unknown, used or expired");
            }
            auto taken = s.users.find(c.username);
            if (taken != s.users.end() && taken->second.patient_id != inv->second.patient_id) {
              return Rejected(Reject::kUsernameTaken, "username " + c.username + " is taken");
            }
            if (c.secret_id.empty()) Broken("enrolment without its secrets");
            const std::string& patient = inv->second.patient_id;
            std::vector<Payload> events = {PortalEnrolled{patient, c.username, c.invite_id, c.secret_id}};
            // Whoever signed in before (the patient, or someone who held their account) is
            // signed out: the account's sign-in is new.
            for (const auto& [sid, session] : s.sessions) {
              if (session.patient_id == patient && !session.ended && session.expires_at_us > ctx.now_us) {
                events.push_back(SessionEnded{sid, "account_reset"});
              }
            }
            return Emit(ctx, std::move(events));
          },
          [&](const CheckIdentity& c) -> Decision {
            if (RecentIdentityFailures(s, c.username, ctx.now_us) >= kIdentityFailuresMax) {
              return Rejected(Reject::kLockedOut, "too many identity checks failed; try later");
            }
            auto user = s.users.find(c.username);
            const PatientState* patient = nullptr;
            if (user != s.users.end()) {
              auto p = s.patients.find(user->second.patient_id);
              if (p != s.patients.end()) patient = &p->second;
            }
            if (patient == nullptr || !IdentityMatches(patient->record, c.method, c.value)) {
              std::vector<Payload> events = {IdentityFailed{
                  c.username, c.method, patient == nullptr ? "unknown_username" : "mismatch"}};
              if (RecentIdentityFailures(s, c.username, ctx.now_us) + 1 >= kIdentityFailuresMax) {
                events.push_back(LockedOut{c.username, "identity", ctx.now_us + kIdentityWindowUs});
              }
              Decision d = Emit(ctx, std::move(events));
              d.outcome = Outcome::kUnchanged;
              d.failure = Rejection{Reject::kIdentityNotVerified, "we could not confirm who you are"};
              return d;
            }
            return Emit(ctx, {IdentityVerified{c.username, user->second.patient_id, c.method,
                                               c.identity_id,
                                               ctx.now_us + kIdentityTokenTtlUs}});
          },
          [&](const Login& c) -> Decision {
            auto grant = s.identity_grants.find(c.identity_id);
            if (grant == s.identity_grants.end() || grant->second.username != c.username ||
                grant->second.expires_at_us <= ctx.now_us) {
              return Rejected(Reject::kIdentityNotVerified, "confirm who you are first");
            }
            auto user = s.users.find(c.username);
            if (user == s.users.end()) {
              return Rejected(Reject::kIdentityNotVerified, "confirm who you are first");
            }
            const PortalUser& u = user->second;
            if (u.password_locked_until_us > ctx.now_us) {
              return Rejected(Reject::kLockedOut, "too many wrong passwords; try later");
            }
            if (!c.password_ok) {
              std::vector<Payload> events = {PasswordFailed{c.username, "wrong_password"}};
              int failures = (u.password_locked_until_us != 0 ? 0 : u.password_failures) + 1;
              if (failures >= kPasswordFailuresMax) {
                events.push_back(LockedOut{c.username, "password", ctx.now_us + kPasswordLockUs});
              }
              Decision d = Emit(ctx, std::move(events));
              d.outcome = Outcome::kUnchanged;
              d.failure = Rejection{Reject::kInvalidCredentials, "wrong username or password"};
              return d;
            }
            return Emit(ctx, {PasswordVerified{c.username, u.patient_id, c.challenge_id,
                                               ctx.now_us + kChallengeTtlUs}});
          },
          [&](const VerifyCode& c) -> Decision {
            auto ch = s.challenges.find(c.challenge_id);
            if (ch == s.challenges.end() || ch->second.spent ||
                ch->second.expires_at_us <= ctx.now_us ||
                ch->second.failures >= kCodeFailuresMax) {
              return Rejected(Reject::kInvalidCode, "this sign-in has expired; start again");
            }
            const Grant& g = ch->second;
            auto user = s.users.find(g.username);
            if (user == s.users.end() || user->second.patient_id != g.patient_id) {
              // The account was enrolled again since this sign-in began.
              return Rejected(Reject::kInvalidCode, "this sign-in has expired; start again");
            }
            const PortalUser& u = user->second;
            if (u.code_locked_until_us > ctx.now_us) {
              return Rejected(Reject::kLockedOut, "too many wrong codes; try later");
            }
            bool replay = c.matched_step && *c.matched_step <= u.last_totp_step;
            if (!c.matched_step || replay) {
              std::vector<Payload> events = {SecondFactorFailed{
                  g.username, replay ? "code_reused" : "wrong_code", c.challenge_id}};
              if (RecentCodeFailures(u, ctx.now_us) + 1 >= kCodeFailuresPerUserMax) {
                events.push_back(LockedOut{g.username, "code", ctx.now_us + kCodeLockUs});
              }
              Decision d = Emit(ctx, std::move(events));
              d.outcome = Outcome::kUnchanged;
              d.failure = Rejection{Reject::kInvalidCode, "wrong or already used code"};
              return d;
            }
            return Emit(ctx, {SecondFactorVerified{g.username, g.patient_id, *c.matched_step,
                                                   c.challenge_id},
                              SessionStarted{c.session_id, g.patient_id,
                                             ctx.now_us + kSessionTtlUs, g.username}});
          },
          [&](const Logout& c) -> Decision {
            auto it = s.sessions.find(c.session_id);
            if (it == s.sessions.end()) {
              return Rejected(Reject::kSessionNotFound, "no such session");
            }
            if (it->second.ended) return Decision{std::vector<Event>{}, Outcome::kUnchanged, std::nullopt};
            return Emit(ctx, {SessionEnded{c.session_id, c.reason}}, Outcome::kUpdated);
          },
          [&](const SubmitPayment& c) -> Decision {
            if (auto existing = s.payments.find(c.payment_id); existing != s.payments.end()) {
              // The same request again (its id comes from the idempotency key): nothing new.
              return Decision{std::vector<Event>{}, Outcome::kUnchanged, std::nullopt};
            }
            if (!s.portal_payments_enabled) {
              return Rejected(Reject::kPaymentsDisabled, "this practice does not take portal payments");
            }
            if (!s.patients.contains(c.patient_id)) {
              return Rejected(Reject::kPatientNotFound, "no patient " + c.patient_id);
            }
            if (!IsValidAmount(c.amount_cents)) {
              return Rejected(Reject::kInvalidAmount, "amount_cents must be 1 to " +
                                                          std::to_string(kAmountCentsMax));
            }
            PaymentSubmitted p{c.payment_id, c.patient_id, GuarantorOf(s, c.patient_id),
                               c.amount_cents, c.card_id, c.brand, c.last4, c.save_card,
                               c.processor_token, c.exp_month, c.exp_year};
            if (!c.card_id.empty()) {
              auto card = s.cards.find(c.card_id);
              if (card == s.cards.end() || card->second.removed ||
                  card->second.card.patient_id != c.patient_id) {
                return Rejected(Reject::kCardNotFound, "no saved card " + c.card_id);
              }
              const CardSaved& k = card->second.card;
              p.card_brand = k.brand;
              p.card_last4 = k.last4;
              p.processor_token = k.processor_token;
              p.exp_month = k.exp_month;
              p.exp_year = k.exp_year;
              p.save_card = false;
            }
            Cents due = AmountDue(s, c.patient_id);
            if (c.amount_cents > due) {
              return Rejected(Reject::kAmountExceedsBalance,
                              "the most you can pay now is " + std::to_string(due) + " cents");
            }
            return Emit(ctx, {p});
          },
          [&](const RecordPaymentOutcome& c) -> Decision {
            auto it = s.payments.find(c.payment_id);
            if (it == s.payments.end()) return Rejected(Reject::kPaymentNotFound, "no payment");
            if (it->second.status != PaymentStatus::kSubmitted) {
              return Decision{std::vector<Event>{}, Outcome::kUnchanged, std::nullopt};
            }
            if (!c.succeeded) return Emit(ctx, {PaymentDeclined{c.payment_id, c.decline_reason}});
            std::vector<Payload> events = {PaymentSucceeded{c.payment_id, c.processor_ref}};
            const PaymentSubmitted& p = it->second.submitted;
            if (p.save_card && p.card_id.empty() && !c.new_card_id.empty()) {
              events.push_back(CardSaved{c.new_card_id, p.patient_id, p.processor_token,
                                         p.card_brand, p.card_last4, p.exp_month, p.exp_year});
            }
            if (s.auto_post_to_ledger) {
              PaymentState succeeded = it->second;
              succeeded.status = PaymentStatus::kSucceeded;
              PaymentPosted posted = Allocate(s, succeeded);
              posted.posted_by = "auto";
              events.push_back(posted);
            }
            return Emit(ctx, std::move(events));
          },
          [&](const PostPayment& c) -> Decision {
            auto it = s.payments.find(c.payment_id);
            if (it == s.payments.end()) {
              return Rejected(Reject::kPaymentNotFound, "no payment " + c.payment_id);
            }
            if (it->second.status != PaymentStatus::kSucceeded) {
              return Rejected(Reject::kNotPostable, "only a succeeded payment can be posted");
            }
            if (it->second.posted) return Decision{std::vector<Event>{}, Outcome::kUnchanged, std::nullopt};
            PaymentPosted posted = Allocate(s, it->second);
            posted.posted_by = ctx.actor;
            return Emit(ctx, {posted}, Outcome::kUpdated);
          },
          [&](const RemoveCard& c) -> Decision {
            auto it = s.cards.find(c.card_id);
            if (it == s.cards.end() || it->second.removed ||
                it->second.card.patient_id != c.patient_id) {
              return Rejected(Reject::kCardNotFound, "no saved card " + c.card_id);
            }
            return Emit(ctx, {CardRemoved{c.card_id, c.patient_id}}, Outcome::kUpdated);
          },
          [&](const RecordAccess& c) -> Decision {
            return Emit(ctx, {RecordAccessed{c.resource, c.patient_id}});
          },
          [&](const MarkNotificationRead& c) -> Decision {
            auto it = s.notifications_read.find(c.notification_id);
            if (it == s.notifications_read.end()) {
              return Rejected(Reject::kNotificationNotFound, "no notification " + c.notification_id);
            }
            if (it->second) return Decision{std::vector<Event>{}, Outcome::kUnchanged, std::nullopt};
            return Emit(ctx, {InboxNotificationRead{c.notification_id, ctx.actor}}, Outcome::kUpdated);
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
                 [&](const StaffTokenIssued& p) { s->tokens[p.token_id] = {p.role, false, p.expires_at_us}; },
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
                   s->charges[p.charge_id] = {ChargeFingerprint(p), p.patient_id, p.service_date,
                                              p.amount_cents, p.amount_cents};
                 },
                 [&](const PortalInviteIssued& p) {
                   s->invites[p.invite_id] = {p.patient_id, p.expires_at_us, false, p.account_reset};
                   if (p.account_reset) s->notifications_read[AccountResetNotificationId(p.invite_id)] = false;
                 },
                 [&](const PortalEnrolled& p) {
                   s->invites[p.invite_id].used = true;
                   // Every other invite of the patient is void: an old link can no longer
                   // replace the sign-in just made.
                   for (auto& [id, inv] : s->invites) {
                     if (inv.patient_id == p.patient_id) inv.used = true;
                   }
                   // Sign-ins under way for the patient were begun against the old account.
                   std::erase_if(s->identity_grants,
                                 [&](const auto& kv) { return kv.second.patient_id == p.patient_id; });
                   std::erase_if(s->challenges,
                                 [&](const auto& kv) { return kv.second.patient_id == p.patient_id; });
                   auto old = s->usernames.find(p.patient_id);
                   if (old != s->usernames.end() && old->second != p.username) {
                     s->users.erase(old->second);
                   }
                   s->usernames[p.patient_id] = p.username;
                   s->users[p.username] = PortalUser{p.patient_id, p.secret_id.empty() ? p.invite_id : p.secret_id};
                 },
                 [&](const IdentityFailed& p) {
                   auto& times = s->identity_failures[p.username];
                   std::erase_if(times, [&](int64_t t) {
                     return t <= e.occurred_at_us - kIdentityWindowUs;
                   });
                   times.push_back(e.occurred_at_us);
                 },
                 [&](const IdentityVerified& p) {
                   std::erase_if(s->identity_grants, [&](const auto& kv) {
                     return kv.second.expires_at_us <= e.occurred_at_us;
                   });
                   s->identity_grants[p.identity_id] = {p.username, p.patient_id, p.expires_at_us};
                 },
                 [&](const PasswordFailed& p) {
                   auto& u = s->users[p.username];
                   if (u.password_locked_until_us != 0 &&
                       u.password_locked_until_us <= e.occurred_at_us) {
                     u.password_locked_until_us = 0;  // the lock ran out: count afresh
                     u.password_failures = 0;
                   }
                   u.password_failures++;
                 },
                 [&](const LockedOut& p) {
                   auto u = s->users.find(p.username);
                   if (u == s->users.end()) return;  // identity lockouts live in identity_failures
                   if (p.stage == "password") u->second.password_locked_until_us = p.until_us;
                   if (p.stage == "code") {
                     u->second.code_locked_until_us = p.until_us;
                     u->second.code_failures.clear();  // counted afresh once the lock ends
                   }
                 },
                 [&](const PasswordVerified& p) {
                   auto& u = s->users[p.username];
                   u.password_failures = 0;
                   u.password_locked_until_us = 0;
                   std::erase_if(s->challenges, [&](const auto& kv) {
                     return kv.second.expires_at_us <= e.occurred_at_us;
                   });
                   s->challenges[p.challenge_id] = {p.username, p.patient_id, p.expires_at_us};
                 },
                 [&](const SecondFactorFailed& p) {
                   auto it = s->challenges.find(p.challenge_id);
                   if (it != s->challenges.end()) it->second.failures++;
                   auto u = s->users.find(p.username);
                   if (u != s->users.end()) {
                     std::erase_if(u->second.code_failures,
                                   [&](int64_t t) { return t <= e.occurred_at_us - kCodeWindowUs; });
                     u->second.code_failures.push_back(e.occurred_at_us);
                   }
                 },
                 [&](const SecondFactorVerified& p) {
                   auto& u = s->users[p.username];
                   u.last_totp_step = std::max(u.last_totp_step, p.totp_step);
                   u.code_failures.clear();
                   auto it = s->challenges.find(p.challenge_id);
                   if (it != s->challenges.end()) it->second.spent = true;
                 },
                 [&](const SessionStarted& p) {
                   std::erase_if(s->sessions, [&](const auto& kv) {
                     return kv.second.expires_at_us <= e.occurred_at_us;
                   });
                   s->sessions[p.session_id] = {p.patient_id, p.expires_at_us, false};
                 },
                 [&](const SessionEnded& p) {
                   auto it = s->sessions.find(p.session_id);
                   if (it != s->sessions.end()) it->second.ended = true;
                 },
                 [&](const PaymentSubmitted& p) {
                   s->payments[p.payment_id] = PaymentState{p, PaymentStatus::kSubmitted, false,
                                                            e.command_key};
                 },
                 [&](const PaymentSucceeded& p) {
                   s->payments[p.payment_id].status = PaymentStatus::kSucceeded;
                   s->notifications_read[NotificationIdFor(p.payment_id)] = false;
                 },
                 [&](const PaymentDeclined& p) {
                   s->payments[p.payment_id].status = PaymentStatus::kDeclined;
                 },
                 [&](const CardSaved& p) { s->cards[p.card_id] = CardState{p, false}; },
                 [&](const CardRemoved& p) { s->cards[p.card_id].removed = true; },
                 [&](const PaymentPosted& p) {
                   auto& pay = s->payments[p.payment_id];
                   pay.posted = true;
                   for (const auto& a : p.allocations) {
                     auto& c = s->charges[a.charge_id];
                     c.open_cents = SubCents(c.open_cents, a.amount_cents);
                     if (c.open_cents < 0) Broken("a charge was allocated more than it owed");
                   }
                   if (p.unapplied_cents > 0) {
                     Cents& credit = s->credits[p.guarantor_id];
                     credit = AddCents(credit, p.unapplied_cents);
                   }
                 },
                 [&](const InboxNotificationRead& p) { s->notifications_read[p.notification_id] = true; },
                 [&](const auto&) {},
             },
             e.payload);
  s->head_hash = e.hash;
  s->events++;
  s->last_occurred_at_us = std::max(s->last_occurred_at_us, e.occurred_at_us);
}

}  // namespace remit::engine
