// `remit bench <workload>`: the benchmarks of docs/benchmarks.md.
//
//   log     synced appends of ~200-byte sealed events from 1, 4 and 64 concurrent appenders
//   replay  rebuild every projection from a log of N events (default 1,000,000)
//   kafka   appends through the Kafka log to librdkafka's mock cluster, 1, 16 and 64 appenders
//   slow-clients  an ordinary client's latency alone, then beside 2,000 idle and 100 dripping
//                 connections from other addresses (loopback only, bounded in time)
//   http    POST /charges and GET balance through keep-alive connections (bench_http.cc)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio.hpp>

#include "adapters/api/api.h"
#include "adapters/app/projection_runner.h"
#include "adapters/http/http_server.h"
#include "adapters/kafka/kafka_event_log.h"
#include "adapters/kafka/kafka_mock.h"
#include "adapters/storage/rocks_event_log.h"
#include "adapters/storage/view_store.h"
#include "events/event.h"
#include "tools/cli.h"
#include "tools/node/node.h"

namespace remit::tools {
namespace {

using Clock = std::chrono::steady_clock;

std::string TempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("remit-bench-" + name + "-" + RandomHex(4));
  std::filesystem::create_directories(dir);
  return dir.string();
}

// A sealed charge event of about 200 bytes.
std::string SampleRecord(uint64_t i, const std::string& practice, Hash256* prev) {
  Event e;
  e.practice_id = practice;
  e.command_key = "bench:" + std::to_string(i);
  e.event_id = DeriveEventId(practice, e.command_key, 0);
  e.occurred_at_us = 1780000000000000 + static_cast<int64_t>(i);
  e.actor = "bench";
  e.payload = ChargePosted{"C" + std::to_string(i), "P" + std::to_string(i % 1000),
                           1000 + int64_t(i % 5000), "Exam", "2026-11-01"};
  std::string r = Seal(&e, *prev);
  *prev = e.hash;
  return r;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

int BenchLog(const Args& args) {
  uint64_t events = std::stoull(args.Get("events").value_or("200000"));
  size_t window = std::stoul(args.Get("window").value_or("64"));  // in flight per appender
  Hash256 prev{};
  std::string record = SampleRecord(1, "bench-practice", &prev);
  std::printf(
      "bench log: %llu events of %zu bytes per run, synced, group commit; up to %zu "
      "appends in flight per appender\n",
      static_cast<unsigned long long>(events), record.size(), window);
  std::printf("%10s %14s %14s %14s\n", "appenders", "events/s", "p50 append ms", "p99 append ms");
  for (int appenders : {1, 4, 64}) {
    std::string dir = TempDir("log");
    {
      auto log = RocksEventLog::Open(dir);
      if (!log.ok()) {
        std::fprintf(stderr, "%s\n", log.status().ToString().c_str());
        return 1;
      }
      uint64_t per = events / static_cast<uint64_t>(appenders);
      std::mutex lat_mu;
      std::vector<double> latencies;
      auto start = Clock::now();
      std::vector<std::thread> threads;
      for (int a = 0; a < appenders; ++a) {
        threads.emplace_back([&] {
          std::vector<double> mine;
          mine.reserve(per);
          std::mutex mu;
          std::condition_variable cv;
          size_t in_flight = 0;
          for (uint64_t i = 0; i < per; ++i) {
            {
              std::unique_lock<std::mutex> l(mu);
              cv.wait(l, [&] { return in_flight < window; });
              ++in_flight;
            }
            auto t0 = Clock::now();
            (*log)->AppendAsync(
                {LogRecord{"bench-practice", record}}, [&, t0](const Result<uint64_t>& r) {
                  if (!r.ok()) std::abort();
                  double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
                  std::lock_guard<std::mutex> l(mu);
                  mine.push_back(ms);
                  --in_flight;
                  cv.notify_one();
                });
          }
          std::unique_lock<std::mutex> l(mu);
          cv.wait(l, [&] { return in_flight == 0; });
          std::lock_guard<std::mutex> g(lat_mu);
          latencies.insert(latencies.end(), mine.begin(), mine.end());
        });
        (void)a;
      }
      for (auto& t : threads) t.join();
      double secs = std::chrono::duration<double>(Clock::now() - start).count();
      double rate = static_cast<double>(per * static_cast<uint64_t>(appenders)) / secs;
      std::printf("%10d %14.0f %14.3f %14.3f\n", appenders, rate, Percentile(latencies, 0.5),
                  Percentile(latencies, 0.99));
    }
    std::filesystem::remove_all(dir);
  }
  return 0;
}

int BenchReplay(const Args& args) {
  uint64_t events = std::stoull(args.Get("events").value_or("1000000"));
  uint64_t practices = 100;
  // --keep DIR: build the log there and leave it (to profile a replay of the same log).
  auto keep = args.Get("keep");
  std::string dir = keep ? *keep : TempDir("replay");
  std::filesystem::create_directories(dir);
  {
    auto log = RocksEventLog::Open(dir + "/log");
    if (!log.ok()) return 1;
    // --keep with a log already there: replay that log again (for profiling).
    bool reuse = (*log)->EndOffset() > 0;
    if (reuse) events = 0;
    // A realistic mix: each practice registers, gets 1000 patients, then charges.
    std::vector<Hash256> heads(practices);
    std::vector<LogRecord> batch;
    auto flush = [&] {
      if (batch.empty()) return;
      auto r = (*log)->Append(std::move(batch));
      if (!r.ok()) std::abort();
      batch.clear();
    };
    uint64_t n = 0;
    auto add = [&](uint64_t p, Payload payload) {
      Event e;
      e.practice_id = "practice-" + std::to_string(p);
      e.command_key = "bench:" + std::to_string(n);
      e.event_id = DeriveEventId(e.practice_id, e.command_key, 0);
      e.occurred_at_us = 1780000000000000 + static_cast<int64_t>(n);
      e.actor = "bench";
      e.payload = std::move(payload);
      batch.push_back(LogRecord{e.practice_id, Seal(&e, heads[p])});
      heads[p] = e.hash;
      ++n;
      if (batch.size() >= 8192) flush();
    };
    for (uint64_t p = 0; p < practices && n < events; ++p)
      add(p, PracticeRegistered{"Practice", "USD"});
    for (uint64_t i = 0; i < practices * 1000 && n < events; ++i) {
      add(i % practices,
          PatientUpserted{"P" + std::to_string(i / practices), "Pat", "Ient", "", "", "", ""});
    }
    while (n < events) {
      add(n % practices,
          ChargePosted{"C" + std::to_string(n), "P" + std::to_string((n / practices) % 1000),
                       1000 + int64_t(n % 5000), "Exam", "2026-11-01"});
    }
    flush();
    if (reuse) n = (*log)->EndOffset();
    std::filesystem::remove_all(dir + "/views");
    std::printf("bench replay: built a log of %llu events over %llu practices\n",
                static_cast<unsigned long long>(n), static_cast<unsigned long long>(practices));
    if (!reuse) {
      // Where the time goes: reading alone, then reading and verifying.
      std::vector<LogEntry> entries;
      auto t0 = Clock::now();
      for (uint64_t at = 0; at < n; at += entries.size()) {
        if (!(*log)->Read(at, ProjectionRunner::kBatchEventsMax, &entries).ok()) return 1;
      }
      double read_s = std::chrono::duration<double>(Clock::now() - t0).count();
      DecodedBatch decoded;
      t0 = Clock::now();
      for (uint64_t at = 0; at < n; at += decoded.size()) {
        if (!ProjectionRunner::ReadDecoded(log->get(), at, ProjectionRunner::kBatchEventsMax,
                                           &decoded)
                 .ok())
          return 1;
      }
      double decode_s = std::chrono::duration<double>(Clock::now() - t0).count();
      std::printf("  read only: %.0f events/s; read and verify: %.0f events/s (one thread)\n",
                  static_cast<double>(n) / read_s, static_cast<double>(n) / decode_s);
    }
    auto views = ViewStore::Open(dir + "/views", /*bulk_load=*/true);
    if (!views.ok()) return 1;
    ProjectionRunner runner(log->get(), views->get());
    auto start = Clock::now();
    Status s = runner.CatchUp((*log)->EndOffset());
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    std::printf("replayed %llu events into every projection in %.2f s: %.0f events/s\n",
                static_cast<unsigned long long>(n), secs, static_cast<double>(n) / secs);
  }
  if (!keep) std::filesystem::remove_all(dir);
  return 0;
}

// Appends through the KafkaEventLog to librdkafka's mock cluster in this process: each of
// `appenders` practices appends one sealed event at a time, acknowledged once produced
// (acks=all, idempotent) and taken by the local mirror.
int BenchKafka(const Args& args) {
  uint64_t events = std::stoull(args.Get("events").value_or("40000"));
  auto cluster = MockKafkaCluster::Start(3);
  if (!cluster.ok() || !(*cluster)->CreateTopic("bench.events", 12).ok()) {
    std::fprintf(stderr, "bench kafka: no mock cluster\n");
    return 1;
  }
  std::printf(
      "bench kafka: librdkafka mock cluster (3 brokers, in this process, in memory), topic of "
      "12 partitions; %llu events per run, one practice per appender, one event per append\n",
      static_cast<unsigned long long>(events));
  std::printf("%10s %14s %14s %14s\n", "appenders", "events/s", "p50 append ms", "p99 append ms");
  for (int appenders : {1, 16, 64}) {
    std::string dir = TempDir("kafka");
    {
      KafkaLogOptions o;
      o.brokers = (*cluster)->bootstrap_servers();
      o.topic = "bench.events";
      o.dir = dir;
      o.client_id = "bench-" + std::to_string(appenders);
      auto log = KafkaEventLog::Open(o);
      if (!log.ok() || !(*log)->CatchUp(std::chrono::seconds(30)).ok()) {
        std::fprintf(stderr, "bench kafka: %s\n",
                     log.ok() ? "catch-up failed" : log.status().ToString().c_str());
        return 1;
      }
      uint64_t per = events / static_cast<uint64_t>(appenders);
      std::mutex mu;
      std::vector<double> latencies;
      std::atomic<bool> failed{false};
      auto start = Clock::now();
      std::vector<std::thread> threads(static_cast<size_t>(appenders));
      for (int a = 0; a < appenders; ++a) {
        threads[static_cast<size_t>(a)] = std::thread([&, a] {
          std::string practice = "bench-" + std::to_string(appenders) + "-" + std::to_string(a);
          Hash256 prev{};
          std::vector<double> mine;
          for (uint64_t i = 0; i < per; ++i) {
            Event e;
            e.practice_id = practice;
            e.command_key = "bench:" + std::to_string(i);
            e.event_id = DeriveEventId(practice, e.command_key, 0);
            e.occurred_at_us = 1780000000000000 + static_cast<int64_t>(i);
            e.payload = ChargePosted{"C" + std::to_string(i), "P1", 1000, "Exam", "2026-11-01"};
            std::string record = Seal(&e, prev);
            auto t0 = Clock::now();
            if (!(*log)->Append({LogRecord{practice, record}}).ok()) {
              failed = true;
              return;
            }
            mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
            prev = e.hash;
          }
          std::lock_guard<std::mutex> l(mu);
          latencies.insert(latencies.end(), mine.begin(), mine.end());
        });
      }
      for (auto& t : threads) t.join();
      if (failed) {
        std::fprintf(stderr, "bench kafka: an append failed\n");
        return 1;
      }
      double secs = std::chrono::duration<double>(Clock::now() - start).count();
      std::printf("%10d %14.0f %14.3f %14.3f\n", appenders,
                  static_cast<double>(per * static_cast<uint64_t>(appenders)) / secs,
                  Percentile(latencies, 0.5), Percentile(latencies, 0.99));
    }
    std::filesystem::remove_all(dir);
  }
  return 0;
}

}  // namespace

// A blocking connection from the loopback address `local`.
std::unique_ptr<boost::asio::ip::tcp::socket> ConnectFrom(boost::asio::io_context& ioc,
                                                          const std::string& local, int port) {
  namespace asio = boost::asio;
  auto s = std::make_unique<asio::ip::tcp::socket>(ioc);
  boost::system::error_code ec;
  s->open(asio::ip::tcp::v4(), ec);
  s->bind(asio::ip::tcp::endpoint(asio::ip::make_address(local), 0), ec);
  s->connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                     static_cast<unsigned short>(port)),
             ec);
  return ec ? nullptr : std::move(s);
}

