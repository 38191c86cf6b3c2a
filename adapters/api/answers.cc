#include "adapters/api/answers.h"

#include <cctype>

namespace remit {

using nlohmann::json;

namespace {

const char* Title(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

int HttpStatusFor(engine::Reject r) {
  using engine::Reject;
  switch (r) {
    case Reject::kPracticeExists:
    case Reject::kChargeConflict:
    case Reject::kUsernameTaken:
    case Reject::kNotPostable:
      return 409;
    case Reject::kPracticeNotFound:
    case Reject::kPatientNotFound:
    case Reject::kTokenNotFound:
    case Reject::kCardNotFound:
    case Reject::kPaymentNotFound:
    case Reject::kNotificationNotFound:
      return 404;
    case Reject::kValidationFailed:
    case Reject::kInvalidInvite:
      return 400;
    case Reject::kIdentityNotVerified:
    case Reject::kInvalidCredentials:
    case Reject::kInvalidCode:
    case Reject::kSessionNotFound:
      return 401;
    case Reject::kLockedOut:
      return 429;
    case Reject::kPaymentsDisabled:
      return 403;
    case Reject::kInvalidGuarantor:
    case Reject::kAmountExceedsBalance:
    case Reject::kInvalidAmount:
      return 422;
  }
  return 500;
}

}  // namespace

HttpResponse Problem(int status, std::string_view code, std::string detail) {
  json j = {{"type", "https://remit.dev/problems/" + std::string(code)},
            {"title", Title(status)},
            {"status", status},
            {"detail", std::move(detail)},
            {"code", code}};
  return HttpResponse{status, "application/problem+json", j.dump(), {}};
}

HttpResponse Json(int status, const json& j) {
  return HttpResponse{status, "application/json", j.dump(), {}};
}

HttpResponse NoContent() { return HttpResponse{204, "", "", {}}; }

HttpResponse Unavailable(const Status& s) {
  HttpResponse p = Problem(503, "unavailable", s.ToString());
  if (s.code() == Status::Code::kBusy) p.headers.emplace_back("Retry-After", "1");
  return p;
}

HttpResponse FromRejection(const engine::Rejection& rej) {
  return Problem(HttpStatusFor(rej.reason), engine::RejectCode(rej.reason), rej.detail);
}

HttpResponse FromExec(const Result<ExecResult>& r) {
  if (!r.ok() && r.status().message().starts_with("read_only")) {
    return Problem(503, "read_only", "this server takes no writes; nothing was changed");
  }
  if (!r.ok()) return Unavailable(r.status());
  return FromRejection(*r->rejection);
}

HttpResponse NoSuchPath(const std::string& path) {
  return Problem(404, "not_found", "no such path: " + path);
}

void Fail(std::string detail) { throw Invalid{400, "validation_failed", std::move(detail)}; }

json ParseBody(const HttpRequest& req) {
  if (req.body.empty()) Fail("a JSON object body is required");
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded()) Fail("the body is not valid JSON");
  if (!j.is_object()) Fail("the body must be a JSON object");
  return j;
}

std::string Str(const json& j, const char* field, bool required) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    if (required) Fail(std::string(field) + " is required");
    return {};
  }
  if (!it->is_string()) Fail(std::string(field) + " must be a string");
  return it->get<std::string>();
}

std::optional<bool> OptBool(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end()) return std::nullopt;
  if (!it->is_boolean()) Fail(std::string(field) + " must be a boolean");
  return it->get<bool>();
}

Cents PositiveCents(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) Fail(std::string(field) + " is required");
  if (it->is_number_integer() && !it->is_number_unsigned()) {
    int64_t v = it->get<int64_t>();
    if (IsValidAmount(v)) return v;
  } else if (it->is_number_unsigned()) {
    uint64_t v = it->get<uint64_t>();
    if (v <= static_cast<uint64_t>(kAmountCentsMax) && IsValidAmount(static_cast<Cents>(v))) {
      return static_cast<Cents>(v);
    }
  }
  throw Invalid{422, "invalid_amount",
                std::string(field) + " must be a whole number of cents from 1 to " +
                    std::to_string(kAmountCentsMax)};
}

std::string BearerOf(const HttpRequest& req) {
  std::string h = req.Header("authorization");
  if (h.size() > 7 && (h.starts_with("Bearer ") || h.starts_with("bearer "))) return h.substr(7);
  return {};
}

std::string ActorOf(const Principal& p) {
  switch (p.kind) {
    case Principal::Kind::kOperator:
      return "operator";
    case Principal::Kind::kStaff:
      return "staff:" + p.token_id;
    case Principal::Kind::kPatient:
      return "patient:" + p.patient_id;
    case Principal::Kind::kNone:
      break;
  }
  return "anonymous";
}

}  // namespace remit
