#include "adapters/api/api.h"

#include <shared_mutex>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "adapters/api/web_assets.h"
#include "adapters/app/event_json.h"
#include "adapters/app/queries.h"
#include "adapters/http/http_client.h"
#include "adapters/http/qr_png.h"
#include "adapters/storage/audit.h"
#include "events/event.h"
#include "projections/projections.h"

namespace remit {
namespace {

using nlohmann::json;
namespace pj = projections;

// ---- Answers --------------------------------------------------------------------------------

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

HttpResponse Problem(int status, std::string_view code, std::string detail) {
  json j = {{"type", "https://remit.dev/problems/" + std::string(code)},
            {"title", Title(status)},
            {"status", status},
            {"detail", std::move(detail)},
            {"code", code}};
  return HttpResponse{status, "application/problem+json", j.dump(), {}};
}

// A store or the processor could not do it now: 503, with Retry-After when the server is only
// busy (its bounded password hashing is full).
HttpResponse Unavailable(const Status& s) {
  HttpResponse p = Problem(503, "unavailable", s.ToString());
  if (s.code() == Status::Code::kBusy) p.headers.emplace_back("Retry-After", "1");
  return p;
}

HttpResponse Json(int status, const json& j) {
  return HttpResponse{status, "application/json", j.dump(), {}};
}

// A validation failure carried out of the field readers.
struct Invalid {
  int status;
  std::string code, detail;
};

HttpResponse FromInvalid(const Invalid& i) { return Problem(i.status, i.code, i.detail); }

json ParseBody(const HttpRequest& req) {
  if (req.body.empty()) throw Invalid{400, "validation_failed", "a JSON object body is required"};
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded()) throw Invalid{400, "validation_failed", "the body is not valid JSON"};
  if (!j.is_object()) throw Invalid{400, "validation_failed", "the body must be a JSON object"};
  return j;
}

std::string Str(const json& j, const char* field, bool required = true) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    if (required) throw Invalid{400, "validation_failed", std::string(field) + " is required"};
    return {};
  }
  if (!it->is_string())
    throw Invalid{400, "validation_failed", std::string(field) + " must be a string"};
  return it->get<std::string>();
}

std::optional<bool> OptBool(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end()) return std::nullopt;
  if (!it->is_boolean())
    throw Invalid{400, "validation_failed", std::string(field) + " must be a boolean"};
  return it->get<bool>();
}

// Cents: a JSON integer, 1 to kAmountCentsMax. Anything else that is present is 422
// invalid_amount.
Cents PositiveCents(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    throw Invalid{400, "validation_failed", std::string(field) + " is required"};
  }
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

// ---- Paths ----------------------------------------------------------------------------------

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) parts.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

json ChargeJson(const ChargePosted& c) {
  return json{{"charge_id", c.charge_id},
              {"patient_id", c.patient_id},
              {"amount_cents", c.amount_cents},
              {"description", c.description},
              {"service_date", c.service_date}};
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

// An inbox item of the view as the contract shows it.
json InboxJson(json n) {
  if (n.contains("created_at_us")) {
    n["created_at"] = FormatTime(n.value("created_at_us", int64_t{0}));
    n.erase("created_at_us");
  }
  return n;
}

std::string BearerOf(const HttpRequest& req) {
  std::string h = req.Header("authorization");
  if (h.size() > 7 && (h.starts_with("Bearer ") || h.starts_with("bearer "))) return h.substr(7);
  return {};
}

template <typename T>
const engine::Rejection* RejectionOf(const Outcome<T>& r) {
  return r->index() == 0 ? &std::get<0>(*r) : nullptr;
}

}  // namespace

namespace {

bool HasHeader(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(a) == std::tolower(b);
        })) {
      return true;
    }
  }
  return false;
}

// Every answer: no sniffing, no referrer. An answer that is not a page (JSON, problems, the
// QR code, metrics) may carry a token or patient data: never cached, never framed, nothing in it
// runs. Pages set their own policy (RoutePage).
void AddProtections(HttpResponse* r) {
  auto add = [&](const char* name, const char* value) {
    if (!HasHeader(*r, name)) r->headers.emplace_back(name, value);
  };
  add("X-Content-Type-Options", "nosniff");
  add("Referrer-Policy", "no-referrer");
  add("Cache-Control", "no-store");
  add("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
}

}  // namespace

HttpResponse Api::Handle(const HttpRequest& req) {
  auto start = std::chrono::steady_clock::now();
  std::string route = "unmatched";
  HttpResponse resp;
  try {
    if (app_->read_only() && req.method != "GET" && req.method != "HEAD") {
      // Nothing may change: refused before any store (secrets, cards, idempotency) is touched.
      std::string why = app_->degraded_reason();
      resp = Problem(503, "read_only",
                     why.empty() ? "this server was started read-only; nothing can be changed"
                                 : "this server takes no writes: " + why);
      route = "read_only";
    } else {
      // A request that may write holds the write gate shared: a backup waits for it, and it
      // for a backup (Node::Backup).
      std::shared_lock<std::shared_mutex> gate(*parts_.write_gate, std::defer_lock);
      bool writes =
          req.method != "GET" && req.method != "HEAD" && req.path != "/api/v1/operator/backup";
      if (writes) gate.lock();
      if (auto forwarded = ForwardToOwner(req)) {
        route = "forwarded";
        resp = std::move(*forwarded);
      } else {
        resp = Route(req, &route);
      }
    }
  } catch (const Invalid& i) {
    resp = FromInvalid(i);
  }
  AddProtections(&resp);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.ObserveRequest(req.method + " " + route, resp.status, secs);
  return resp;
}

namespace {

// The practice whose stream a request writes to, for the requests that write: every non-GET
// under /api/v1/practices/{p} and /api/v1/portal/{p}, and POST /api/v1/practices (the new
// practice's id is in the body).
std::optional<std::string> PracticeWrittenBy(const HttpRequest& req) {
  if (req.method == "GET" || req.method == "HEAD") return std::nullopt;
  auto parts = Split(req.path);
  if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1") return std::nullopt;
  if (parts.size() >= 4 && (parts[2] == "practices" || parts[2] == "portal")) {
    return IsValidPracticeId(parts[3]) ? std::optional<std::string>(parts[3]) : std::nullopt;
  }
  if (parts.size() == 3 && parts[2] == "practices" && req.method == "POST") {
    json b = json::parse(req.body, nullptr, false);
    if (b.is_object() && b.contains("practice_id") && b["practice_id"].is_string() &&
        IsValidPracticeId(b["practice_id"].get<std::string>())) {
      return b["practice_id"].get<std::string>();
    }
  }
  return std::nullopt;
}

constexpr const char* kForwardedHeader = "remit-forwarded";
// The client of a forwarded request, named by the forwarding process (believed only from a peer).
constexpr const char* kClientHeader = "remit-client-address";

}  // namespace

