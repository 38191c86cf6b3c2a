// Evolve: folds a durable event into the decision state. Failures recorded by Decide become
// counts and locks here; expired grants, challenges and sessions leave the state as new ones
// come in.
#include "engine/state.h"

#include <algorithm>

#include "events/check.h"
#include "events/overloaded.h"

namespace remit::engine {

void Evolve(PracticeState* s, const Event& e) {
  std::visit(
      Overloaded{
          [&](const PracticeRegistered& p) {
            s->registered = true;
            s->name = p.name;
            s->currency = p.currency;
          },
          [&](const SettingsChanged& p) {
            s->portal_payments_enabled = p.portal_payments_enabled;
            s->auto_post_to_ledger = p.auto_post_to_ledger;
          },
          [&](const StaffTokenIssued& p) {
            s->tokens[p.token_id] = {p.role, false, p.expires_at_us};
          },
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
            if (p.account_reset)
              s->notifications_read[AccountResetNotificationId(p.invite_id)] = false;
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
            s->users[p.username] =
                PortalUser{p.patient_id, p.secret_id.empty() ? p.invite_id : p.secret_id};
          },
          [&](const IdentityFailed& p) {
            auto& times = s->identity_failures[p.username];
            std::erase_if(times,
                          [&](int64_t t) { return t <= e.occurred_at_us - kIdentityWindowUs; });
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
            if (u.password_locked_until_us != 0 && u.password_locked_until_us <= e.occurred_at_us) {
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
            s->payments[p.payment_id] =
                PaymentState{p, PaymentStatus::kSubmitted, false, e.command_key};
          },
          [&](const PaymentSucceeded& p) {
            s->payments[p.payment_id].status = PaymentStatus::kSucceeded;
            s->notifications_read[NotificationIdFor(p.payment_id)] = false;
          },
          [&](const PaymentDeclined& p) {
            s->payments[p.payment_id].status = PaymentStatus::kDeclined;
          },
          [&](const CardSaved& p) {
            s->cards[p.card_id] = CardState{p, false};
          },
          [&](const CardRemoved& p) { s->cards[p.card_id].removed = true; },
          [&](const PaymentPosted& p) {
            auto& pay = s->payments[p.payment_id];
            pay.posted = true;
            for (const auto& a : p.allocations) {
              auto& c = s->charges[a.charge_id];
              c.open_cents = SubCents(c.open_cents, a.amount_cents);
              REMIT_CHECK(c.open_cents >= 0, "a charge was allocated more than it owed");
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
