// Mutex, MutexLock, CondVar and SharedMutex: the standard library's locks with clang's
// thread-safety annotations (as LevelDB's port::Mutex and Abseil's Mutex have them), so that
// the state a lock guards says so (REMIT_GUARDED_BY) and the clang build (scripts/build.sh
// fuzz, -Wthread-safety) refuses code that touches it without the lock. GCC sees plain locks.
// Thread safety: they are the thread safety.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define REMIT_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define REMIT_THREAD_ANNOTATION(x)
#endif

#define REMIT_CAPABILITY(x) REMIT_THREAD_ANNOTATION(capability(x))
#define REMIT_SCOPED_CAPABILITY REMIT_THREAD_ANNOTATION(scoped_lockable)
#define REMIT_GUARDED_BY(x) REMIT_THREAD_ANNOTATION(guarded_by(x))
#define REMIT_PT_GUARDED_BY(x) REMIT_THREAD_ANNOTATION(pt_guarded_by(x))
#define REMIT_REQUIRES(...) REMIT_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REMIT_REQUIRES_SHARED(...) REMIT_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define REMIT_ACQUIRE(...) REMIT_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define REMIT_ACQUIRE_SHARED(...) REMIT_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define REMIT_RELEASE(...) REMIT_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define REMIT_RELEASE_SHARED(...) REMIT_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define REMIT_EXCLUDES(...) REMIT_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define REMIT_ASSERT_HELD(x) REMIT_THREAD_ANNOTATION(assert_capability(x))

namespace remit {

class REMIT_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() REMIT_ACQUIRE() { mu_.lock(); }
  void Unlock() REMIT_RELEASE() { mu_.unlock(); }
  // Tells the analysis the caller holds it (where it cannot see so, as in a callback).
  void AssertHeld() REMIT_ASSERT_HELD(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex for its scope.
class REMIT_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) REMIT_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() REMIT_RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A condition variable, waited on with the Mutex of the state it announces held (as
// Abseil's CondVar::Wait(Mutex*)).
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Releases `mu` while waiting; holds it again on return (wakeups may be spurious: callers
  // loop on their condition).
  void Wait(Mutex* mu) REMIT_REQUIRES(mu) {
    std::unique_lock<std::mutex> l(mu->mu_, std::adopt_lock);
    cv_.wait(l);
    l.release();
  }
  // As Wait, up to `deadline`; false once it has passed.
  bool WaitUntil(Mutex* mu, std::chrono::steady_clock::time_point deadline) REMIT_REQUIRES(mu) {
    std::unique_lock<std::mutex> l(mu->mu_, std::adopt_lock);
    bool woken = cv_.wait_until(l, deadline) == std::cv_status::no_timeout;
    l.release();
    return woken;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

// Many readers or one writer.
class REMIT_CAPABILITY("shared_mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void Lock() REMIT_ACQUIRE() { mu_.lock(); }
  void Unlock() REMIT_RELEASE() { mu_.unlock(); }
  void LockShared() REMIT_ACQUIRE_SHARED() { mu_.lock_shared(); }
  void UnlockShared() REMIT_RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

class REMIT_SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex* mu) REMIT_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~WriterLock() REMIT_RELEASE() { mu_->Unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex* const mu_;
};

class REMIT_SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex* mu) REMIT_ACQUIRE_SHARED(mu) : mu_(mu) { mu_->LockShared(); }
  ~ReaderLock() REMIT_RELEASE() { mu_->UnlockShared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex* const mu_;
};

}  // namespace remit