std::optional<HttpResponse> Api::ForwardToOwner(const HttpRequest& req) {
  PracticeOwners* m = ActiveOwners();
  if (m == nullptr) return std::nullopt;
  auto practice = PracticeWrittenBy(req);
  if (!practice || m->Owns(*practice)) return std::nullopt;
  if (!req.Header(kForwardedHeader).empty()) {
    // Sent here as the owner, but ownership has moved: the sender asks again.
    return Problem(503, "not_owner", "this process no longer writes for practice " + *practice);
  }
  std::map<std::string, std::string> headers;
  for (const char* h : {"authorization", "idempotency-key", "content-type"}) {
    std::string v = req.Header(h);
    if (!v.empty()) headers[h] = v;
  }
  headers[kClientHeader] = ClientOf(req);
  return CallOwner(*practice, req.method, req.target, req.body, std::move(headers));
}

std::optional<HttpResponse> Api::CallOwner(const std::string& practice, const std::string& method,
                                           const std::string& target, const std::string& body,
                                           std::map<std::string, std::string> headers) {
  PracticeOwners* m = ActiveOwners();
  if (m == nullptr) return std::nullopt;  // left the cluster meanwhile (shutting down)
  headers[kForwardedHeader] = "1";
  auto deadline = std::chrono::steady_clock::now() + kForwardWait;
  std::string last = "no process owns it yet";
  for (;;) {
    if (m->Owns(practice)) return std::nullopt;  // it became ours meanwhile
    std::string url = m->OwnerUrl(practice);
    std::string host;
    int port = 0;
    if (!url.empty() && url != m->url() && SplitHttpUrl(url, &host, &port)) {
      auto r = HttpCall(host, port, method, target, body, headers, std::chrono::seconds(30));
      if (r.ok() && !(r->status == 503 && r->body.find("not_owner") != std::string::npos)) {
        // Read-your-writes here too: wait until this process's mirror and views hold what the
        // owner wrote before answering.
        if (m->CatchUp(practice, std::chrono::seconds(10)).ok()) {
          app_->runner().WaitApplied(app_->log().EndOffset(), std::chrono::seconds(10));
        }
        auto ct = r->headers.find("content-type");
        HttpResponse out{r->status, ct == r->headers.end() ? "" : ct->second, r->body, {}};
        for (const auto& [k, v] : r->headers) {
          if (k == "idempotent-replayed" || k == "retry-after" || k == "location" ||
              k == "cache-control") {
            out.headers.emplace_back(k, v);
          }
        }
        return out;
      }
      last = r.ok() ? "its owner is handing it over" : r.status().ToString();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      HttpResponse p =
          Problem(503, "unavailable", "practice " + practice + " has no reachable writer: " + last);
      p.headers.emplace_back("Retry-After", "2");
      return p;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void Api::RecordAccess(const std::string& practice, const std::string& actor,
                       const std::string& reader, const std::string& resource,
                       const std::string& patient_id) {
  std::string key = practice + "\n" + reader + "\n" + resource;
  {
    std::lock_guard<std::mutex> l(access_mu_);
    if (accessed_.contains(key)) return;
    if (accessed_.size() >= kAccessMemoryMax) accessed_.clear();
    accessed_.insert(key);
  }
  bool recorded = false;
  if (ActiveOwners() != nullptr && !ActiveOwners()->Owns(practice)) {
    // The owner writes the access event; a read never waits long for it.
    json b = {{"actor", actor}, {"resource", resource}, {"patient_id", patient_id}};
    auto r = CallOwner(practice, "POST", "/internal/v1/practices/" + practice + "/record-access",
                       b.dump(),
                       {{"authorization", "Bearer " + app_->operator_token()},
                        {"content-type", "application/json"}});
    recorded = r && r->status == 204;
  } else {
    engine::CommandContext ctx{practice, "access:" + RandomHex(12), {}, actor, 0};
    auto r = app_->Execute(ctx, engine::RecordAccess{resource, patient_id});
    recorded = r.ok() && !r->rejection;
  }
  if (!recorded) {
    std::lock_guard<std::mutex> l(access_mu_);
    accessed_.erase(key);  // not recorded: try again on the next read
  }
}

std::string Api::ClientOf(const HttpRequest& req) {
  if (req.from_peer) {
    std::string named = req.Header(kClientHeader);
    if (!named.empty()) return named;
  }
  return req.client_address;
}

std::optional<HttpResponse> Api::Throttle(RateLimiter& limiter, const std::string& key) {
  int retry_after = 1;
  if (limiter.Take(key, &retry_after)) return std::nullopt;
  HttpResponse p = Problem(429, "rate_limited",
                           "too many requests; try again in " + std::to_string(retry_after) + " s");
  p.headers.emplace_back("Retry-After", std::to_string(retry_after));
  return p;
}

HttpResponse Api::WithIdempotency(const HttpRequest& req, const Principal& who,
                                  const std::function<HttpResponse()>& fn) {
  std::string key = req.Header("idempotency-key");
  if (key.empty()) return fn();
  if (!IsValidIdempotencyKey(key)) {
    return Problem(400, "validation_failed",
                   "Idempotency-Key must be 1 to 255 printable ASCII characters");
  }
  std::string scope = who.kind == Principal::Kind::kPatient ? who.practice_id + "/" + who.patient_id
                      : who.kind == Principal::Kind::kStaff ? who.practice_id
                      : who.kind == Principal::Kind::kOperator ? "operator"
                                                               : "anonymous" + req.path;
  std::string store_key = "idem/" + scope + "/" + Hex(Sha256(key));
  // Keyed: request bodies hold passwords and codes (SecretsStore::Fingerprint). Records kept
  // before it was keyed carry the plain SHA-256 and still match.
  std::string request = req.method + " " + req.path + std::string(1, '\0') + req.body;
  std::string fingerprint = parts_.secrets->Fingerprint(request);
  {
    std::unique_lock<std::mutex> l(idem_mu_);
    idem_cv_.wait(l, [&] { return !idem_in_flight_.contains(store_key); });
    idem_in_flight_.insert(store_key);
  }
  struct Release {
    Api* api;
    std::string k;
    ~Release() {
      std::lock_guard<std::mutex> l(api->idem_mu_);
      api->idem_in_flight_.erase(k);
      api->idem_cv_.notify_all();
    }
  } release{this, store_key};

  auto stored = parts_.idempotency->Get(store_key);
  if (!stored.ok()) return Problem(503, "unavailable", stored.status().ToString());
  if (stored->has_value()) {
    json s = json::parse(**stored);
    std::string kept = s.value("fingerprint", "");
    if (kept != fingerprint && kept != Hex(Sha256(req.method + " " + req.path, req.body))) {
      return Problem(409, "idempotency_conflict",
                     "this Idempotency-Key was used with a different request");
    }
    // (Stripped again: records kept before secrets were left out of them.)
    HttpResponse r{s.value("status", 200),
                   s.value("content_type", "application/json"),
                   WithoutSecrets(s.value("body", "")),
                   {{"Idempotent-Replayed", "true"}}};
    return r;
  }
  HttpResponse r = fn();
  if (r.status < 500) {
    // What is kept to replay holds no secret: a copy of the store must open nothing.
    json s = {{"fingerprint", fingerprint},
              {"status", r.status},
              {"content_type", r.content_type},
              {"body", WithoutSecrets(r.body)},
              {"created_at_us", NowMicros()}};
    parts_.idempotency->Put(store_key, s.dump()).IgnoreError();
  }
  return r;
}

HttpResponse Api::Route(const HttpRequest& req, std::string* route) {
  const std::string& m = req.method;
  auto parts = Split(req.path);
  auto n = parts.size();

  if (req.path == "/healthz") {
    *route = "/healthz";
    Status s = app_->runner().status();
    if (!s.ok()) return Json(503, {{"status", "failing"}, {"detail", s.ToString()}});
    int64_t checked = parts_.storage_checked_at_us->load();
    json storage_checked = checked == 0 ? json(nullptr) : json(FormatTime(checked));
    if (!app_->degraded_reason().empty()) {
      return Json(503, {{"status", "read_only"},
                        {"detail", app_->degraded_reason()},
                        {"storage_checked_at", storage_checked}});
    }
    if (app_->read_only()) return Json(200, {{"status", "ok"}, {"read_only", true}});
    return Json(200, {{"status", "ok"}, {"storage_checked_at", storage_checked}});
  }
  if (req.path == "/openapi.yaml") {
    *route = "/openapi.yaml";
    auto doc = WebAsset("openapi.yaml");
    return HttpResponse{200, "application/yaml", std::string(doc.value_or("")), {}};
  }
  if (req.path == "/metrics") {
    *route = "/metrics";
    uint64_t end = app_->log().EndOffset();
    uint64_t applied = app_->runner().applied_end();
    std::vector<std::tuple<std::string, std::string, double>> gauges = {
        {"remit_events_appended", "Events appended by this process.",
         static_cast<double>(app_->events_appended())},
        {"remit_password_hashes",
         "Password hashes computed (enrolment and sign-in), bounded in number at once.",
         static_cast<double>(parts_.portal->hashing().runs())},
        {"remit_password_hashes_peak", "The most password hashes that ran at once.",
         static_cast<double>(parts_.portal->hashing().peak())},
        {"remit_log_end_offset", "One past the last durable offset.", static_cast<double>(end)},
        {"remit_projection_lag_events", "Durable events not yet applied to the views.",
         static_cast<double>(end - std::min(end, applied))}};
    if (parts_.owners != nullptr) {
      auto more = parts_.owners->Gauges();
      gauges.insert(gauges.end(), more.begin(), more.end());
    }
    HttpResponse r{200, "text/plain; version=0.0.4", metrics_.Render(gauges), {}};
    return r;
  }
  // POST /internal/v1/practices/{p}/record-access: an access event sent by a peer process to
  // the practice's writer (operator token: the processes share it).
  if (n == 5 && parts[0] == "internal" && parts[1] == "v1" && parts[2] == "practices" &&
      parts[4] == "record-access") {
    *route = "/internal/v1/practices/{p}/record-access";
    if (m != "POST") return Problem(405, "method_not_allowed", "use POST");
    if (app_->Authenticate(BearerOf(req)).kind != Principal::Kind::kOperator) {
      return Problem(401, "unauthorized", "the operator token is required");
    }
    json b = ParseBody(req);
    engine::CommandContext ctx{parts[3], "access:" + RandomHex(12), {}, Str(b, "actor"), 0};
    auto r = app_->Execute(ctx, engine::RecordAccess{Str(b, "resource"), Str(b, "patient_id")});
    if (!r.ok()) return Unavailable(r.status());
    if (r->rejection) return FromRejection(*r->rejection);
    return HttpResponse{204, "", "", {}};
  }
  // POST /api/v1/operator/backup {"to": DIR}: `remit backup` asks the running server, which
  // holds every writer still while it copies (operator token; the path is on its machine).
  if (req.path == "/api/v1/operator/backup") {
    *route = "/api/v1/operator/backup";
    if (m != "POST") return Problem(405, "method_not_allowed", "use POST");
    if (app_->Authenticate(BearerOf(req)).kind != Principal::Kind::kOperator) {
      return Problem(401, "unauthorized", "the operator token is required");
    }
    json b = ParseBody(req);
    std::string to = Str(b, "to");
    if (to.empty() || to.front() != '/')
      throw Invalid{400, "validation_failed", "to must be an absolute path"};
    auto r = parts_.backup(to);
    if (!r.ok() && r.status().IsInvalidArgument())
      return Problem(409, "backup_refused", r.status().ToString());
    if (!r.ok()) return Problem(500, "backup_failed", r.status().ToString());
    return Json(200, {{"to", to}, {"events", *r}});
  }
  if (n >= 1 && parts[0] == "sandbox-gateway") return RouteSandbox(req, route);
  if (n >= 1 && (parts[0] == "portal" || parts[0] == "staff" || parts[0] == "assets")) {
    return RoutePage(req, parts, route);
  }
  if (n < 2 || parts[0] != "api" || parts[1] != "v1") {
    return Problem(404, "not_found", "no such path: " + req.path);
  }
  if (n >= 4 && parts[2] == "portal") return RoutePortal(req, parts, route);

  Principal who = app_->Authenticate(BearerOf(req));
  if (who.kind == Principal::Kind::kNone) {
    if (auto session = parts_.portal->Authenticate(BearerOf(req))) {
      who.kind = Principal::Kind::kPatient;
      who.practice_id = session->practice_id;
      who.patient_id = session->patient_id;
    }
  }
  auto unauthorized = [] {
    return Problem(401, "unauthorized", "a valid bearer token is required");
  };

  // GET /api/v1/whoami
  if (n == 3 && parts[2] == "whoami") {
    *route = "/api/v1/whoami";
    if (m != "GET") return Problem(405, "method_not_allowed", "use GET");
    switch (who.kind) {
      case Principal::Kind::kNone:
        return unauthorized();
      case Principal::Kind::kOperator:
        return Json(200, {{"kind", "operator"}});
      case Principal::Kind::kStaff:
        return Json(200, {{"kind", "staff"},
                          {"practice_id", who.practice_id},
                          {"role", who.role},
                          {"token_id", who.token_id}});
      case Principal::Kind::kPatient:
        return Json(200, {{"kind", "patient"},
                          {"practice_id", who.practice_id},
                          {"patient_id", who.patient_id}});
    }
  }

  if (n < 3 || parts[2] != "practices")
    return Problem(404, "not_found", "no such path: " + req.path);

  // POST /api/v1/practices
  if (n == 3) {
    *route = "/api/v1/practices";
    if (m != "POST") return Problem(405, "method_not_allowed", "use POST");
    if (who.kind == Principal::Kind::kNone) return unauthorized();
    if (who.kind != Principal::Kind::kOperator)
      return Problem(403, "forbidden", "only the operator creates practices");
    return WithIdempotency(req, who, [&] {
      json b = ParseBody(req);
      std::string id = Str(b, "practice_id");
      std::string name = Str(b, "name");
      std::string currency = Str(b, "currency", false);
      if (currency.empty()) currency = "USD";
      if (!IsValidPracticeId(id)) {
        throw Invalid{400, "validation_failed", "practice_id must match [a-z0-9-]{3,40}"};
      }
      if (name.empty() || name.size() > 200) {
        throw Invalid{400, "validation_failed", "name must be 1 to 200 characters"};
      }
      if (currency != "USD") throw Invalid{400, "validation_failed", "currency must be \"USD\""};
      engine::CommandContext ctx{id, "practice:" + id, Sha256(req.body), ActorOf(who), 0};
      auto r = app_->Execute(ctx, engine::RegisterPractice{name, currency});
      if (!r.ok() || r->rejection) return FromExec(r);
      return Json(201, {{"practice_id", id},
                        {"name", name},
                        {"currency", currency},
                        {"portal_payments_enabled", false},
                        {"auto_post_to_ledger", false}});
    });
  }

  const std::string& pid = parts[3];
  if (who.kind == Principal::Kind::kNone) return unauthorized();
  if (!IsValidPracticeId(pid)) return Problem(404, "not_found", "no such practice");

  // Access rule for practice routes: `least` is the least staff role; the operator only where
  // `operator_ok`.
  auto deny = [&](const char* least, bool operator_ok) -> std::optional<HttpResponse> {
    if (who.kind == Principal::Kind::kOperator) {
      if (operator_ok) {
        if (!app_->PracticeExists(pid)) return Problem(404, "not_found", "no practice " + pid);
        return std::nullopt;
      }
      return Problem(403, "forbidden", "the operator token is not a practice token");
    }
    if (who.kind != Principal::Kind::kStaff || who.practice_id != pid) {
      return Problem(403, "forbidden", "this token is not for practice " + pid);
    }
    if (RoleRank(who.role) < RoleRank(least)) {
      return Problem(403, "forbidden", std::string("this needs the ") + least + " role");
    }
    return std::nullopt;
  };
  // ?as_of=T: folds the practice's events up to T into `mem`; an answer when that fails.
  auto fold_as_of = [&](const std::string& text, MemoryViewTxn* mem,
                        int64_t* at) -> std::optional<HttpResponse> {
    auto t = ParseTime(text);
    if (!t) return Problem(400, "validation_failed", "as_of must be an RFC 3339 time");
    Status s = FoldAsOf(app_->log(), pid, *t, mem);
    if (!s.ok()) return Problem(503, "unavailable", s.ToString());
    *at = *t;
    return std::nullopt;
  };
  auto ctx_for = [&](std::string key) {
    return engine::CommandContext{pid, std::move(key),
                                  Sha256(req.method + " " + req.path, req.body), ActorOf(who), 0};
  };
  auto command_key = [&](const std::string& fallback) {
    std::string k = req.Header("idempotency-key");
    return k.empty() ? fallback : "idem:" + k;
  };

  // /api/v1/practices/{p}/tokens[/{token_id}]
  if (n >= 5 && parts[4] == "tokens" && n <= 6) {
    *route = n == 5 ? "/api/v1/practices/{p}/tokens" : "/api/v1/practices/{p}/tokens/{id}";
    if (auto d = deny("admin", true)) return *d;
    if (n == 5) {
      if (m != "POST") return Problem(405, "method_not_allowed", "use POST");
      return WithIdempotency(req, who, [&] {
        json b = ParseBody(req);
        std::string role = Str(b, "role");
        std::string label = Str(b, "label", false);
        if (RoleRank(role) == 0) {
          throw Invalid{400, "validation_failed", "role must be admin, staff or auditor"};
        }
        // Optional: when the token stops working by itself (a temp's, an integration's).
        int64_t expires_at_us = 0;
        std::string expires = Str(b, "expires_at", false);
        if (!expires.empty()) {
          auto t = ParseTime(expires);
          int64_t now = NowMicros();
          if (!t || *t <= now || *t > now + int64_t{10} * 366 * 24 * 3600 * 1000000) {
            throw Invalid{400, "validation_failed",
                          "expires_at must be an RFC 3339 time within the next 10 years"};
          }
          expires_at_us = *t;
        }
        auto t = app_->CreateToken(pid, role, label, ActorOf(who), expires_at_us);
        if (!t.ok()) return Problem(503, "unavailable", t.status().ToString());
        return Json(201, {{"token_id", t->first},
                          {"token", t->second},
                          {"role", role},
                          {"label", label},
                          {"expires_at",
                           expires_at_us == 0 ? json(nullptr) : json(FormatTime(expires_at_us))}});
      });
    }
    if (m != "DELETE") return Problem(405, "method_not_allowed", "use DELETE");
    auto r = app_->Execute(ctx_for("revoke:" + parts[5] + ":" + RandomHex(8)),
                           engine::RevokeToken{parts[5]});
    if (!r.ok() || r->rejection) return FromExec(r);
    return HttpResponse{204, "", "", {}};
  }

  // /api/v1/practices/{p}/settings
  if (n == 5 && parts[4] == "settings") {
    *route = "/api/v1/practices/{p}/settings";
    if (m == "GET") {
      if (auto d = deny("staff", false)) return *d;
      auto pr = PracticeRecord(LiveReader(app_->views()), pid);
      if (!pr) return Problem(404, "not_found", "no practice " + pid);
      return Json(200, SettingsJson(*pr));
    }
    if (m != "PUT") return Problem(405, "method_not_allowed", "use GET or PUT");
    if (auto d = deny("admin", false)) return *d;
    json b = ParseBody(req);
    engine::ChangeSettings c{OptBool(b, "portal_payments_enabled"),
                             OptBool(b, "auto_post_to_ledger")};
    auto r = app_->Execute(ctx_for(command_key("settings:" + RandomHex(8))), c);
    if (!r.ok() || r->rejection) return FromExec(r);
    auto pr = PracticeRecord(LiveReader(app_->views()), pid);
    return Json(200, SettingsJson(pr.value_or(json::object())));
  }

  // /api/v1/practices/{p}/resources/portal-link.png
  if (n == 6 && parts[4] == "resources" && parts[5] == "portal-link.png") {
    *route = "/api/v1/practices/{p}/resources/portal-link.png";
    if (m != "GET") return Problem(405, "method_not_allowed", "use GET");
    if (auto d = deny("staff", false)) return *d;
    auto png = QrPng(app_->public_url() + "/portal/" + pid);
    if (!png.ok()) return Problem(503, "unavailable", png.status().ToString());
    return HttpResponse{
        200,
        "image/png",
        std::move(png.value()),
        {{"Content-Disposition", "attachment; filename=\"" + pid + "-portal-qr.png\""},
         {"Cache-Control", "no-store"}}};
  }

  // /api/v1/practices/{p}/resources/portal-link
  if (n == 6 && parts[4] == "resources" && parts[5] == "portal-link") {
    *route = "/api/v1/practices/{p}/resources/portal-link";
    if (m != "GET") return Problem(405, "method_not_allowed", "use GET");
    if (auto d = deny("staff", false)) return *d;
    return Json(200, {{"url", app_->public_url() + "/portal/" + pid}});
  }

  // PUT /api/v1/practices/{p}/patients/{patient_id}
  if (n == 6 && parts[4] == "patients") {
    *route = "/api/v1/practices/{p}/patients/{id}";
    if (m != "PUT") return Problem(405, "method_not_allowed", "use PUT");
    if (auto d = deny("staff", false)) return *d;
    const std::string& patient_id = parts[5];
    if (!IsValidExternalId(patient_id)) {
      return Problem(400, "validation_failed", "patient_id must match [A-Za-z0-9_-]{1,64}");
    }
    json b = ParseBody(req);
    PatientUpserted p{patient_id,
                      Str(b, "first_name"),
                      Str(b, "last_name"),
                      Str(b, "phone", false),
                      Str(b, "email", false),
                      Str(b, "date_of_birth", false),
                      Str(b, "guarantor_id", false)};
    if (p.first_name.empty() || p.last_name.empty()) {
      throw Invalid{400, "validation_failed", "first_name and last_name must not be empty"};
    }
    for (const auto* f : {&p.first_name, &p.last_name, &p.phone, &p.email}) {
      if (f->size() > 200)
        throw Invalid{400, "validation_failed",
                      "names, phone and email are limited to 200 characters"};
    }
    if (!p.date_of_birth.empty() && !IsValidDate(p.date_of_birth)) {
      throw Invalid{400, "validation_failed", "date_of_birth must be a date YYYY-MM-DD"};
    }
    if (!p.guarantor_id.empty() && !IsValidExternalId(p.guarantor_id)) {
      return Problem(422, "invalid_guarantor", "guarantor_id is not a valid patient id");
    }
    auto r = app_->Execute(ctx_for(command_key("patient:" + patient_id + ":" + RandomHex(8))),
                           engine::UpsertPatient{p});
    if (!r.ok() || r->rejection) return FromExec(r);
    json out = {{"patient_id", p.patient_id},
                {"first_name", p.first_name},
                {"last_name", p.last_name},
                {"phone", p.phone},
                {"email", p.email},
                {"date_of_birth", p.date_of_birth},
                {"guarantor_id", p.guarantor_id.empty() ? json(nullptr) : json(p.guarantor_id)}};
    return Json(r->outcome == engine::Outcome::kCreated ? 201 : 200, out);
  }

  // POST /api/v1/practices/{p}/charges
  if (n == 5 && parts[4] == "charges") {
    *route = "/api/v1/practices/{p}/charges";
    if (m != "POST") return Problem(405, "method_not_allowed", "use POST");
    if (auto d = deny("staff", false)) return *d;
    return WithIdempotency(req, who, [&] {
      json b = ParseBody(req);
      ChargePosted c{Str(b, "charge_id"), Str(b, "patient_id"), 0, Str(b, "description", false),
                     Str(b, "service_date")};
      c.amount_cents = PositiveCents(b, "amount_cents");
      if (!IsValidExternalId(c.charge_id)) {
        throw Invalid{400, "validation_failed", "charge_id must match [A-Za-z0-9_-]{1,64}"};
      }
      if (!IsValidExternalId(c.patient_id)) {
        throw Invalid{400, "validation_failed", "patient_id must match [A-Za-z0-9_-]{1,64}"};
      }
      if (!IsValidDate(c.service_date)) {
        throw Invalid{400, "validation_failed", "service_date must be a date YYYY-MM-DD"};
      }
      if (c.description.size() > 500) {
        throw Invalid{400, "validation_failed", "description is limited to 500 characters"};
      }
      auto r = app_->Execute(ctx_for("charge:" + c.charge_id), engine::PostCharge{c});
      if (!r.ok() || r->rejection) return FromExec(r);
      return Json(r->outcome == engine::Outcome::kCreated ? 201 : 200, ChargeJson(c));
    });
  }

  // POST /api/v1/practices/{p}/patients/{id}/portal-invites
  if (n == 7 && parts[4] == "patients" && parts[6] == "portal-invites") {
    *route = "/api/v1/practices/{p}/patients/{id}/portal-invites";
    if (m != "POST") return Problem(405, "method_not_allowed", "use POST");
    if (auto d = deny("staff", false)) return *d;
    return WithIdempotency(req, who, [&] {
      auto r = app_->IssueInvite(pid, parts[5], ActorOf(who));
      if (!r.ok()) return Unavailable(r.status());
      if (r->index() == 0) {
        return FromExec(ExecResult{engine::Outcome::kUnchanged, std::get<0>(*r), 0});
      }
      const auto& inv = std::get<1>(*r);
      return Json(201, {{"invite_code", inv.code},
                        {"url", app_->public_url() + "/portal/" + pid + "/enroll?code=" + inv.code},
                        {"expires_at", FormatTime(inv.expires_at_us)},
                        {"account_reset", inv.account_reset}});
    });
  }

  // GET /api/v1/practices/{p}/accounts/{id}/balance
  if (n == 7 && parts[4] == "accounts" && parts[6] == "balance") {
    *route = "/api/v1/practices/{p}/accounts/{id}/balance";
    if (m != "GET") return Problem(405, "method_not_allowed", "use GET");
    if (auto d = deny("auditor", false)) return *d;
    auto as_of = req.query.find("as_of");
    if (as_of != req.query.end()) {
      MemoryViewTxn mem;
      int64_t t = 0;
      if (auto fail = fold_as_of(as_of->second, &mem, &t)) return *fail;
      auto v = FamilyView(MemoryReader(mem), pid, parts[5]);
      if (!v) return Problem(404, "patient_not_found", "no patient " + parts[5] + " at that time");
      RecordAccess(pid, ActorOf(who), who.token_id, "balance_history", parts[5]);
      (*v)["as_of"] = FormatTime(t);
      return Json(200, *v);
    }
    auto v = FamilyView(LiveReader(app_->views()), pid, parts[5]);
    if (!v) return Problem(404, "patient_not_found", "no patient " + parts[5]);
    RecordAccess(pid, ActorOf(who), who.token_id, "balance", parts[5]);
    return Json(200, *v);
  }

  // GET /api/v1/practices/{p}/events[?after=<offset>&limit=<n>]
  if (n == 5 && parts[4] == "events") {
    *route = "/api/v1/practices/{p}/events";
    if (m != "GET") return Problem(405, "method_not_allowed", "use GET");
    if (auto d = deny("auditor", false)) return *d;
    auto number = [&](const char* name, uint64_t dflt, uint64_t max) -> std::optional<uint64_t> {
      auto it = req.query.find(name);
      if (it == req.query.end()) return dflt;
      const std::string& v = it->second;
      if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
      uint64_t x = std::stoull(v);
      if (x > max) return std::nullopt;
      return x;
    };
    auto limit = number("limit", 100, 1000);
    if (!limit || *limit == 0)
      return Problem(400, "validation_failed", "limit must be an integer from 1 to 1000");
    bool has_after = req.query.contains("after");
    auto after = number("after", 0, UINT64_MAX / 2);
    if (!after) return Problem(400, "validation_failed", "after must be an event offset");
    uint64_t from = has_after ? *after + 1 : 0;
    json items = json::array();
    bool more = false;
    Status s = ForEachEvent(app_->log(), pid, [&](uint64_t offset, const Event& ev) {
      if (offset < from) return true;
      if (items.size() == *limit) {
        more = true;
        return false;
      }
      json j = EventJson(offset, ev);
      items.push_back({{"offset", offset},
                       {"event_id", j["event_id"]},
                       {"type", j["type"]},
                       {"occurred_at", j["occurred_at"]},
                       {"prev_hash", j["prev_hash"]},
                       {"hash", j["hash"]},
                       {"actor", j["actor"]},
                       {"payload", j["payload"]}});
      return true;
    });
    if (!s.ok()) return Problem(503, "unavailable", s.ToString());
    RecordAccess(pid, ActorOf(who), who.token_id, "events", "");
    json next = more ? json(items.back()["offset"]) : json(nullptr);
    return Json(200, {{"items", items}, {"next_after", next}});
  }

  // GET /api/v1/practices/{p}/audit/verify
  if (n == 6 && parts[4] == "audit" && parts[5] == "verify") {
    *route = "/api/v1/practices/{p}/audit/verify";
    if (m != "GET") return Problem(405, "method_not_allowed", "use GET");
    if (auto d = deny("auditor", false)) return *d;
    ChainReport r = VerifyChains(app_->log(), pid);
    json out = {
        {"events_checked", r.events_checked},
        {"chain_ok", r.chain_ok},
        {"first_bad_offset", r.first_bad_offset ? json(*r.first_bad_offset) : json(nullptr)}};
    if (!r.chain_ok) out["detail"] = r.why;
    if (r.chain_ok) out["head_hash"] = r.head_hash_hex;
    return Json(200, out);
  }

  // GET /api/v1/practices/{p}/inbox[?unread=true]
  if (n == 5 && parts[4] == "inbox") {
    *route = "/api/v1/practices/{p}/inbox";
    if (m != "GET") return Problem(405, "method_not_allowed", "use GET");
    if (auto d = deny("staff", false)) return *d;
    auto unread = req.query.find("unread");
    bool only_unread =
        unread != req.query.end() && (unread->second == "true" || unread->second == "1");
    json items = json::array();
    for (auto& n : InboxItems(LiveReader(app_->views()), pid, only_unread, kInboxItemsMax)) {
      items.push_back(InboxJson(std::move(n)));
    }
    // Unread first, each group newest first (the scan is newest first).
    std::stable_partition(items.begin(), items.end(),
                          [](const json& n) { return !n.value("read", false); });
    return Json(200, {{"items", items}});
  }

  // POST /api/v1/practices/{p}/inbox/{notification_id}/read
  if (n == 7 && parts[4] == "inbox" && parts[6] == "read") {
    *route = "/api/v1/practices/{p}/inbox/{id}/read";
    if (m != "POST") return Problem(405, "method_not_allowed", "use POST");
    if (auto d = deny("staff", false)) return *d;
    auto r = app_->Execute(ctx_for("read:" + parts[5]), engine::MarkNotificationRead{parts[5]});
    if (!r.ok() || r->rejection) return FromExec(r);
    auto n = InboxItem(LiveReader(app_->views()), pid, parts[5]);
    return Json(200, InboxJson(n.value_or(json::object())));
  }

  // GET /api/v1/practices/{p}/transactions[?limit=&cursor=]
  if (n == 5 && parts[4] == "transactions") {
    *route = "/api/v1/practices/{p}/transactions";
    if (m != "GET") return Problem(405, "method_not_allowed", "use GET");
    if (auto d = deny("auditor", false)) return *d;
    size_t limit = 50;
    if (auto l = req.query.find("limit"); l != req.query.end()) {
      char* end = nullptr;
      long v = std::strtol(l->second.c_str(), &end, 10);
      if (l->second.empty() || *end != '\0' || v < 1 || v > 500) {
        return Problem(400, "validation_failed", "limit must be an integer from 1 to 500");
      }
      limit = static_cast<size_t>(v);
    }
    std::string cursor;
    if (auto c = req.query.find("cursor"); c != req.query.end()) cursor = c->second;
    json page;
    auto as_of = req.query.find("as_of");
    bool ok = false;
    if (as_of != req.query.end()) {
      // As the list stood then: the practice's events folded up to that moment.
      MemoryViewTxn mem;
      int64_t t = 0;
      if (auto fail = fold_as_of(as_of->second, &mem, &t)) return *fail;
      ok = TransactionsPage(MemoryReader(mem), pid, limit, cursor, &page);
      if (ok) page["as_of"] = FormatTime(t);
    } else {
      ok = TransactionsPage(LiveReader(app_->views()), pid, limit, cursor, &page);
    }
    if (!ok) return Problem(400, "validation_failed", "bad cursor");
    return Json(200, page);
  }

  // POST /api/v1/practices/{p}/payments/{payment_id}/post-to-ledger
  if (n == 7 && parts[4] == "payments" && parts[6] == "post-to-ledger") {
    *route = "/api/v1/practices/{p}/payments/{id}/post-to-ledger";
    if (m != "POST") return Problem(405, "method_not_allowed", "use POST");
    if (auto d = deny("staff", false)) return *d;
    auto r = app_->Execute(ctx_for("post:" + parts[5]), engine::PostPayment{parts[5]});
    if (!r.ok() || r->rejection) return FromExec(r);
    auto pv = PaymentRecord(LiveReader(app_->views()), pid, parts[5]);
    return Json(200, TransactionJson(pv.value_or(json::object())));
  }

  return Problem(404, "not_found", "no such path: " + req.path);
}

}  // namespace remit

namespace remit {

HttpResponse Api::RouteSandbox(const HttpRequest& req, std::string* route) {
  *route = "/sandbox-gateway/v1/tokens";
  if (req.path != "/sandbox-gateway/v1/tokens")
    return Problem(404, "not_found", "no such path: " + req.path);
  if (req.method != "POST") return Problem(405, "method_not_allowed", "use POST");
  json b = ParseBody(req);
  std::string number = Str(b, "number");
  auto month = b.find("exp_month"), year = b.find("exp_year");
  if (month == b.end() || !month->is_number_integer() || year == b.end() ||
      !year->is_number_integer()) {
    throw Invalid{400, "validation_failed", "exp_month and exp_year must be integers"};
  }
  std::string cvc = Str(b, "cvc");
  if (number.size() > 32) throw Invalid{422, "invalid_card", "the card number is not valid"};
  auto t = parts_.sandbox->Tokenize(number, month->get<int>(), year->get<int>(), cvc, NowMicros());
  if (!t.ok()) {
    if (t.status().code() == Status::Code::kInvalidArgument) {
      return Problem(422, "invalid_card", t.status().message());
    }
    return Problem(503, "unavailable", t.status().ToString());
  }
  HttpResponse r = Json(201, {{"card_token", t->token},
                              {"brand", t->card.brand},
                              {"last4", t->card.last4},
                              {"exp_month", t->card.exp_month},
                              {"exp_year", t->card.exp_year}});
  // The page posts card fields here from the portal's origin.
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse Api::RoutePortal(const HttpRequest& req, const std::vector<std::string>& parts,
                              std::string* route) {
  const std::string& m = req.method;
  const std::string& pid = parts[3];
  size_t n = parts.size();
  if (!IsValidPracticeId(pid) || !app_->PracticeExists(pid)) {
    return Problem(404, "not_found", "no practice " + pid);
  }
  auto post_only = [&]() -> std::optional<HttpResponse> {
    if (m != "POST") return Problem(405, "method_not_allowed", "use POST");
    return std::nullopt;
  };
  Portal& portal = *parts_.portal;
  bool anonymous_step =
      m == "POST" &&
      ((n == 5 && (parts[4] == "enroll" || parts[4] == "identity-check" || parts[4] == "login")) ||
       (n == 6 && parts[4] == "login" && parts[5] == "verify"));
  if (anonymous_step) {
    if (auto limited = Throttle(steps_per_address_, ClientOf(req))) {
      *route = "rate_limited";
      return *limited;
    }
  }

  if (n == 5 && parts[4] == "enroll") {
    *route = "/api/v1/portal/{p}/enroll";
    if (auto d = post_only()) return *d;
    // Anonymous: the key is kept per route (Api::WithIdempotency).
    return WithIdempotency(req, Principal{}, [&]() -> HttpResponse {
      json b = ParseBody(req);
      std::string code = Str(b, "invite_code"), username = Str(b, "username"),
                  password = Str(b, "password");
      if (!IsValidUsername(username)) {
        throw Invalid{400, "validation_failed",
                      "username must be 3 to 64 letters, digits or . _ - @ +"};
      }
      if (code.empty() || code.size() > 128)
        return Problem(400, "invalid_invite", "the invite code is not valid");
      if (auto weak = PasswordWeakness(password, username))
        return Problem(422, "weak_password", *weak);
      auto r = portal.Enroll(pid, code, username, password);
      if (!r.ok()) return Unavailable(r.status());
      if (auto* rej = RejectionOf(r)) return FromRejection(*rej);
      const auto& e = std::get<1>(*r);
      json out = {{"totp_secret_base32", e.totp_secret_base32}, {"otpauth_uri", e.otpauth_uri}};
      // For the enrolment page: the URI as a QR code, so no secret ever travels in a URL.
      if (auto png = QrPng(e.otpauth_uri, 240); png.ok()) {
        out["totp_qr_png_base64"] = Base64(png.value());
      }
      HttpResponse resp = Json(201, out);
      resp.headers.emplace_back("Cache-Control", "no-store");
      return resp;
    });
  }
  if (n == 5 && parts[4] == "identity-check") {
    *route = "/api/v1/portal/{p}/identity-check";
    if (auto d = post_only()) return *d;
    // Anonymous: the key is kept per route (Api::WithIdempotency).
    return WithIdempotency(req, Principal{}, [&]() -> HttpResponse {
      json b = ParseBody(req);
      std::string username = Str(b, "username"), method = Str(b, "method"), value = Str(b, "value");
      if (method != "phone" && method != "email" && method != "initials") {
        throw Invalid{400, "validation_failed", "method must be phone, email or initials"};
      }
      if (username.size() > 64 || value.size() > 200) {
        return Problem(401, "identity_not_verified", "we could not confirm who you are");
      }
      // Before anything is written: an address that failed too often, a username tried too
      // often (the contract's lockout after 5 failures stays reachable: 10 come at once).
      std::string client = ClientOf(req);
      int retry_after = 1;
      if (!identity_failures_per_address_.Has(client, &retry_after)) {
        HttpResponse p =
            Problem(429, "rate_limited", "too many failed identity checks from this address");
        p.headers.emplace_back("Retry-After", std::to_string(retry_after));
        return p;
      }
      if (auto limited =
              Throttle(identity_checks_per_user_, pid + "/" + NormalizeUsername(username))) {
        return *limited;
      }
      auto r = portal.CheckIdentity(pid, username, method, value);
      if (!r.ok()) return Unavailable(r.status());
      if (auto* rej = RejectionOf(r)) {
        if (rej->reason == engine::Reject::kIdentityNotVerified)
          identity_failures_per_address_.Charge(client);
        return FromRejection(*rej);
      }
      return Json(200, {{"identity_token", std::get<1>(*r)},
                        {"expires_in_seconds", engine::kIdentityTokenTtlUs / 1000000}});
    });
  }
  if (n == 5 && parts[4] == "login") {
    *route = "/api/v1/portal/{p}/login";
    if (auto d = post_only()) return *d;
    // Anonymous: the key is kept per route (Api::WithIdempotency).
    return WithIdempotency(req, Principal{}, [&]() -> HttpResponse {
      json b = ParseBody(req);
      std::string token = Str(b, "identity_token"), username = Str(b, "username"),
                  password = Str(b, "password");
      if (password.size() > 1024)
        return Problem(401, "invalid_credentials", "wrong username or password");
      auto r = portal.Login(pid, token, username, password);
      if (!r.ok()) return Unavailable(r.status());
      if (auto* rej = RejectionOf(r)) return FromRejection(*rej);
      return Json(200, {{"challenge_token", std::get<1>(*r)}, {"factor", "totp"}});
    });
  }
  if (n == 6 && parts[4] == "login" && parts[5] == "verify") {
    *route = "/api/v1/portal/{p}/login/verify";
    if (auto d = post_only()) return *d;
    // Anonymous: the key is kept per route (Api::WithIdempotency).
    return WithIdempotency(req, Principal{}, [&]() -> HttpResponse {
      json b = ParseBody(req);
      std::string token = Str(b, "challenge_token"), code = Str(b, "code");
      auto r = portal.VerifyCode(pid, token, code);
      if (!r.ok()) return Unavailable(r.status());
      if (auto* rej = RejectionOf(r)) return FromRejection(*rej);
      const auto& ns = std::get<1>(*r);
      return Json(200, {{"session_token", ns.token}, {"expires_at", FormatTime(ns.expires_at_us)}});
    });
  }

  // Everything below needs a patient session of this practice.
  std::string bearer = BearerOf(req);
  auto session = portal.Authenticate(bearer);
  if (!session) {
    if (bearer.empty() || app_->Authenticate(bearer).kind == Principal::Kind::kNone) {
      return Problem(401, "unauthorized", "sign in to the portal first");
    }
    return Problem(403, "forbidden", "staff tokens cannot use the patient portal");
  }
  if (session->practice_id != pid)
    return Problem(403, "forbidden", "this session is for another practice");

  if (n == 5 && parts[4] == "logout") {
    *route = "/api/v1/portal/{p}/logout";
    if (auto d = post_only()) return *d;
    Status s = portal.Logout(*session);
    if (!s.ok()) return Problem(503, "unavailable", s.ToString());
    return HttpResponse{204, "", "", {}};
  }
  if (n == 6 && parts[4] == "me" && parts[5] == "balances") {
    *route = "/api/v1/portal/{p}/me/balances";
    if (m != "GET") return Problem(405, "method_not_allowed", "use GET");
    auto v = FamilyView(LiveReader(app_->views()), pid, session->patient_id);
    if (!v) return Problem(404, "patient_not_found", "no patient record");
    RecordAccess(pid, "patient:" + session->patient_id, session->session_id, "balance",
                 session->patient_id);
    return Json(200, *v);
  }
  if (n >= 6 && parts[4] == "me" && parts[5] == "cards") {
    if (n == 6) {
      *route = "/api/v1/portal/{p}/me/cards";
      if (m != "GET") return Problem(405, "method_not_allowed", "use GET");
      json items = json::array();
      for (auto& c : SavedCards(LiveReader(app_->views()), pid, session->patient_id)) {
        items.push_back(std::move(c));
      }
      return Json(200, {{"items", items}});
    }
    if (n == 7) {
      *route = "/api/v1/portal/{p}/me/cards/{id}";
      if (m != "DELETE") return Problem(405, "method_not_allowed", "use DELETE");
      engine::CommandContext ctx{pid,
                                 "card-remove:" + parts[6] + ":" + RandomHex(8),
                                 {},
                                 "patient:" + session->patient_id,
                                 0};
      auto r = app_->Execute(ctx, engine::RemoveCard{session->patient_id, parts[6]});
      if (!r.ok() || r->rejection) return FromExec(r);
      return HttpResponse{204, "", "", {}};
    }
  }
  if (n == 6 && parts[4] == "me" && parts[5] == "payments") {
    *route = "/api/v1/portal/{p}/me/payments";
    if (auto d = post_only()) return *d;
    if (req.Header("idempotency-key").empty()) {
      return Problem(400, "idempotency_key_required",
                     "POST /me/payments needs an Idempotency-Key header");
    }
    Principal who;
    who.kind = Principal::Kind::kPatient;
    who.practice_id = pid;
    who.patient_id = session->patient_id;
    return WithIdempotency(req, who, [&] {
      json b = ParseBody(req);
      PaymentRequest pr;
      pr.amount_cents = PositiveCents(b, "amount_cents");
      pr.card_id = Str(b, "card_id", false);
      pr.card_token = Str(b, "card_token", false);
      auto save = OptBool(b, "save_card");
      pr.save_card = save.value_or(false);
      if (pr.card_id.empty() == pr.card_token.empty()) {
        throw Invalid{400, "validation_failed", "give exactly one of card_id and card_token"};
      }
      auto r = portal.Pay(*session, req.Header("idempotency-key"), pr);
      if (!r.ok()) return Unavailable(r.status());
      if (auto* rej = RejectionOf(r)) return FromRejection(*rej);
      const PaymentResult& p = std::get<1>(*r);
      if (!p.succeeded) {
        HttpResponse resp = Problem(402, "card_declined", "the card was declined");
        json j = json::parse(resp.body);
        j["payment_id"] = p.payment_id;
        j["decline_reason"] = p.decline_reason;
        resp.body = j.dump();
        return resp;
      }
      return Json(201, {{"payment_id", p.payment_id},
                        {"status", "succeeded"},
                        {"amount_cents", p.amount_cents},
                        {"ledger_status", p.posted ? "posted" : "pending"},
                        {"card", {{"brand", p.brand}, {"last4", p.last4}}}});
    });
  }
  return Problem(404, "not_found", "no such path: " + req.path);
}

}  // namespace remit

namespace remit {

HttpResponse Api::RoutePage(const HttpRequest& req, const std::vector<std::string>& parts,
                            std::string* route) {
  if (req.method != "GET" && req.method != "HEAD")
    return Problem(405, "method_not_allowed", "use GET");
  std::string asset, type = "text/html; charset=utf-8";
  size_t n = parts.size();
  if (parts[0] == "staff" && n == 1) {
    *route = "/staff";
    asset = "staff.html";
  } else if (parts[0] == "portal" && n == 2 && IsValidPracticeId(parts[1])) {
    *route = "/portal/{p}";
    asset = "portal.html";
  } else if (parts[0] == "portal" && n == 3 && parts[2] == "enroll" &&
             IsValidPracticeId(parts[1])) {
    *route = "/portal/{p}/enroll";
    asset = "enroll.html";
  } else if (parts[0] == "assets" && n == 2 && parts[1].find('.') != std::string::npos &&
             !parts[1].ends_with(".html")) {
    *route = "/assets/{file}";
    asset = parts[1];
    if (asset.ends_with(".css"))
      type = "text/css; charset=utf-8";
    else if (asset.ends_with(".js"))
      type = "text/javascript; charset=utf-8";
    else if (asset.ends_with(".svg"))
      type = "image/svg+xml";
    else
      type = "application/octet-stream";
  }
  auto bytes = asset.empty() ? std::nullopt : WebAsset(asset);
  if (!bytes) return Problem(404, "not_found", "no such page: " + req.path);
  HttpResponse r{200, type, std::string(*bytes), {}};
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                         "script-src 'self'; frame-ancestors 'none'; form-action 'self'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

}  // namespace remit
