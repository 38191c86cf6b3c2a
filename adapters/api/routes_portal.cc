// The patient portal: the anonymous steps (enrol, identity check, password, second factor),
// each limited per address before anything is written, and what a signed-in patient does
// (balances, saved cards, payments, sign out).
#include <nlohmann/json.hpp>

#include "adapters/api/answers.h"
#include "adapters/api/core.h"
#include "adapters/api/routes.h"
#include "adapters/app/queries.h"
#include "adapters/crypto/secrets.h"
#include "adapters/http/qr_png.h"

namespace remit {
namespace {

using nlohmann::json;

HttpResponse Enroll(Request& r) {
  json b = ParseBody(r.http);
  std::string code = Str(b, "invite_code"), username = Str(b, "username"),
              password = Str(b, "password");
  if (!IsValidUsername(username)) Fail("username must be 3 to 64 letters, digits or . _ - @ +");
  if (code.empty() || code.size() > 128) {
    return Problem(400, "invalid_invite", "the invite code is not valid");
  }
  if (auto weak = PasswordWeakness(password, username)) {
    return Problem(422, "weak_password", *weak);
  }
  auto e = r.core.portal().Enroll(r.practice, code, username, password);
  if (!e.ok()) return Unavailable(e.status());
  if (auto* rej = RejectionOf(e)) return FromRejection(*rej);
  const auto& en = std::get<1>(*e);
  json out = {{"totp_secret_base32", en.totp_secret_base32}, {"otpauth_uri", en.otpauth_uri}};
  // For the enrolment page: the URI as a QR code, so no secret ever travels in a URL.
  if (auto png = QrPng(en.otpauth_uri, 240); png.ok()) {
    out["totp_qr_png_base64"] = Base64(png.value());
  }
  return Json(201, out);
}

HttpResponse CheckIdentity(Request& r) {
  json b = ParseBody(r.http);
  std::string username = Str(b, "username"), method = Str(b, "method"), value = Str(b, "value");
  if (method != "phone" && method != "email" && method != "initials") {
    Fail("method must be phone, email or initials");
  }
  if (username.size() > 64 || value.size() > 200) {
    return Problem(401, "identity_not_verified", "we could not confirm who you are");
  }
  // Before anything is written: an address that failed too often, a username tried too often
  // (the contract's lockout after 5 failures stays reachable: 10 come at once).
  std::string client = ApiCore::ClientOf(r.http);
  int retry_after = 1;
  if (!r.core.identity_failures_per_address().Has(client, &retry_after)) {
    HttpResponse p =
        Problem(429, "rate_limited", "too many failed identity checks from this address");
    p.headers.emplace_back("Retry-After", std::to_string(retry_after));
    return p;
  }
  if (auto limited = ApiCore::Throttle(r.core.identity_checks_per_user(),
                                       r.practice + "/" + NormalizeUsername(username))) {
    return *limited;
  }
  auto e = r.core.portal().CheckIdentity(r.practice, username, method, value);
  if (!e.ok()) return Unavailable(e.status());
  if (auto* rej = RejectionOf(e)) {
    if (rej->reason == engine::Reject::kIdentityNotVerified) {
      r.core.identity_failures_per_address().Charge(client);
    }
    return FromRejection(*rej);
  }
  return Json(200, {{"identity_token", std::get<1>(*e)},
                    {"expires_in_seconds", engine::kIdentityTokenTtlUs / 1000000}});
}

HttpResponse Login(Request& r) {
  json b = ParseBody(r.http);
  std::string token = Str(b, "identity_token"), username = Str(b, "username"),
              password = Str(b, "password");
  if (password.size() > 1024) {
    return Problem(401, "invalid_credentials", "wrong username or password");
  }
  auto e = r.core.portal().Login(r.practice, token, username, password);
  if (!e.ok()) return Unavailable(e.status());
  if (auto* rej = RejectionOf(e)) return FromRejection(*rej);
  return Json(200, {{"challenge_token", std::get<1>(*e)}, {"factor", "totp"}});
}

HttpResponse VerifyCode(Request& r) {
  json b = ParseBody(r.http);
  auto e = r.core.portal().VerifyCode(r.practice, Str(b, "challenge_token"), Str(b, "code"));
  if (!e.ok()) return Unavailable(e.status());
  if (auto* rej = RejectionOf(e)) return FromRejection(*rej);
  const auto& ns = std::get<1>(*e);
  return Json(200, {{"session_token", ns.token}, {"expires_at", FormatTime(ns.expires_at_us)}});
}

HttpResponse Logout(Request& r) {
  Status s = r.core.portal().Logout(*r.session);
  if (!s.ok()) return Problem(503, "unavailable", s.ToString());
  return NoContent();
}

HttpResponse MyBalances(Request& r) {
  const std::string& patient = r.session->patient_id;
  auto v = FamilyView(LiveReader(r.app().views()), r.practice, patient);
  if (!v) return Problem(404, "patient_not_found", "no patient record");
  r.core.RecordAccess(r.practice, r.Actor(), r.session->session_id, "balance", patient);
  return Json(200, *v);
}

HttpResponse MyCards(Request& r) {
  json items = json::array();
  for (auto& c : SavedCards(LiveReader(r.app().views()), r.practice, r.session->patient_id)) {
    items.push_back(std::move(c));
  }
  return Json(200, {{"items", items}});
}

HttpResponse RemoveCard(Request& r) {
  const std::string& card = r.Param("card_id");
  engine::CommandContext ctx{
      r.practice, "card-remove:" + card + ":" + RandomHex(8), {}, r.Actor(), 0};
  auto e = r.app().Execute(ctx, engine::RemoveCard{r.session->patient_id, card});
  if (!e.ok() || e->rejection) return FromExec(e);
  return NoContent();
}

HttpResponse Declined(const PaymentResult& p) {
  HttpResponse resp = Problem(402, "card_declined", "the card was declined");
  json j = json::parse(resp.body);
  j["payment_id"] = p.payment_id;
  j["decline_reason"] = p.decline_reason;
  resp.body = j.dump();
  return resp;
}

HttpResponse Pay(Request& r) {
  json b = ParseBody(r.http);
  PaymentRequest pr;
  pr.amount_cents = PositiveCents(b, "amount_cents");
  pr.card_id = Str(b, "card_id", false);
  pr.card_token = Str(b, "card_token", false);
  pr.save_card = OptBool(b, "save_card").value_or(false);
  if (pr.card_id.empty() == pr.card_token.empty()) {
    Fail("give exactly one of card_id and card_token");
  }
  auto e = r.core.portal().Pay(*r.session, r.http.Header("idempotency-key"), pr);
  if (!e.ok()) return Unavailable(e.status());
  if (auto* rej = RejectionOf(e)) return FromRejection(*rej);
  const PaymentResult& p = std::get<1>(*e);
  if (!p.succeeded) return Declined(p);
  return Json(201, {{"payment_id", p.payment_id},
                    {"status", "succeeded"},
                    {"amount_cents", p.amount_cents},
                    {"ledger_status", p.posted ? "posted" : "pending"},
                    {"card", {{"brand", p.brand}, {"last4", p.last4}}}});
}

}  // namespace

void AddPortalRoutes(std::vector<Route>* t) {
  using enum Access;
  using enum Idempotency;
  // Anonymous: an Idempotency-Key is kept per route (ApiCore::WithIdempotency).
  t->push_back({"POST", "/api/v1/portal/{practice_id}/enroll", kPortalStep, Enroll, kReplay});
  t->push_back(
      {"POST", "/api/v1/portal/{practice_id}/identity-check", kPortalStep, CheckIdentity, kReplay});
  t->push_back({"POST", "/api/v1/portal/{practice_id}/login", kPortalStep, Login, kReplay});
  t->push_back(
      {"POST", "/api/v1/portal/{practice_id}/login/verify", kPortalStep, VerifyCode, kReplay});
  t->push_back({"POST", "/api/v1/portal/{practice_id}/logout", kPatient, Logout});
  t->push_back({"GET", "/api/v1/portal/{practice_id}/me/balances", kPatient, MyBalances});
  t->push_back({"GET", "/api/v1/portal/{practice_id}/me/cards", kPatient, MyCards});
  t->push_back({"DELETE", "/api/v1/portal/{practice_id}/me/cards/{card_id}", kPatient, RemoveCard});
  t->push_back({"POST", "/api/v1/portal/{practice_id}/me/payments", kPatient, Pay, kRequired});
}

}  // namespace remit
