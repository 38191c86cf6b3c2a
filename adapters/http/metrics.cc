#include "adapters/http/metrics.h"

#include <fmt/format.h>

namespace remit {

void Metrics::ObserveRequest(const std::string& route, int status, double seconds) {
  MutexLock l(&mu_);
  requests_[{route, status}]++;
  for (size_t i = 0; i < kBucketsS.size(); ++i) {
    if (seconds <= kBucketsS[i]) buckets_[i]++;
  }
  count_++;
  sum_s_ += seconds;
}

std::string Metrics::Render(
    const std::vector<std::tuple<std::string, std::string, double>>& gauges) const {
  MutexLock l(&mu_);
  std::string out;
  out += "# HELP remit_http_requests_total HTTP requests by route and status.\n";
  out += "# TYPE remit_http_requests_total counter\n";
  for (const auto& [k, v] : requests_) {
    out += fmt::format("remit_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", k.first,
                       k.second, v);
  }
  out += "# HELP remit_http_request_duration_seconds HTTP request latency.\n";
  out += "# TYPE remit_http_request_duration_seconds histogram\n";
  for (size_t i = 0; i < kBucketsS.size(); ++i) {
    out += fmt::format("remit_http_request_duration_seconds_bucket{{le=\"{}\"}} {}\n", kBucketsS[i],
                       buckets_[i]);
  }
  out += fmt::format("remit_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", count_);
  out += fmt::format("remit_http_request_duration_seconds_sum {}\n", sum_s_);
  out += fmt::format("remit_http_request_duration_seconds_count {}\n", count_);
  for (const auto& [name, help, value] : gauges) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, value);
  }
  return out;
}

}  // namespace remit
