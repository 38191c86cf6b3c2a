// The route table: every operation of the contract as {method, pattern, least access, handler},
// registered by route group (routes.h), and the request context a handler receives. The
// router matches a path once, answers 404 for an unknown path and 405 (with Allow) for a known
// path with another method, checks who may call it before the handler runs, and labels the
// request's metrics with the pattern.
// Thread safety: a Router is immutable once built; Match may be called concurrently.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/app/app.h"
#include "adapters/app/portal.h"
#include "adapters/http/http_server.h"
#include "engine/commands.h"

namespace remit {

class ApiCore;

// Who may call a route, checked before its handler runs (Api::Dispatch).
enum class Access {
  kAnyone,           // no credentials (health, pages, the sandbox processor's card form)
  kInternal,         // the operator token only, 401 for anything else: the CLI and peer processes
  kOperator,         // the operator token: 401 without a token, 403 with another
  kSignedIn,         // any valid token or patient session
  kAuditor,          // staff of the path's practice with at least this role
  kStaff,            //   "
  kAdmin,            //   "
  kAdminOrOperator,  // an admin of the practice, or the operator for an existing practice
  kPortalStep,       // anonymous portal step: the practice exists, the address has steps left
  kPatient,          // a patient session of the path's practice
};

// How a route treats the Idempotency-Key header (Api::WithIdempotency).
enum class Idempotency {
  kCommandKey,  // the key, when given, is the command's key (idempotent by the engine)
  kReplay,      // the answer is kept by key and replayed; a changed request is 409
  kRequired,    // kReplay, and a request without a key is 400 idempotency_key_required
};

struct Request;
using Handler = HttpResponse (*)(Request&);

struct Route {
  const char* method;   // GET, POST, PUT or DELETE (a GET route answers HEAD too)
  const char* pattern;  // as in docs/openapi.yaml: /api/v1/practices/{practice_id}/charges
  Access access;
  Handler handler;
  Idempotency idempotency = Idempotency::kCommandKey;
  // A route that may write holds the write gate shared (ApiParts::write_gate); the backup
  // takes it alone itself.
  bool holds_write_gate = true;
};

// What a handler works with: the request, who sent it, the path's parameters, and the parts
// of the server (ApiCore).
struct Request {
  const HttpRequest& http;
  ApiCore& core;
  const Route& route;
  Principal who;         // kNone on routes open to anyone and on portal steps
  std::string practice;  // the path's {practice_id}, when it has one
  std::vector<std::pair<std::string_view, std::string>> params;  // every {name} of the path
  std::optional<PatientSession> session;                         // Access::kPatient

  App& app() const;
  // The path's {name}; empty when the pattern has none of that name.
  const std::string& Param(std::string_view name) const;
  // A query parameter; nullopt when absent.
  std::optional<std::string> Query(const char* name) const;
  // A command of the path's practice by `who`, keyed by `key`, fingerprinted by the request.
  engine::CommandContext Command(std::string key) const;
  // The command key: "idem:" + the Idempotency-Key when there is one, else `fallback`.
  std::string CommandKey(const std::string& fallback) const;
  // Who acts, as the events record it (ActorOf).
  std::string Actor() const;
};

// The table, matched by path segments.
class Router {
 public:
  explicit Router(std::vector<Route> routes);

  struct Match {
    const Route* route = nullptr;   // null: 404 or 405
    const char* pattern = nullptr;  // the matched path's pattern, whatever the method
    std::vector<std::pair<std::string_view, std::string>> params;
    std::string allow;  // when the path is known but not the method: the methods it takes
  };
  Match Find(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Compiled {
    std::vector<std::string_view> segments;  // "{name}" segments match any one segment
  };
  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;
};

// Splits a path into its non-empty segments.
std::vector<std::string> SplitPath(std::string_view path);

}  // namespace remit
