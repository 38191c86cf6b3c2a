// The log suite, run on both EventLogs (the embedded RocksEventLog and the KafkaEventLog on
// librdkafka's mock cluster, started inside this test): append/read/restart, dense offsets
// under concurrency, reads by key, waits, and crash safety: a child process killed with
// SIGKILL in the middle of heavy appending loses no acknowledged event and leaves no gap.
#define BOOST_TEST_MODULE log
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "adapters/kafka/kafka_event_log.h"
#include "adapters/kafka/kafka_mock.h"
#include "adapters/storage/rocks_event_log.h"
#include "events/event.h"
#include "kafka_util.h"
#include "test_util.h"

using namespace remit;
using remit::testing::Cluster;
using remit::testing::NewTopic;
using remit::testing::TempDir;

namespace {

// The `index`th record of command `i` (event ids must be unique: the Kafka log skips an id
// it already holds as a duplicate).
LogRecord Record(const std::string& practice, int i, Hash256* prev, uint32_t index = 0,
                 const std::string& salt = "") {
  Event e;
  e.practice_id = practice;
  e.command_key = "k" + std::to_string(i) + salt;
  e.event_id = DeriveEventId(practice, e.command_key, index);
  e.occurred_at_us = 1780000000000000 + i;
  e.payload = ChargePosted{"C" + std::to_string(i), "P1", 100 + i, "exam", "2026-11-01"};
  LogRecord r{practice, Seal(&e, *prev)};
  *prev = e.hash;
  return r;
}

// Reads the whole log, verifying every record and every chain (no Boost.Test macros: the crash
// child uses it too).
Status VerifyLog(EventLog& log, uint64_t* count, std::map<std::string, Hash256>* heads) {
  ChainVerifier chain;
  std::vector<LogEntry> entries;
  uint64_t end = log.EndOffset(), at = 0;
  while (at < end) {
    Status s = log.Read(at, 1000, &entries);
    if (!s.ok()) return s;
    for (const auto& e : entries) {
      if (e.offset != at) return Status::Corruption("gap at " + std::to_string(at));
      auto ev = DecodeRecord(e.record);
      if (!ev.ok()) return ev.status();
      Status c = chain.Check(e.offset, *ev);
      if (!c.ok()) return c;
      (*heads)[ev->practice_id] = ev->hash;
      ++at;
    }
  }
  *count = at;
  return Status::OK();
}

void VerifyAll(EventLog& log, uint64_t* count) {
  std::map<std::string, Hash256> heads;
  Status s = VerifyLog(log, count, &heads);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
}

}  // namespace

// The two logs under test. A backend opens its log in a directory; for Kafka, each test case
// gets a topic of its own on one mock cluster (brokers and topic can also come from the
// environment, for the crash child).
struct Embedded {
  static constexpr const char* kName = "embedded";
  Result<std::unique_ptr<EventLog>> Open(const std::string& dir) {
    auto log = RocksEventLog::Open(dir);
    if (!log.ok()) return log.status();
    return std::unique_ptr<EventLog>(std::move(log.value()));
  }
  std::vector<std::string> ChildEnv() const { return {}; }
};

Result<std::unique_ptr<EventLog>> OpenKafka(const std::string& brokers, const std::string& topic,
                                            const std::string& dir) {
  KafkaLogOptions o;
  o.brokers = brokers;
  o.topic = topic;
  o.dir = dir;
  auto log = KafkaEventLog::Open(o);
  if (!log.ok()) return log.status();
  // A reopened mirror first takes what the topic already holds.
  Status s = (*log)->CatchUp(std::chrono::seconds(30));
  if (!s.ok()) return s;
  return std::unique_ptr<EventLog>(std::move(log.value()));
}

struct Kafka {
  static constexpr const char* kName = "kafka";
  std::string topic;
  Kafka() : topic(NewTopic("log-test", 4)) {}
  Result<std::unique_ptr<EventLog>> Open(const std::string& dir) {
    return OpenKafka(Cluster().bootstrap_servers(), topic, dir);
  }
  std::vector<std::string> ChildEnv() const {
    return {"REMIT_LOG_CRASH_KAFKA=" + Cluster().bootstrap_servers(),
            "REMIT_LOG_CRASH_TOPIC=" + topic};
  }
};

using Backends = boost::mpl::list<Embedded, Kafka>;

