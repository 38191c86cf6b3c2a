#include "adapters/api/api.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <shared_mutex>

#include "adapters/api/answers.h"
#include "adapters/api/routes.h"

namespace remit {

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
// runs. Pages set their own policy (routes_pages.cc).
void AddProtections(HttpResponse* r) {
  auto add = [&](const char* name, const char* value) {
    if (!HasHeader(*r, name)) r->headers.emplace_back(name, value);
  };
  add("X-Content-Type-Options", "nosniff");
  add("Referrer-Policy", "no-referrer");
  add("Cache-Control", "no-store");
  add("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
}

bool IsRead(const std::string& method) { return method == "GET" || method == "HEAD"; }

}  // namespace

std::vector<Route> Api::Routes() {
  std::vector<Route> table;
  AddSystemRoutes(&table);
  AddPracticeRoutes(&table);
  AddLedgerRoutes(&table);
  AddPortalRoutes(&table);
  AddPageRoutes(&table);
  return table;
}

Api::Api(ApiParts parts) : core_(std::move(parts)), router_(Routes()) {}

HttpResponse Api::Handle(const HttpRequest& req) {
  auto start = std::chrono::steady_clock::now();
  App& app = core_.app();
  Router::Match match = router_.Find(req.method, req.path);
  std::string label = match.pattern != nullptr ? match.pattern : "unmatched";
  HttpResponse resp;
  try {
    if (app.read_only() && !IsRead(req.method)) {
      // Nothing may change: refused before any store (secrets, cards, idempotency) is touched.
      std::string why = app.degraded_reason();
      resp = Problem(503, "read_only",
                     why.empty() ? "this server was started read-only; nothing can be changed"
                                 : "this server takes no writes: " + why);
      label = "read_only";
    } else {
      // A request that may write holds the write gate shared: a backup waits for it, and it
      // for a backup (Node::Backup).
      std::shared_lock<std::shared_mutex> gate(*core_.parts().write_gate, std::defer_lock);
      if (!IsRead(req.method) && (match.route == nullptr || match.route->holds_write_gate)) {
        gate.lock();
      }
      if (auto forwarded = core_.ForwardToOwner(req)) {
        label = "forwarded";
        resp = std::move(*forwarded);
      } else {
        resp = Dispatch(req, match);
      }
    }
  } catch (const Invalid& i) {
    resp = Problem(i.status, i.code, i.detail);
  }
  AddProtections(&resp);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  core_.metrics().ObserveRequest(req.method + " " + label, resp.status, secs);
  return resp;
}

HttpResponse Api::Dispatch(const HttpRequest& req, Router::Match& match) {
  if (match.route == nullptr) {
    if (match.allow.empty()) return NoSuchPath(req.path);
    HttpResponse p = Problem(405, "method_not_allowed", "use " + match.allow);
    p.headers.emplace_back("Allow", match.allow);
    return p;
  }
  const Route& route = *match.route;
  Request r{req, core_, route, {}, {}, std::move(match.params), {}};
  if (auto refused = Admit(r)) return *refused;
  switch (route.idempotency) {
    case Idempotency::kCommandKey:
      return route.handler(r);
    case Idempotency::kRequired:
      if (req.Header("idempotency-key").empty()) {
        return Problem(
            400, "idempotency_key_required",
            std::string(route.method) + " " + route.pattern + " needs an Idempotency-Key header");
      }
      [[fallthrough]];
    case Idempotency::kReplay:
      return core_.WithIdempotency(req, r.who, [&] { return route.handler(r); });
  }
  return route.handler(r);
}

std::optional<HttpResponse> Api::Admit(Request& r) {
  r.practice = r.Param("practice_id");
  switch (r.route.access) {
    case Access::kAnyone:
      return std::nullopt;
    case Access::kPortalStep:
    case Access::kPatient:
      return AdmitPortal(r);
    default:
      break;
  }
  std::string bearer = BearerOf(r.http);
  r.who = r.app().Authenticate(bearer);
  if (r.who.kind == Principal::Kind::kNone) {
    if (auto session = core_.portal().Authenticate(bearer)) {
      r.who =
          Principal{Principal::Kind::kPatient, session->practice_id, "", "", session->patient_id};
    }
  }
  bool none = r.who.kind == Principal::Kind::kNone;
  bool op = r.who.kind == Principal::Kind::kOperator;
  switch (r.route.access) {
    case Access::kInternal:
      if (!op) return Problem(401, "unauthorized", "the operator token is required");
      return std::nullopt;
    case Access::kOperator:
      if (none) return Problem(401, "unauthorized", "a valid bearer token is required");
      if (!op) return Problem(403, "forbidden", "only the operator may do this");
      return std::nullopt;
    case Access::kSignedIn:
      if (none) return Problem(401, "unauthorized", "a valid bearer token is required");
      return std::nullopt;
    case Access::kAuditor:
      return AdmitStaff(r, "auditor", false);
    case Access::kStaff:
      return AdmitStaff(r, "staff", false);
    case Access::kAdmin:
      return AdmitStaff(r, "admin", false);
    case Access::kAdminOrOperator:
      return AdmitStaff(r, "admin", true);
    case Access::kAnyone:
    case Access::kPortalStep:
    case Access::kPatient:
      break;
  }
  return std::nullopt;
}

// Staff of the path's practice with at least the role `least`; the operator only where
// `operator_ok`, and only for a practice that exists.
std::optional<HttpResponse> Api::AdmitStaff(Request& r, const char* least, bool operator_ok) {
  const Principal& who = r.who;
  const std::string& pid = r.practice;
  if (who.kind == Principal::Kind::kNone) {
    return Problem(401, "unauthorized", "a valid bearer token is required");
  }
  if (!IsValidPracticeId(pid)) return Problem(404, "not_found", "no such practice");
  if (who.kind == Principal::Kind::kOperator) {
    if (!operator_ok) {
      return Problem(403, "forbidden", "the operator token is not a practice token");
    }
    if (!r.app().PracticeExists(pid)) return Problem(404, "not_found", "no practice " + pid);
    return std::nullopt;
  }
  if (who.kind != Principal::Kind::kStaff || who.practice_id != pid) {
    return Problem(403, "forbidden", "this token is not for practice " + pid);
  }
  if (RoleRank(who.role) < RoleRank(least)) {
    return Problem(403, "forbidden", std::string("this needs the ") + least + " role");
  }
  return std::nullopt;
}

// The portal: the practice must exist; an anonymous step spends one of the address's steps; a
// patient route needs a session of this practice.
std::optional<HttpResponse> Api::AdmitPortal(Request& r) {
  const std::string& pid = r.practice;
  if (!IsValidPracticeId(pid) || !r.app().PracticeExists(pid)) {
    return Problem(404, "not_found", "no practice " + pid);
  }
  if (r.route.access == Access::kPortalStep) {
    return ApiCore::Throttle(core_.steps_per_address(), ApiCore::ClientOf(r.http));
  }
  std::string bearer = BearerOf(r.http);
  r.session = core_.portal().Authenticate(bearer);
  if (!r.session) {
    if (bearer.empty() || r.app().Authenticate(bearer).kind == Principal::Kind::kNone) {
      return Problem(401, "unauthorized", "sign in to the portal first");
    }
    return Problem(403, "forbidden", "staff tokens cannot use the patient portal");
  }
  if (r.session->practice_id != pid) {
    return Problem(403, "forbidden", "this session is for another practice");
  }
  r.who = Principal{Principal::Kind::kPatient, pid, "", "", r.session->patient_id};
  return std::nullopt;
}

}  // namespace remit
