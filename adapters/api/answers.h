// Answers: the problem+json documents of spec/api.md, JSON answers, and the readers that turn a
// request body's fields into values or a validation failure (thrown as `Invalid`, which the
// router answers as a problem). Shared by every route group.
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/app/app.h"
#include "adapters/app/portal.h"
#include "adapters/http/http_server.h"
#include "engine/rejection.h"

namespace remit {

// A problem document: {type, title, status, detail, code}.
HttpResponse Problem(int status, std::string_view code, std::string detail);
HttpResponse Json(int status, const nlohmann::json& j);
HttpResponse NoContent();
// A store or the processor could not do it now: 503, with Retry-After when the server is only
// busy (its bounded password hashing is full).
HttpResponse Unavailable(const Status& s);
// An engine's refusal as the contract's status and code.
HttpResponse FromRejection(const engine::Rejection& rej);
// A command that failed (store, read-only) or was refused.
HttpResponse FromExec(const Result<ExecResult>& r);
// 404 not_found for a path the router does not know.
HttpResponse NoSuchPath(const std::string& path);

// A validation failure carried out of the field readers; the router answers it as a problem.
struct Invalid {
  int status;
  std::string code, detail;
};
[[noreturn]] void Fail(std::string detail);  // 400 validation_failed

// The body as a JSON object, or Invalid.
nlohmann::json ParseBody(const HttpRequest& req);
// A string field; empty when absent and not `required`.
std::string Str(const nlohmann::json& j, const char* field, bool required = true);
std::optional<bool> OptBool(const nlohmann::json& j, const char* field);
// Cents: a JSON integer, 1 to kAmountCentsMax. Anything else that is present is 422
// invalid_amount.
Cents PositiveCents(const nlohmann::json& j, const char* field);

// The bearer token of the Authorization header; empty when there is none.
std::string BearerOf(const HttpRequest& req);
// Who acted, as the events record it: operator, staff:<token id>, patient:<id>, anonymous.
std::string ActorOf(const Principal& p);

template <typename T>
const engine::Rejection* RejectionOf(const Outcome<T>& r) {
  return r->index() == 0 ? &std::get<0>(*r) : nullptr;
}

}  // namespace remit
