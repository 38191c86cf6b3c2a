// Must not compile under clang's -Wthread-safety: it reads and writes state its Mutex guards
// without holding it (tests/locking/check.sh).
#include "events/mutex.h"

namespace {

class Counter {
 public:
  void Add() { ++count_; }  // the lock is not held
  int Get() {
    remit::MutexLock l(&mu_);
    return count_;
  }

 private:
  remit::Mutex mu_;
  int count_ REMIT_GUARDED_BY(mu_) = 0;
};

}  // namespace

int main() {
  Counter c;
  c.Add();
  return c.Get();
}
