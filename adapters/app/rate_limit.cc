#include "adapters/app/rate_limit.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>
#include <vector>

#include "events/types.h"

namespace remit {

RateLimiter::RateLimiter(double burst, std::chrono::microseconds refill, size_t keys_max,
                         Clock now_us)
    : burst_(burst),
      refill_us_(std::max<int64_t>(1, refill.count())),
      keys_max_(std::max<size_t>(1, keys_max)),
      now_us_(now_us ? std::move(now_us) : Clock([] { return NowMicros(); })) {}

RateLimiter::Bucket& RateLimiter::Refilled(const std::string& key, int64_t now) {
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= keys_max_) Evict(now);
    it = buckets_.emplace(key, Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  if (now > b.at_us) {
    b.tokens = std::min(
        burst_, b.tokens + static_cast<double>(now - b.at_us) / static_cast<double>(refill_us_));
    b.at_us = now;
  }
  return b;
}

int RateLimiter::RetryAfter(const Bucket& b) const {
  double missing = 1.0 - b.tokens;
  if (missing <= 0) return 0;
  return static_cast<int>(std::ceil(missing * static_cast<double>(refill_us_) / 1e6));
}

void RateLimiter::Evict(int64_t now) {
  // Drop the buckets that are full by now (nothing is lost: they would start full again);
  // if none is, the half with the most tokens.
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    double tokens = it->second.tokens +
                    static_cast<double>(now - it->second.at_us) / static_cast<double>(refill_us_);
    it = tokens >= burst_ ? buckets_.erase(it) : std::next(it);
  }
  if (buckets_.size() < keys_max_) return;
  std::vector<std::pair<double, std::string>> by_tokens;
  by_tokens.reserve(buckets_.size());
  for (const auto& [k, b] : buckets_) by_tokens.emplace_back(b.tokens, k);
  std::sort(by_tokens.begin(), by_tokens.end(), std::greater<>());
  for (size_t i = 0; i < by_tokens.size() / 2 + 1; ++i) buckets_.erase(by_tokens[i].second);
}

bool RateLimiter::Take(const std::string& key, int* retry_after_s) {
  MutexLock l(&mu_);
  Bucket& b = Refilled(key, now_us_());
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  if (retry_after_s) *retry_after_s = std::max(1, RetryAfter(b));
  return false;
}

bool RateLimiter::Has(const std::string& key, int* retry_after_s) {
  MutexLock l(&mu_);
  Bucket& b = Refilled(key, now_us_());
  if (b.tokens >= 1.0) return true;
  if (retry_after_s) *retry_after_s = std::max(1, RetryAfter(b));
  return false;
}

void RateLimiter::Charge(const std::string& key) {
  MutexLock l(&mu_);
  Bucket& b = Refilled(key, now_us_());
  b.tokens = std::max(-burst_, b.tokens - 1.0);
}

size_t RateLimiter::keys() const {
  MutexLock l(&mu_);
  return buckets_.size();
}

}  // namespace remit
