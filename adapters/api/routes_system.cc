// Routes of the server itself: health, metrics, the contract, who is asking, the operator's
// practices and backups, the access events peers send, and the sandbox processor's card form.
#include <nlohmann/json.hpp>

#include "adapters/api/answers.h"
#include "adapters/api/core.h"
#include "adapters/api/routes.h"
#include "adapters/api/web_assets.h"

namespace remit {
namespace {

using nlohmann::json;

HttpResponse Health(Request& r) {
  App& app = r.app();
  Status s = app.runner().status();
  if (!s.ok()) return Json(503, {{"status", "failing"}, {"detail", s.ToString()}});
  int64_t checked = r.core.parts().storage_checked_at_us->load();
  json storage_checked = checked == 0 ? json(nullptr) : json(FormatTime(checked));
  if (!app.degraded_reason().empty()) {
    return Json(503, {{"status", "read_only"},
                      {"detail", app.degraded_reason()},
                      {"storage_checked_at", storage_checked}});
  }
  if (app.read_only()) return Json(200, {{"status", "ok"}, {"read_only", true}});
  return Json(200, {{"status", "ok"}, {"storage_checked_at", storage_checked}});
}

HttpResponse OpenApi(Request&) {
  auto doc = WebAsset("openapi.yaml");
  return HttpResponse{200, "application/yaml", std::string(doc.value_or("")), {}};
}

HttpResponse MetricsPage(Request& r) {
  App& app = r.app();
  uint64_t end = app.log().EndOffset();
  uint64_t applied = app.runner().applied_end();
  Portal& portal = r.core.portal();
  std::vector<PracticeOwners::Gauge> gauges = {
      {"remit_events_appended", "Events appended by this process.",
       static_cast<double>(app.events_appended())},
      {"remit_password_hashes",
       "Password hashes computed (enrolment and sign-in), bounded in number at once.",
       static_cast<double>(portal.hashing().runs())},
      {"remit_password_hashes_peak", "The most password hashes that ran at once.",
       static_cast<double>(portal.hashing().peak())},
      {"remit_log_end_offset", "One past the last durable offset.", static_cast<double>(end)},
      {"remit_projection_lag_events", "Durable events not yet applied to the views.",
       static_cast<double>(end - std::min(end, applied))}};
  if (r.core.parts().owners != nullptr) {
    auto more = r.core.parts().owners->Gauges();
    gauges.insert(gauges.end(), more.begin(), more.end());
  }
  return HttpResponse{200, "text/plain; version=0.0.4", r.core.metrics().Render(gauges), {}};
}

HttpResponse WhoAmI(Request& r) {
  const Principal& who = r.who;
  switch (who.kind) {
    case Principal::Kind::kOperator:
      return Json(200, {{"kind", "operator"}});
    case Principal::Kind::kStaff:
      return Json(200, {{"kind", "staff"},
                        {"practice_id", who.practice_id},
                        {"role", who.role},
                        {"token_id", who.token_id}});
    case Principal::Kind::kPatient:
      return Json(
          200,
          {{"kind", "patient"}, {"practice_id", who.practice_id}, {"patient_id", who.patient_id}});
    case Principal::Kind::kNone:
      break;
  }
  return Problem(401, "unauthorized", "a valid bearer token is required");
}

HttpResponse RegisterPractice(Request& r) {
  json b = ParseBody(r.http);
  std::string id = Str(b, "practice_id");
  std::string name = Str(b, "name");
  std::string currency = Str(b, "currency", false);
  if (currency.empty()) currency = "USD";
  if (!IsValidPracticeId(id)) Fail("practice_id must match [a-z0-9-]{3,40}");
  if (name.empty() || name.size() > 200) Fail("name must be 1 to 200 characters");
  if (currency != "USD") Fail("currency must be \"USD\"");
  engine::CommandContext ctx{id, "practice:" + id, Sha256(r.http.body), r.Actor(), 0};
  auto e = r.app().Execute(ctx, engine::RegisterPractice{name, currency});
  if (!e.ok() || e->rejection) return FromExec(e);
  return Json(201, {{"practice_id", id},
                    {"name", name},
                    {"currency", currency},
                    {"portal_payments_enabled", false},
                    {"auto_post_to_ledger", false}});
}

// `remit backup` asks the running server, which holds every writer still while it copies (the
// path is on its machine).
HttpResponse Backup(Request& r) {
  json b = ParseBody(r.http);
  std::string to = Str(b, "to");
  if (to.empty() || to.front() != '/') Fail("to must be an absolute path");
  auto copied = r.core.parts().backup(to);
  if (!copied.ok() && copied.status().IsInvalidArgument()) {
    return Problem(409, "backup_refused", copied.status().ToString());
  }
  if (!copied.ok()) return Problem(500, "backup_failed", copied.status().ToString());
  return Json(200, {{"to", to}, {"events", *copied}});
}

// An access event sent by a peer process to the practice's writer (the processes share the
// operator token).
HttpResponse RecordAccess(Request& r) {
  json b = ParseBody(r.http);
  engine::CommandContext ctx{r.practice, "access:" + RandomHex(12), {}, Str(b, "actor"), 0};
  auto e = r.app().Execute(ctx, engine::RecordAccess{Str(b, "resource"), Str(b, "patient_id")});
  if (!e.ok()) return Unavailable(e.status());
  if (e->rejection) return FromRejection(*e->rejection);
  return NoContent();
}

// The sandbox processor's tokenization form: card fields in, a card token out (the page posts
// them here from the portal's origin).
HttpResponse SandboxTokenize(Request& r) {
  json b = ParseBody(r.http);
  std::string number = Str(b, "number");
  auto month = b.find("exp_month"), year = b.find("exp_year");
  if (month == b.end() || !month->is_number_integer() || year == b.end() ||
      !year->is_number_integer()) {
    Fail("exp_month and exp_year must be integers");
  }
  std::string cvc = Str(b, "cvc");
  if (number.size() > 32) throw Invalid{422, "invalid_card", "the card number is not valid"};
  auto t = r.core.parts().sandbox->Tokenize(number, month->get<int>(), year->get<int>(), cvc,
                                            NowMicros());
  if (!t.ok()) {
    if (t.status().code() == Status::Code::kInvalidArgument) {
      return Problem(422, "invalid_card", t.status().message());
    }
    return Problem(503, "unavailable", t.status().ToString());
  }
  return Json(201, {{"card_token", t->token},
                    {"brand", t->card.brand},
                    {"last4", t->card.last4},
                    {"exp_month", t->card.exp_month},
                    {"exp_year", t->card.exp_year}});
}

}  // namespace

void AddSystemRoutes(std::vector<Route>* t) {
  using enum Access;
  t->push_back({"GET", "/healthz", kAnyone, Health});
  t->push_back({"GET", "/metrics", kAnyone, MetricsPage});
  t->push_back({"GET", "/openapi.yaml", kAnyone, OpenApi});
  t->push_back({"GET", "/api/v1/whoami", kSignedIn, WhoAmI});
  t->push_back({"POST", "/api/v1/practices", kOperator, RegisterPractice, Idempotency::kReplay});
  t->push_back({"POST", "/api/v1/operator/backup", kInternal, Backup, Idempotency::kCommandKey,
                /*holds_write_gate=*/false});
  t->push_back(
      {"POST", "/internal/v1/practices/{practice_id}/record-access", kInternal, RecordAccess});
  t->push_back({"POST", "/sandbox-gateway/v1/tokens", kAnyone, SandboxTokenize});
}

}  // namespace remit
