// Api: the HTTP contract of spec/api.md on top of an App: routing, authentication and roles,
// validation into problem+json, idempotency keys, and the JSON views.
// Thread safety: Handle may be called concurrently.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "adapters/app.h"
#include "adapters/http_server.h"
#include "adapters/metrics.h"

namespace remit {

class Api {
 public:
  explicit Api(App* app) : app_(app) {}
  HttpResponse Handle(const HttpRequest& req);
  Metrics& metrics() { return metrics_; }

 private:
  HttpResponse Route(const HttpRequest& req, std::string* route);
  // Runs `fn` under the request's Idempotency-Key (if any): replays, conflicts, waits for an
  // identical request in flight, and stores the answer.
  HttpResponse WithIdempotency(const HttpRequest& req, const Principal& who,
                               const std::function<HttpResponse()>& fn);

  App* app_;
  Metrics metrics_;
  std::mutex idem_mu_;
  std::condition_variable idem_cv_;
  std::set<std::string> idem_in_flight_;
};

}  // namespace remit
