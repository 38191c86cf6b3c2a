// Metrics: request counters by route and status, a latency histogram, and gauges supplied at
// render time; rendered in the Prometheus text format.
// Thread safety: all methods are thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "events/mutex.h"

namespace remit {

class Metrics {
 public:
  static constexpr std::array<double, 12> kBucketsS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                       0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
  void ObserveRequest(const std::string& route, int status, double seconds);
  // `gauges`: name, help, value.
  std::string Render(const std::vector<std::tuple<std::string, std::string, double>>& gauges) const;

 private:
  mutable Mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_ REMIT_GUARDED_BY(mu_);
  std::array<uint64_t, kBucketsS.size()> buckets_ REMIT_GUARDED_BY(mu_){};
  uint64_t count_ REMIT_GUARDED_BY(mu_) = 0;
  double sum_s_ REMIT_GUARDED_BY(mu_) = 0;
};

}  // namespace remit