namespace {

// The crash child: appends from 4 threads, one practice each, and reports every acknowledged
// batch on fd 3 as {first offset, count, hash of its last record}. Runs until killed.
[[noreturn]] void CrashChild(const std::string& dir) {
  const char* brokers = std::getenv("REMIT_LOG_CRASH_KAFKA");
  auto log = brokers != nullptr ? OpenKafka(brokers, std::getenv("REMIT_LOG_CRASH_TOPIC"), dir)
                                : Embedded().Open(dir);
  if (!log.ok()) _exit(3);
  uint64_t n = 0;
  std::map<std::string, Hash256> heads;
  if (!VerifyLog(**log, &n, &heads).ok()) _exit(6);
  std::mutex out_mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::string practice = "practice-" + std::to_string(t);
      Hash256 prev = heads.count(practice) ? heads[practice] : Hash256{};
      std::mt19937 rng(static_cast<unsigned>(t * 7919 + getpid()));
      std::string salt = "-" + std::to_string(getpid());
      for (int i = 0;; ++i) {
        std::vector<LogRecord> batch;
        size_t size = 1 + rng() % 8;
        Hash256 batch_prev = prev;
        for (size_t k = 0; k < size; ++k) {
          batch.push_back(Record(practice, i, &batch_prev, static_cast<uint32_t>(k), salt));
        }
        auto first = (*log)->Append(batch);
        if (!first.ok() && first.status().code() == Status::Code::kBusy) {
          // Kafka: a unit the killed child had in flight landed after this child caught up,
          // so this one was refused as a fork. Take the practice's head again and go on.
          std::vector<LogEntry> mine;
          if (!(*log)->ReadKey(practice, 0, SIZE_MAX, &mine).ok() || mine.empty()) _exit(6);
          auto last = DecodeRecord(mine.back().record);
          if (!last.ok()) _exit(6);
          prev = last->hash;
          continue;
        }
        if (!first.ok()) {
          std::fprintf(stderr, "crash child: append failed: %s\n",
                       first.status().ToString().c_str());
          _exit(4);
        }
        prev = batch_prev;
        char msg[48];
        uint64_t f = *first, c = size;
        std::memcpy(msg, &f, 8);
        std::memcpy(msg + 8, &c, 8);
        std::memcpy(msg + 16, prev.data(), 32);
        std::lock_guard<std::mutex> l(out_mu);
        if (write(3, msg, sizeof(msg)) != sizeof(msg)) _exit(5);
      }
    });
  }
  for (auto& t : threads) t.join();
  _exit(0);
}

