#include "adapters/app/portal.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "adapters/app/queries.h"
#include "projections/projections.h"

namespace remit {
namespace {

using engine::Reject;
using engine::Rejection;
using nlohmann::json;

std::string TokenId(std::string_view token) { return Hex(Sha256(token)); }

template <typename T>
Outcome<T> Rejected(const Rejection& r) {
  return std::variant<Rejection, T>(r);
}
template <typename T>
Outcome<T> Done(T value) {
  return std::variant<Rejection, T>(std::move(value));
}

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

std::string NormalizeUsername(const std::string& username) {
  std::string u = username;
  for (auto& c : u) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return u;
}

bool IsValidUsername(const std::string& u) {
  if (u.size() < 3 || u.size() > 64) return false;
  for (char c : u) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
          c == '@' || c == '+')) {
      return false;
    }
  }
  return true;
}

std::string Portal::SecretName(const char* kind, const std::string& practice,
                               const std::string& patient, const std::string& secret_id) {
  return std::string(kind) + "/" + practice + "/" + patient + "/" + secret_id;
}

Outcome<Portal::Enrolment> Portal::Enroll(const std::string& practice, const std::string& code,
                                          const std::string& username_in,
                                          const std::string& password) {
  std::string username = NormalizeUsername(username_in);
  std::string invite_id = Hex(Sha256(code)).substr(0, 32);
  std::string patient_id, practice_name;
  int64_t now = now_us_();
  bool found = app_->Inspect(practice, [&](const engine::PracticeState& s) {
    practice_name = s.name;
    auto inv = s.invites.find(invite_id);
    if (inv != s.invites.end() && !inv->second.used && inv->second.expires_at_us > now) {
      patient_id = inv->second.patient_id;
    }
  });
  if (!found || patient_id.empty()) {
    return Rejected<Enrolment>(
        {Reject::kInvalidInvite, "the invite code is unknown, used or expired"});
  }
  // Secrets are written first, under a name of this attempt's own: if the engine then refuses
  // the enrolment (the invite was used meanwhile, the username is taken), they are never
  // referenced and the account as it was is untouched.
  std::string secret_id = RandomHex(16);
  auto hashed = hashing_.Run([&] { return HashPassword(password); });
  if (!hashed.ok()) return hashed.status();
  auto hash = std::move(hashed.value());
  if (!hash.ok()) return hash.status();
  std::string totp = NewTotpSecret();
  Status s = secrets_->Put(SecretName("pw", practice, patient_id, secret_id), hash.value());
  if (s.ok()) s = secrets_->Put(SecretName("totp", practice, patient_id, secret_id), totp);
  if (!s.ok()) return s;
  engine::CommandContext ctx{practice, "enroll:" + invite_id, Sha256(invite_id + username),
                             "patient:" + patient_id, now_us_()};
  auto r = app_->Execute(ctx, engine::Enroll{invite_id, username, secret_id});
  if (!r.ok()) return r.status();
  if (r->rejection) return Rejected<Enrolment>(*r->rejection);
  std::string secret32 = Base32(totp);
  std::string issuer = practice_name.empty() ? "remit" : practice_name;
  std::string uri = "otpauth://totp/" + UrlEncode(issuer) + ":" + UrlEncode(username) +
                    "?secret=" + secret32 + "&issuer=" + UrlEncode(issuer) +
                    "&algorithm=SHA1&digits=6&period=30";
  return Done(Enrolment{secret32, uri});
}

Outcome<std::string> Portal::CheckIdentity(const std::string& practice, const std::string& username,
                                           const std::string& method, const std::string& value) {
  std::string token = RandomHex(32);
  engine::CommandContext ctx{practice, "identity:" + RandomHex(16), {}, "portal", now_us_()};
  auto r = app_->Execute(
      ctx, engine::CheckIdentity{NormalizeUsername(username), method, value, TokenId(token)});
  if (!r.ok()) return r.status();
  if (r->rejection) return Rejected<std::string>(*r->rejection);
  return Done(token);
}

Outcome<std::string> Portal::Login(const std::string& practice, const std::string& identity_token,
                                   const std::string& username_in, const std::string& password) {
  std::string username = NormalizeUsername(username_in);
  std::string patient_id, secret_id;
  bool locked = false, identified = false;
  int64_t now = now_us_();
  app_->Inspect(practice, [&](const engine::PracticeState& s) {
    // The identity token first: without one for this username, no password is looked at (the
    // engine gives the answer), so an anonymous caller costs no hash and learns nothing.
    auto grant = s.identity_grants.find(TokenId(identity_token));
    identified = grant != s.identity_grants.end() && grant->second.username == username &&
                 grant->second.expires_at_us > now;
    auto u = s.users.find(username);
    if (u == s.users.end()) return;
    patient_id = u->second.patient_id;
    secret_id = u->second.secret_id;
    locked = u->second.password_locked_until_us > now;
  });
  // The slow hash is checked outside the practice's lock, a bounded number at a time; a
  // locked username is not checked.
  bool ok = false;
  if (identified && !patient_id.empty() && !locked) {
    auto hash = secrets_->Get(SecretName("pw", practice, patient_id, secret_id));
    if (!hash.ok() && !hash.status().IsNotFound()) return hash.status();
    auto verified =
        hashing_.Run([&] { return hash.ok() && VerifyPassword(hash.value(), password); });
    if (!verified.ok()) return verified.status();
    ok = *verified;
  }
  std::string challenge = RandomHex(32);
  engine::CommandContext ctx{practice, "login:" + RandomHex(16), {}, "portal", now_us_()};
  auto r =
      app_->Execute(ctx, engine::Login{TokenId(identity_token), username, ok, TokenId(challenge)});
  if (!r.ok()) return r.status();
  if (r->rejection) return Rejected<std::string>(*r->rejection);
  return Done(challenge);
}

