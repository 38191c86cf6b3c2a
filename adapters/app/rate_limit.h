// Admission control: RateLimiter (token buckets by key) and WorkLimit (at most N at once).
//
// RateLimiter: token buckets by key (a client address, a username), in memory.
//
// Each key starts with `burst` tokens and gains one every `refill`; Take() spends one when
// there is one. What it guards is refused before anything is written, so a flood costs neither
// the log nor another user's lockout. At most `keys_max` keys are kept: past that the fullest
// buckets (those that would be back to `burst` anyway) are dropped first, so memory is bounded
// and a key seen again starts full only if it was idle long enough to be full.
// Thread safety: all methods are thread-safe.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <unordered_map>

#include "events/mutex.h"
#include "events/status.h"

namespace remit {

class RateLimiter {
 public:
  using Clock = std::function<int64_t()>;  // microseconds

  RateLimiter(double burst, std::chrono::microseconds refill, size_t keys_max = 100000,
              Clock now_us = nullptr);

  // Spends a token of `key`; false (nothing spent) when it has none. *retry_after_s, when
  // given, is set to the whole seconds until the next token.
  bool Take(const std::string& key, int* retry_after_s = nullptr);
  // Whether `key` has a token now (nothing is spent).
  bool Has(const std::string& key, int* retry_after_s = nullptr);
  // Spends a token whether or not there is one (the bucket may go below zero, down to -burst):
  // for failures counted after the fact.
  void Charge(const std::string& key);

  size_t keys() const;

 private:
  struct Bucket {
    double tokens = 0;
    int64_t at_us = 0;
  };
  Bucket& Refilled(const std::string& key, int64_t now) REMIT_REQUIRES(mu_);
  int RetryAfter(const Bucket& b) const;
  void Evict(int64_t now) REMIT_REQUIRES(mu_);

  const double burst_;
  const int64_t refill_us_;
  const size_t keys_max_;
  Clock now_us_;
  mutable Mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_ REMIT_GUARDED_BY(mu_);
};

// At most `max` callers run their work at once; the others wait up to `wait`, then get Busy
// (the API answers 503 with Retry-After) rather than queueing without end.
class WorkLimit {
 public:
  WorkLimit(size_t max, std::chrono::milliseconds wait) : max_(max), wait_(wait) {}

  template <typename F>
  auto Run(F&& fn) -> Result<std::invoke_result_t<F>> {
    static_assert(!std::is_void_v<std::invoke_result_t<F>>, "the work returns its result");
    {
      auto deadline = std::chrono::steady_clock::now() + wait_;
      MutexLock l(&mu_);
      while (running_ >= max_) {
        if (!cv_.WaitUntil(&mu_, deadline) && running_ >= max_) {
          return Status::Busy("the server is busy; try again in a moment");
        }
      }
      ++running_;
      ++runs_;
      peak_ = std::max(peak_, running_);
    }
    struct Done {
      WorkLimit* w;
      ~Done() {
        MutexLock l(&w->mu_);
        --w->running_;
        w->cv_.Signal();
      }
    } done{this};
    return fn();
  }

 private:
  const size_t max_;
  const std::chrono::milliseconds wait_;
  mutable Mutex mu_;
  CondVar cv_;  // signalled when one ends
  size_t running_ REMIT_GUARDED_BY(mu_) = 0;
  size_t peak_ REMIT_GUARDED_BY(mu_) = 0;
  uint64_t runs_ REMIT_GUARDED_BY(mu_) = 0;

 public:
  // How many ran, and the most that ran at once (for /metrics and tests).
  uint64_t runs() const {
    MutexLock l(&mu_);
    return runs_;
  }
  size_t peak() const {
    MutexLock l(&mu_);
    return peak_;
  }
};

}  // namespace remit