// Re-executes this test binary as the crash child (fork alone would inherit RocksDB's
// background threads in a broken state). A global fixture, not a static object: it must run
// after every static initializer, RocksDB's (linked statically) among them.
struct CrashChildHook {
  CrashChildHook() {
    if (const char* dir = std::getenv("REMIT_LOG_CRASH_CHILD")) CrashChild(dir);
  }
};
BOOST_TEST_GLOBAL_FIXTURE(CrashChildHook);

}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(append_read_and_restart, Backend, Backends) {
  Backend backend;
  TempDir dir;
  Hash256 prev{};
  std::vector<LogRecord> written;
  {
    auto log = backend.Open(dir.path());
    BOOST_REQUIRE(log.ok());
    BOOST_TEST((*log)->EndOffset() == 0u);
    for (int i = 0; i < 10; ++i) {
      std::vector<LogRecord> batch = {Record("p1", i, &prev, 0), Record("p1", i, &prev, 1)};
      written.insert(written.end(), batch.begin(), batch.end());
      auto first = (*log)->Append(batch);
      BOOST_REQUIRE(first.ok());
      BOOST_TEST(*first == static_cast<uint64_t>(2 * i));
    }
    BOOST_TEST((*log)->EndOffset() == 20u);
  }
  auto log = backend.Open(dir.path());
  BOOST_REQUIRE(log.ok());
  BOOST_TEST((*log)->EndOffset() == 20u);
  std::vector<LogEntry> entries;
  BOOST_REQUIRE((*log)->Read(5, 100, &entries).ok());
  BOOST_REQUIRE_EQUAL(entries.size(), 15u);
  for (const auto& e : entries) BOOST_TEST(e.record == written[e.offset].record);
  BOOST_REQUIRE((*log)->Read(20, 100, &entries).ok());
  BOOST_TEST(entries.empty());
  auto next = (*log)->Append({Record("p1", 99, &prev)});
  BOOST_REQUIRE(next.ok());
  BOOST_TEST(*next == 20u);
  uint64_t n = 0;
  VerifyAll(**log, &n);
  BOOST_TEST(n == 21u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(concurrent_appenders_get_dense_offsets, Backend, Backends) {
  Backend backend;
  TempDir dir;
  auto log = backend.Open(dir.path());
  BOOST_REQUIRE(log.ok());
  const int kThreads = 16, kBatches = std::string(Backend::kName) == "kafka" ? 60 : 200;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<std::pair<uint64_t, size_t>> ranges;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Hash256 prev{};
      std::string practice = "p" + std::to_string(t);
      for (int i = 0; i < kBatches; ++i) {
        size_t size = 1 + static_cast<size_t>(i % 3);
        std::vector<LogRecord> batch;
        for (size_t k = 0; k < size; ++k)
          batch.push_back(Record(practice, i, &prev, static_cast<uint32_t>(k)));
        auto first = (*log)->Append(batch);
        if (!first.ok()) {
          failures++;
          return;
        }
        std::lock_guard<std::mutex> l(mu);
        ranges.emplace_back(*first, size);
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_REQUIRE_EQUAL(failures.load(), 0);
  std::sort(ranges.begin(), ranges.end());
  uint64_t expect = 0;
  for (auto [first, size] : ranges) {
    BOOST_REQUIRE_EQUAL(first, expect);  // no gap, no overlap: batches are atomic and dense
    expect += size;
  }
  BOOST_TEST((*log)->EndOffset() == expect);
  uint64_t n = 0;
  VerifyAll(**log, &n);  // every practice's chain holds: batches of one appender stay in order
  BOOST_TEST(n == expect);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(wait_for_wakes_on_append, Backend, Backends) {
  Backend backend;
  TempDir dir;
  auto log = backend.Open(dir.path());
  BOOST_REQUIRE(log.ok());
  BOOST_TEST(!(*log)->WaitFor(0, std::chrono::milliseconds(20)));
  std::atomic<bool> ok{false};
  std::thread t([&] {
    Hash256 prev{};
    ok = (*log)->Append({Record("p", 1, &prev)}).ok();
  });
  BOOST_TEST((*log)->WaitFor(0, std::chrono::seconds(10)));
  t.join();
  BOOST_TEST(ok.load());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(sigkill_during_heavy_appending_loses_no_acknowledged_event, Backend,
                              Backends) {
  Backend backend;
  TempDir dir;
  std::mt19937 rng(20261127);
  const int kRuns = std::string(Backend::kName) == "kafka" ? 6 : 12;
  uint64_t total_acked = 0;
  for (int run = 0; run < kRuns; ++run) {
    int fds[2];
    BOOST_REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      if (fds[1] != 3) dup2(fds[1], 3);
      setenv("REMIT_LOG_CRASH_CHILD", dir.path().c_str(), 1);
      for (const auto& kv : backend.ChildEnv()) putenv(strdup(kv.c_str()));
      execl("/proc/self/exe", "log_test", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    // Let it run a random while, collecting acknowledgements, then kill it mid-stride.
    int settle =
        std::string(Backend::kName) == "kafka" ? 1500 : 150;  // a Kafka client connects first
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(settle + rng() % 400);
    std::string acks;
    char buf[4096];
    auto drain = [&] {
      for (;;) {
        ssize_t r = read(fds[0], buf, sizeof(buf));
        if (r <= 0) break;
        acks.append(buf, static_cast<size_t>(r));
      }
    };
    while (std::chrono::steady_clock::now() < until) {
      drain();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    BOOST_REQUIRE_MESSAGE(WIFSIGNALED(status), "child exited with " << WEXITSTATUS(status));
    drain();
    close(fds[0]);
    BOOST_REQUIRE_EQUAL(acks.size() % 48, 0u);

    auto log = backend.Open(dir.path());
    BOOST_REQUIRE_MESSAGE(log.ok(), log.status().ToString());
    uint64_t n = 0;
    VerifyAll(**log, &n);  // dense, verified, chains intact
    std::vector<LogEntry> entries;
    for (size_t i = 0; i < acks.size(); i += 48) {
      uint64_t first, count;
      Hash256 last;
      std::memcpy(&first, acks.data() + i, 8);
      std::memcpy(&count, acks.data() + i + 8, 8);
      std::memcpy(last.data(), acks.data() + i + 16, 32);
      BOOST_REQUIRE_LT(first + count - 1, n);
      BOOST_REQUIRE((*log)->Read(first + count - 1, 1, &entries).ok());
      auto ev = DecodeRecord(entries.at(0).record);
      BOOST_REQUIRE(ev.ok());
      BOOST_REQUIRE((ev->hash == last));  // the acknowledged bytes, not just some bytes
      total_acked += count;
    }
  }
  BOOST_TEST_MESSAGE("acknowledged events checked across kills: " << total_acked);
  BOOST_TEST(total_acked > 0u);
}

BOOST_AUTO_TEST_CASE(reopen_refuses_a_corrupt_tail) {
  TempDir dir;
  Hash256 prev{};
  {
    auto log = RocksEventLog::Open(dir.path());
    BOOST_REQUIRE(log.ok());
    for (int i = 0; i < 5; ++i) BOOST_REQUIRE((*log)->Append({Record("p", i, &prev)}).ok());
    std::string junk = "not an event";
    BOOST_REQUIRE((*log)->TestOnlyOverwrite(3, &junk).ok());
  }
  auto log = RocksEventLog::Open(dir.path());
  BOOST_REQUIRE(!log.ok());
  BOOST_TEST(log.status().IsCorruption());
}

// Regression: a log put back from an older copy (or cut by RocksDB's point-in-time recovery)
// opened as if nothing were missing. Its high-water mark beside it says how far it got.
BOOST_AUTO_TEST_CASE(a_log_shorter_than_its_high_water_mark_is_refused) {
  TempDir dir;
  const std::string log_dir = dir.path() + "/log", old = dir.path() + "/old";
  Hash256 prev{};
  {
    auto log = RocksEventLog::Open(log_dir);
    BOOST_REQUIRE(log.ok());
    for (int i = 0; i < 3; ++i) BOOST_REQUIRE((*log)->Append({Record("p", i, &prev)}).ok());
  }
  std::filesystem::copy(log_dir, old, std::filesystem::copy_options::recursive);
  {
    auto log = RocksEventLog::Open(log_dir);
    BOOST_REQUIRE(log.ok());
    for (int i = 3; i < 7; ++i) BOOST_REQUIRE((*log)->Append({Record("p", i, &prev)}).ok());
  }
  auto high = RocksEventLog::ReadHighWater(log_dir);
  BOOST_REQUIRE(high.ok());
  BOOST_TEST(high->value_or(0) == 7u);
  std::filesystem::remove_all(log_dir);
  std::filesystem::rename(old, log_dir);
  auto log = RocksEventLog::Open(log_dir);
  BOOST_REQUIRE(!log.ok());
  BOOST_TEST(log.status().IsCorruption());
  BOOST_TEST(log.status().message().find(
                 "4 acknowledged events are missing, the first at offset 3") != std::string::npos,
             log.status().message());
  BOOST_TEST(!RocksEventLog::OpenReadOnly(log_dir).ok());  // audit verify refuses it too
}

BOOST_AUTO_TEST_CASE_TEMPLATE(read_by_key_returns_one_practice_in_order, Backend, Backends) {
  Backend backend;
  TempDir dir;
  auto log = backend.Open(dir.path());
  BOOST_REQUIRE(log.ok());
  Hash256 a{}, b{}, ab{};
  for (int i = 0; i < 30; ++i) {
    // "ab" shares a prefix with "a": the index must not mix them.
    BOOST_REQUIRE((*log)->Append({Record("a", i, &a)}).ok());
    BOOST_REQUIRE((*log)->Append({Record("ab", i, &ab)}).ok());
    if (i % 3 == 0) BOOST_REQUIRE((*log)->Append({Record("b", i, &b)}).ok());
  }
  std::vector<LogEntry> entries;
  BOOST_REQUIRE((*log)->ReadKey("a", 0, 1000, &entries).ok());
  BOOST_REQUIRE_EQUAL(entries.size(), 30u);
  uint64_t prev = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    auto ev = DecodeRecord(entries[i].record);
    BOOST_REQUIRE(ev.ok());
    BOOST_TEST(ev->practice_id == "a");
    if (i > 0) BOOST_TEST(entries[i].offset > prev);
    prev = entries[i].offset;
  }
  BOOST_REQUIRE((*log)->ReadKey("b", entries[10].offset, 4, &entries).ok());
  BOOST_TEST(entries.size() == 4u);
  BOOST_REQUIRE((*log)->ReadKey("nobody", 0, 10, &entries).ok());
  BOOST_TEST(entries.empty());
}