Outcome<Portal::NewSession> Portal::VerifyCode(const std::string& practice,
                                               const std::string& challenge_token,
                                               const std::string& code) {
  std::string challenge_id = TokenId(challenge_token);
  std::string patient_id, secret_id;
  app_->Inspect(practice, [&](const engine::PracticeState& s) {
    auto ch = s.challenges.find(challenge_id);
    if (ch == s.challenges.end()) return;
    auto u = s.users.find(ch->second.username);
    if (u == s.users.end()) return;
    patient_id = u->second.patient_id;
    secret_id = u->second.secret_id;
  });
  std::optional<int64_t> step;
  if (!patient_id.empty()) {
    auto secret = secrets_->Get(SecretName("totp", practice, patient_id, secret_id));
    if (!secret.ok() && !secret.status().IsNotFound()) return secret.status();
    if (secret.ok()) step = MatchTotp(secret.value(), code, now_us_() / 1000000);
  }
  std::string session = RandomHex(32);
  engine::CommandContext ctx{practice, "verify:" + RandomHex(16), {}, "portal", now_us_()};
  auto r = app_->Execute(ctx, engine::VerifyCode{challenge_id, step, TokenId(session)});
  if (!r.ok()) return r.status();
  if (r->rejection) return Rejected<NewSession>(*r->rejection);
  int64_t expires = 0;
  app_->Inspect(practice, [&](const engine::PracticeState& s) {
    auto it = s.sessions.find(TokenId(session));
    if (it != s.sessions.end()) expires = it->second.expires_at_us;
  });
  {
    MutexLock l(&seen_mu_);
    last_seen_us_[TokenId(session)] = Seen{now_us_(), 0};
  }
  return Done(NewSession{session, expires});
}

Status Portal::Logout(const PatientSession& who) {
  engine::CommandContext ctx{
      who.practice_id, "logout:" + who.session_id, {}, "patient:" + who.patient_id, now_us_()};
  auto r = app_->Execute(ctx, engine::Logout{who.session_id, "logout"});
  if (!r.ok()) return r.status();
  MutexLock l(&seen_mu_);
  last_seen_us_.erase(who.session_id);
  return Status::OK();
}

std::optional<PatientSession> Portal::Authenticate(std::string_view bearer) {
  if (bearer.empty()) return std::nullopt;
  std::string sid = TokenId(bearer);
  auto session = SessionRecord(LiveReader(app_->views()), sid);
  if (!session) return std::nullopt;
  const json& j = *session;
  if (j.value("ended", true)) return std::nullopt;
  int64_t now = now_us_();
  if (now >= j.value("expires_at_us", int64_t{0})) return std::nullopt;
  // Idle time: the last request, kept in memory and, once a minute, in the activity store, so
  // a restart loses at most a minute of it (and errs towards ending the session early).
  std::string key = "activity/" + sid;
  bool known = false;
  {
    MutexLock l(&seen_mu_);
    known = last_seen_us_.contains(sid);
  }
  int64_t kept = 0;
  if (!known && activity_ != nullptr) {
    auto v = activity_->Get(key);
    if (v.ok() && v->has_value()) kept = std::strtoll((*v)->c_str(), nullptr, 10);
  }
  bool persist = false;
  {
    MutexLock l(&seen_mu_);
    int64_t started = j.value("started_at_us", int64_t{0});
    auto [it, inserted] = last_seen_us_.try_emplace(sid, Seen{std::max(started, kept), kept});
    if (now - it->second.last_us > engine::kSessionIdleUs) {
      last_seen_us_.erase(it);
      return std::nullopt;
    }
    it->second.last_us = now;
    if (activity_ != nullptr && now - it->second.kept_us >= kActivityWriteEveryUs) {
      it->second.kept_us = now;
      persist = true;
    }
  }
  if (persist) activity_->Put(key, std::to_string(now)).IgnoreError();
  return PatientSession{j.value("practice_id", ""), j.value("patient_id", ""), sid};
}

