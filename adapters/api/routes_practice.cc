// Routes that set a practice up: staff tokens, settings, the portal link and its QR code,
// patients, charges and portal invites.
#include <nlohmann/json.hpp>

#include "adapters/api/answers.h"
#include "adapters/api/core.h"
#include "adapters/api/routes.h"
#include "adapters/app/queries.h"
#include "adapters/http/qr_png.h"

namespace remit {
namespace {

using nlohmann::json;

// Optional: when a token stops working by itself (a temp's, an integration's); 0 for never.
int64_t ExpiresAt(const json& b) {
  std::string expires = Str(b, "expires_at", false);
  if (expires.empty()) return 0;
  auto t = ParseTime(expires);
  int64_t now = NowMicros();
  if (!t || *t <= now || *t > now + int64_t{10} * 366 * 24 * 3600 * 1000000) {
    Fail("expires_at must be an RFC 3339 time within the next 10 years");
  }
  return *t;
}

HttpResponse CreateToken(Request& r) {
  json b = ParseBody(r.http);
  std::string role = Str(b, "role");
  std::string label = Str(b, "label", false);
  if (RoleRank(role) == 0) Fail("role must be admin, staff or auditor");
  int64_t expires_at_us = ExpiresAt(b);
  auto t = r.app().CreateToken(r.practice, role, label, r.Actor(), expires_at_us);
  if (!t.ok()) return Problem(503, "unavailable", t.status().ToString());
  return Json(
      201, {{"token_id", t->first},
            {"token", t->second},
            {"role", role},
            {"label", label},
            {"expires_at", expires_at_us == 0 ? json(nullptr) : json(FormatTime(expires_at_us))}});
}

HttpResponse RevokeToken(Request& r) {
  const std::string& id = r.Param("token_id");
  auto e = r.app().Execute(r.Command("revoke:" + id + ":" + RandomHex(8)), engine::RevokeToken{id});
  if (!e.ok() || e->rejection) return FromExec(e);
  return NoContent();
}

HttpResponse GetSettings(Request& r) {
  auto pr = PracticeRecord(LiveReader(r.app().views()), r.practice);
  if (!pr) return Problem(404, "not_found", "no practice " + r.practice);
  return Json(200, SettingsJson(*pr));
}

HttpResponse PutSettings(Request& r) {
  json b = ParseBody(r.http);
  engine::ChangeSettings c{OptBool(b, "portal_payments_enabled"),
                           OptBool(b, "auto_post_to_ledger")};
  auto e = r.app().Execute(r.Command(r.CommandKey("settings:" + RandomHex(8))), c);
  if (!e.ok() || e->rejection) return FromExec(e);
  auto pr = PracticeRecord(LiveReader(r.app().views()), r.practice);
  return Json(200, SettingsJson(pr.value_or(json::object())));
}

std::string PortalUrl(Request& r) { return r.app().public_url() + "/portal/" + r.practice; }

HttpResponse PortalLink(Request& r) { return Json(200, {{"url", PortalUrl(r)}}); }

HttpResponse PortalLinkQr(Request& r) {
  auto png = QrPng(PortalUrl(r));
  if (!png.ok()) return Problem(503, "unavailable", png.status().ToString());
  return HttpResponse{
      200,
      "image/png",
      std::move(png.value()),
      {{"Content-Disposition", "attachment; filename=\"" + r.practice + "-portal-qr.png\""}}};
}

PatientUpserted PatientFrom(const std::string& patient_id, const json& b) {
  PatientUpserted p{patient_id,
                    Str(b, "first_name"),
                    Str(b, "last_name"),
                    Str(b, "phone", false),
                    Str(b, "email", false),
                    Str(b, "date_of_birth", false),
                    Str(b, "guarantor_id", false)};
  if (p.first_name.empty() || p.last_name.empty()) {
    Fail("first_name and last_name must not be empty");
  }
  for (const auto* f : {&p.first_name, &p.last_name, &p.phone, &p.email}) {
    if (f->size() > 200) Fail("names, phone and email are limited to 200 characters");
  }
  if (!p.date_of_birth.empty() && !IsValidDate(p.date_of_birth)) {
    Fail("date_of_birth must be a date YYYY-MM-DD");
  }
  if (!p.guarantor_id.empty() && !IsValidExternalId(p.guarantor_id)) {
    throw Invalid{422, "invalid_guarantor", "guarantor_id is not a valid patient id"};
  }
  return p;
}

HttpResponse PutPatient(Request& r) {
  const std::string& patient_id = r.Param("patient_id");
  if (!IsValidExternalId(patient_id)) Fail("patient_id must match [A-Za-z0-9_-]{1,64}");
  PatientUpserted p = PatientFrom(patient_id, ParseBody(r.http));
  auto e = r.app().Execute(r.Command(r.CommandKey("patient:" + patient_id + ":" + RandomHex(8))),
                           engine::UpsertPatient{p});
  if (!e.ok() || e->rejection) return FromExec(e);
  json out = {{"patient_id", p.patient_id},
              {"first_name", p.first_name},
              {"last_name", p.last_name},
              {"phone", p.phone},
              {"email", p.email},
              {"date_of_birth", p.date_of_birth},
              {"guarantor_id", p.guarantor_id.empty() ? json(nullptr) : json(p.guarantor_id)}};
  return Json(e->outcome == engine::Outcome::kCreated ? 201 : 200, out);
}

HttpResponse PostCharge(Request& r) {
  json b = ParseBody(r.http);
  ChargePosted c{Str(b, "charge_id"), Str(b, "patient_id"), 0, Str(b, "description", false),
                 Str(b, "service_date")};
  c.amount_cents = PositiveCents(b, "amount_cents");
  if (!IsValidExternalId(c.charge_id)) Fail("charge_id must match [A-Za-z0-9_-]{1,64}");
  if (!IsValidExternalId(c.patient_id)) Fail("patient_id must match [A-Za-z0-9_-]{1,64}");
  if (!IsValidDate(c.service_date)) Fail("service_date must be a date YYYY-MM-DD");
  if (c.description.size() > 500) Fail("description is limited to 500 characters");
  auto e = r.app().Execute(r.Command("charge:" + c.charge_id), engine::PostCharge{c});
  if (!e.ok() || e->rejection) return FromExec(e);
  return Json(e->outcome == engine::Outcome::kCreated ? 201 : 200,
              {{"charge_id", c.charge_id},
               {"patient_id", c.patient_id},
               {"amount_cents", c.amount_cents},
               {"description", c.description},
               {"service_date", c.service_date}});
}

HttpResponse InviteToPortal(Request& r) {
  auto e = r.app().IssueInvite(r.practice, r.Param("patient_id"), r.Actor());
  if (!e.ok()) return Unavailable(e.status());
  if (auto* rej = RejectionOf(e)) return FromRejection(*rej);
  const auto& inv = std::get<1>(*e);
  return Json(201, {{"invite_code", inv.code},
                    {"url", PortalUrl(r) + "/enroll?code=" + inv.code},
                    {"expires_at", FormatTime(inv.expires_at_us)},
                    {"account_reset", inv.account_reset}});
}

}  // namespace

void AddPracticeRoutes(std::vector<Route>* t) {
  using enum Access;
  using enum Idempotency;
  t->push_back(
      {"POST", "/api/v1/practices/{practice_id}/tokens", kAdminOrOperator, CreateToken, kReplay});
  t->push_back({"DELETE", "/api/v1/practices/{practice_id}/tokens/{token_id}", kAdminOrOperator,
                RevokeToken});
  t->push_back({"GET", "/api/v1/practices/{practice_id}/settings", kStaff, GetSettings});
  t->push_back({"PUT", "/api/v1/practices/{practice_id}/settings", kAdmin, PutSettings});
  t->push_back(
      {"GET", "/api/v1/practices/{practice_id}/resources/portal-link", kStaff, PortalLink});
  t->push_back(
      {"GET", "/api/v1/practices/{practice_id}/resources/portal-link.png", kStaff, PortalLinkQr});
  t->push_back(
      {"PUT", "/api/v1/practices/{practice_id}/patients/{patient_id}", kStaff, PutPatient});
  t->push_back({"POST", "/api/v1/practices/{practice_id}/patients/{patient_id}/portal-invites",
                kStaff, InviteToPortal, kReplay});
  t->push_back({"POST", "/api/v1/practices/{practice_id}/charges", kStaff, PostCharge, kReplay});
}

}  // namespace remit