// `probes` GETs of `target`, each on a fresh connection from 127.0.0.2: latencies in ms, and
// how many were not answered 200.
std::vector<double> Probes(boost::asio::io_context& ioc, int port, const std::string& target,
                           int probes, int* failed) {
  std::vector<double> ms;
  for (int i = 0; i < probes; ++i) {
    auto start = Clock::now();
    auto s = ConnectFrom(ioc, "127.0.0.2", port);
    std::string reply;
    if (s) {
      std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
      boost::system::error_code ec;
      boost::asio::write(*s, boost::asio::buffer(req), ec);
      char buf[4096];
      while (!ec) reply.append(buf, s->read_some(boost::asio::buffer(buf), ec));
    }
    if (!reply.starts_with("HTTP/1.1 200")) ++*failed;
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  return ms;
}

int BenchSlowClients(const Args& args) {
  int probes = static_cast<int>(std::stoll(args.Get("events").value_or("2000")));
  std::string dir = TempDir("slow");
  AppOptions o;
  o.data_dir = dir;
  auto node = Node::Open(o);
  if (!node.ok()) {
    std::fprintf(stderr, "bench slow-clients: %s\n", node.status().ToString().c_str());
    return 1;
  }
  Api api((*node)->api_parts());
  HttpServer server([&api](const HttpRequest& r) { return api.Handle(r); });
  auto port = server.Start("127.0.0.1", 0);
  if (!port.ok()) return 1;
  boost::asio::io_context ioc;
  auto report = [&](const char* label, std::vector<double> ms, int failed) {
    std::printf("%-34s probes %zu  p50 %.3f ms  p99 %.3f ms  max %.3f ms  not answered %d\n", label,
                ms.size(), Percentile(ms, 0.5), Percentile(ms, 0.99),
                *std::max_element(ms.begin(), ms.end()), failed);
    return Percentile(ms, 0.99);
  };
  int failed = 0;
  double alone = report("alone", Probes(ioc, *port, "/healthz", probes, &failed), failed);
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> hogs;
  for (int i = 0; i < 100; ++i) {
    if (auto s = ConnectFrom(ioc, "127.0.0.3", *port)) hogs.push_back(std::move(s));
  }
  for (int i = 0; i < 2000; ++i) {
    if (auto s = ConnectFrom(ioc, "127.0.0.1", *port)) hogs.push_back(std::move(s));
  }
  std::atomic<bool> stop{false};
  std::thread drip([&] {
    const std::string slow =
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    for (size_t at = 0; at < slow.size() && !stop; ++at) {
      for (size_t i = 0; i < 100 && i < hogs.size(); ++i) {
        boost::system::error_code ec;
        hogs[i]->write_some(boost::asio::buffer(&slow[at], 1), ec);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  failed = 0;
  double beside = report("beside 2,000 idle + 100 dripping",
                         Probes(ioc, *port, "/healthz", probes, &failed), failed);
  std::printf("open connections %zu, closed at accept %llu, p99 ratio beside/alone %.2f\n",
              server.connections(), static_cast<unsigned long long>(server.connections_refused()),
              beside / alone);
  stop = true;
  drip.join();
  auto t0 = Clock::now();
  server.Stop();
  std::printf("stop with them open: %.3f s\n",
              std::chrono::duration<double>(Clock::now() - t0).count());
  hogs.clear();
  node->reset();
  std::filesystem::remove_all(dir);
  std::filesystem::remove(dir + ".end");
  return failed == 0 ? 0 : 1;
}

int Bench(const Args& args) {
  if (args.words.empty()) {
    std::fprintf(stderr, "remit bench log|replay|kafka|slow-clients|http [--events N]\n");
    return 2;
  }
  if (args.words[0] == "log") return BenchLog(args);
  if (args.words[0] == "replay") return BenchReplay(args);
  if (args.words[0] == "kafka") return BenchKafka(args);
  if (args.words[0] == "slow-clients") return BenchSlowClients(args);
  if (args.words[0] == "http") return BenchHttp(args);
  std::fprintf(stderr, "remit bench: unknown workload %s\n", args.words[0].c_str());
  return 2;
}

}  // namespace remit::tools
