// The control of tests/locking/check.sh: the same state, touched only under its Mutex, waited
// on with a CondVar; compiles under clang's -Wthread-safety.
#include "events/mutex.h"

namespace {

class Counter {
 public:
  void Add() {
    remit::MutexLock l(&mu_);
    ++count_;
    changed_.SignalAll();
  }
  int WaitAbove(int n) {
    remit::MutexLock l(&mu_);
    while (count_ <= n) changed_.Wait(&mu_);
    return count_;
  }

 private:
  remit::Mutex mu_;
  remit::CondVar changed_;
  int count_ REMIT_GUARDED_BY(mu_) = 0;
};

}  // namespace

int main() {
  Counter c;
  c.Add();
  return c.WaitAbove(0);
}