Outcome<PaymentResult> Portal::Pay(const PatientSession& who, const std::string& key,
                                   const PaymentRequest& req) {
  // The payment's id comes from the patient and the idempotency key: a retry of the same
  // request, even after a crash, finds the same payment.
  std::string payment_id =
      "pay_" + Hex(Sha256(who.practice_id + '\0' + who.patient_id + '\0' + key)).substr(0, 24);
  engine::SubmitPayment cmd;
  cmd.patient_id = who.patient_id;
  cmd.payment_id = payment_id;
  cmd.amount_cents = req.amount_cents;
  cmd.save_card = req.save_card;
  if (!req.card_id.empty()) {
    cmd.card_id = req.card_id;
  } else {
    std::string guarantor;
    app_->Inspect(who.practice_id, [&](const engine::PracticeState& s) {
      guarantor = engine::GuarantorOf(s, who.patient_id);
    });
    auto card = gateway_->Claim(req.card_token, FamilyOwner(who.practice_id, guarantor));
    if (!card.ok()) {
      if (card.status().IsNotFound()) {
        return Rejected<PaymentResult>({Reject::kCardNotFound, "unknown card token"});
      }
      return card.status();
    }
    cmd.processor_token = req.card_token;
    cmd.brand = card->brand;
    cmd.last4 = card->last4;
    cmd.exp_month = card->exp_month;
    cmd.exp_year = card->exp_year;
  }
  engine::CommandContext ctx{
      who.practice_id, "pay:" + payment_id, {}, "patient:" + who.patient_id, now_us_()};
  auto r = app_->Execute(ctx, cmd);
  if (!r.ok()) return r.status();
  if (r->rejection) return Rejected<PaymentResult>(*r->rejection);
  return Finish(who.practice_id, payment_id);
}

Outcome<PaymentResult> Portal::Finish(const std::string& practice, const std::string& payment_id) {
  engine::PaymentState pay;
  bool found = false;
  app_->Inspect(practice, [&](const engine::PracticeState& s) {
    auto it = s.payments.find(payment_id);
    if (it == s.payments.end()) return;
    pay = it->second;
    found = true;
  });
  if (!found) return Status::NotFound("payment " + payment_id + " vanished");
  if (pay.status == engine::PaymentStatus::kSubmitted) {
    // The processor takes the payment id as its idempotency key: retried timeouts, a retried
    // request and a resumption after a crash all charge at most once.
    auto charged = ChargeWithRetry(*gateway_, pay.submitted.processor_token,
                                   FamilyOwner(practice, pay.submitted.guarantor_id),
                                   pay.submitted.amount_cents, payment_id);
    if (!charged.ok()) return charged.status();
    engine::RecordPaymentOutcome outcome{payment_id, charged->succeeded, charged->processor_ref,
                                         charged->decline_reason,
                                         "card_" + Hex(Sha256(payment_id)).substr(0, 20)};
    engine::CommandContext ctx{practice, "outcome:" + payment_id, {}, "processor", now_us_()};
    auto r = app_->Execute(ctx, outcome);
    if (!r.ok()) return r.status();
    if (r->rejection) return Rejected<PaymentResult>(*r->rejection);
    app_->Inspect(practice,
                  [&](const engine::PracticeState& s) { pay = s.payments.at(payment_id); });
  }
  PaymentResult out{payment_id,
                    pay.status == engine::PaymentStatus::kSucceeded,
                    pay.posted,
                    pay.submitted.amount_cents,
                    pay.submitted.card_brand,
                    pay.submitted.card_last4,
                    {}};
  if (pay.status == engine::PaymentStatus::kDeclined) {
    auto j = PaymentRecord(LiveReader(app_->views()), practice, payment_id);
    out.decline_reason = j && (*j)["decline_reason"].is_string()
                             ? (*j)["decline_reason"].get<std::string>()
                             : "declined";
  }
  return Done(out);
}

Status Portal::ResumePayments(const std::vector<std::string>& practices) {
  for (const auto& practice : practices) {
    std::vector<std::string> open;
    app_->Inspect(practice, [&](const engine::PracticeState& s) {
      for (const auto& [id, p] : s.payments) {
        if (p.status == engine::PaymentStatus::kSubmitted) open.push_back(id);
      }
    });
    for (const auto& id : open) {
      auto r = Finish(practice, id);
      if (!r.ok()) {
        spdlog::warn("payment {} of {} still open: {}", id, practice, r.status().ToString());
      } else {
        spdlog::info("payment {} of {} finished after a restart", id, practice);
      }
    }
  }
  return Status::OK();
}

Result<std::string> Portal::TotpSecretForTesting(const std::string& practice,
                                                 const std::string& username) {
  std::string patient_id, secret_id;
  app_->Inspect(practice, [&](const engine::PracticeState& s) {
    auto u = s.users.find(NormalizeUsername(username));
    if (u == s.users.end()) return;
    patient_id = u->second.patient_id;
    secret_id = u->second.secret_id;
  });
  if (patient_id.empty()) return Status::NotFound("no such user");
  return secrets_->Get(SecretName("totp", practice, patient_id, secret_id));
}

}  // namespace remit
