// ApiCore: idempotent answers by key, the access log, and forwarding to a practice's writer.
#include "adapters/api/core.h"

#include <nlohmann/json.hpp>
#include <thread>

#include "adapters/api/answers.h"
#include "adapters/api/router.h"
#include "adapters/app/idempotency.h"
#include "adapters/http/http_client.h"
#include "events/event.h"

namespace remit {

using nlohmann::json;

namespace {

constexpr const char* kForwardedHeader = "remit-forwarded";
// The client of a forwarded request, named by the forwarding process (believed only from a peer).
constexpr const char* kClientHeader = "remit-client-address";

// The practice whose stream a request writes to, for the requests that write: every non-GET
// under /api/v1/practices/{p} and /api/v1/portal/{p}, and POST /api/v1/practices (the new
// practice's id is in the body).
std::optional<std::string> PracticeWrittenBy(const HttpRequest& req) {
  if (req.method == "GET" || req.method == "HEAD") return std::nullopt;
  auto parts = SplitPath(req.path);
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

// The scope an Idempotency-Key is kept in: the patient, the practice, the operator, or (for
// anonymous portal steps) the path.
std::string IdempotencyScope(const HttpRequest& req, const Principal& who) {
  switch (who.kind) {
    case Principal::Kind::kPatient:
      return who.practice_id + "/" + who.patient_id;
    case Principal::Kind::kStaff:
      return who.practice_id;
    case Principal::Kind::kOperator:
      return "operator";
    case Principal::Kind::kNone:
      break;
  }
  return "anonymous" + req.path;
}

}  // namespace

App& Request::app() const { return core.app(); }

std::optional<HttpResponse> ApiCore::ForwardToOwner(const HttpRequest& req) {
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

std::optional<HttpResponse> ApiCore::CallOwner(const std::string& practice,
                                               const std::string& method, const std::string& target,
                                               const std::string& body,
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
          app().runner().WaitApplied(app().log().EndOffset(), std::chrono::seconds(10));
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

void ApiCore::RecordAccess(const std::string& practice, const std::string& actor,
                           const std::string& reader, const std::string& resource,
                           const std::string& patient_id) {
  std::string key = practice + "\n" + reader + "\n" + resource;
  {
    MutexLock l(&access_mu_);
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
                       {{"authorization", "Bearer " + app().operator_token()},
                        {"content-type", "application/json"}});
    recorded = r && r->status == 204;
  } else {
    engine::CommandContext ctx{practice, "access:" + RandomHex(12), {}, actor, 0};
    auto r = app().Execute(ctx, engine::RecordAccess{resource, patient_id});
    recorded = r.ok() && !r->rejection;
  }
  if (!recorded) {
    MutexLock l(&access_mu_);
    accessed_.erase(key);  // not recorded: try again on the next read
  }
}

std::string ApiCore::ClientOf(const HttpRequest& req) {
  if (req.from_peer) {
    std::string named = req.Header(kClientHeader);
    if (!named.empty()) return named;
  }
  return req.client_address;
}

std::optional<HttpResponse> ApiCore::Throttle(RateLimiter& limiter, const std::string& key) {
  int retry_after = 1;
  if (limiter.Take(key, &retry_after)) return std::nullopt;
  HttpResponse p = Problem(429, "rate_limited",
                           "too many requests; try again in " + std::to_string(retry_after) + " s");
  p.headers.emplace_back("Retry-After", std::to_string(retry_after));
  return p;
}

HttpResponse ApiCore::WithIdempotency(const HttpRequest& req, const Principal& who,
                                      const std::function<HttpResponse()>& fn) {
  std::string key = req.Header("idempotency-key");
  if (key.empty()) return fn();
  if (!IsValidIdempotencyKey(key)) {
    return Problem(400, "validation_failed",
                   "Idempotency-Key must be 1 to 255 printable ASCII characters");
  }
  std::string store_key = "idem/" + IdempotencyScope(req, who) + "/" + Hex(Sha256(key));
  // Keyed: request bodies hold passwords and codes (SecretsStore::Fingerprint). Records kept
  // before it was keyed carry the plain SHA-256 and still match.
  std::string request = req.method + " " + req.path + std::string(1, '\0') + req.body;
  std::string fingerprint = parts_.secrets->Fingerprint(request);
  {
    MutexLock l(&idem_mu_);
    while (idem_in_flight_.contains(store_key)) idem_cv_.Wait(&idem_mu_);
    idem_in_flight_.insert(store_key);
  }
  struct Release {
    ApiCore* core;
    std::string k;
    ~Release() {
      MutexLock l(&core->idem_mu_);
      core->idem_in_flight_.erase(k);
      core->idem_cv_.SignalAll();
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
    return HttpResponse{s.value("status", 200),
                        s.value("content_type", "application/json"),
                        WithoutSecrets(s.value("body", "")),
                        {{"Idempotent-Replayed", "true"}}};
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

}  // namespace remit
