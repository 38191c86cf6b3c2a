// Api: the HTTP contract of spec/api.md on top of an App. Each request is matched against the
// route table (router.h, one file of routes per group: routes.h), its caller checked against
// the route's least access, and its handler run under the write gate, idempotency and, in
// Kafka mode, forwarding to the practice's writer (core.h).
// Thread safety: Handle may be called concurrently.
#pragma once

#include <vector>

#include "adapters/api/core.h"
#include "adapters/api/router.h"

namespace remit {

class Api {
 public:
  explicit Api(ApiParts parts);

  HttpResponse Handle(const HttpRequest& req);
  Metrics& metrics() { return core_.metrics(); }

  // The route table: every method and pattern this server answers.
  static std::vector<Route> Routes();

 private:
  // Checks who may call the matched route, then runs its handler.
  HttpResponse Dispatch(const HttpRequest& req, Router::Match& match);
  // Fills `r.who`, `r.practice` and `r.session` for the route's access; an answer when the
  // caller may not call it.
  std::optional<HttpResponse> Admit(Request& r);
  std::optional<HttpResponse> AdmitStaff(Request& r, const char* least, bool operator_ok);
  std::optional<HttpResponse> AdmitPortal(Request& r);

  ApiCore core_;
  const Router router_;
};

}  // namespace remit
