// The Kafka log's own guarantees, against librdkafka's mock cluster started in this test:
// duplicates skipped, forks refused, partial units never taken, every mirror in agreement,
// and under broker faults (produce errors, a broker down and back, slow brokers) nothing
// acknowledged is lost and nothing is applied twice. The log suite in log_test runs on Kafka
// too.
#define BOOST_TEST_MODULE kafka
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <map>
#include <set>
#include <thread>

#include "adapters/app/projection_runner.h"
#include "adapters/kafka/kafka_client.h"
#include "adapters/kafka/kafka_event_log.h"
#include "adapters/kafka/kafka_kv.h"
#include "adapters/kafka/kafka_mock.h"
#include "events/event.h"
#include "kafka_util.h"
#include "test_util.h"

using namespace remit;
using remit::testing::Cluster;
using remit::testing::TempDir;

namespace {

std::string NewTopic(int partitions = 4) {
  return remit::testing::NewTopic("kafka-test", partitions);
}

std::unique_ptr<KafkaEventLog> Open(const std::string& topic, const std::string& dir) {
  KafkaLogOptions o;
  o.brokers = Cluster().bootstrap_servers();
  o.topic = topic;
  o.dir = dir;
  o.append_timeout_ms = 20000;
  auto log = KafkaEventLog::Open(o);
  BOOST_REQUIRE_MESSAGE(log.ok(), log.status().ToString());
  BOOST_REQUIRE((*log)->CatchUp(std::chrono::seconds(30)).ok());
  return std::move(log.value());
}

// One command's records for `practice` on top of *prev.
std::vector<LogRecord> Unit(const std::string& practice, const std::string& command, size_t size,
                            Hash256* prev) {
  std::vector<LogRecord> out;
  for (size_t k = 0; k < size; ++k) {
    Event e;
    e.practice_id = practice;
    e.command_key = command;
    e.event_id = DeriveEventId(practice, command, static_cast<uint32_t>(k));
    e.occurred_at_us = 1780000000000000 + static_cast<int64_t>(k);
    e.payload = ChargePosted{command + "-" + std::to_string(k), "P1", 100, "exam", "2026-11-01"};
    out.push_back(LogRecord{practice, Seal(&e, *prev)});
    *prev = e.hash;
  }
  return out;
}

// Every practice's records, in order, as the mirror holds them; checks density, every record
// and every chain, and that no event id appears twice.
std::map<std::string, std::vector<std::string>> Contents(EventLog& log) {
  std::map<std::string, std::vector<std::string>> by_practice;
  std::set<std::string> ids;
  ChainVerifier chain;
  std::vector<LogEntry> entries;
  for (uint64_t at = 0; at < log.EndOffset(); at += entries.size()) {
    BOOST_REQUIRE(log.Read(at, 1000, &entries).ok());
    for (const auto& e : entries) {
      auto ev = DecodeRecord(e.record);
      BOOST_REQUIRE(ev.ok());
      BOOST_REQUIRE_MESSAGE(chain.Check(e.offset, *ev).ok(), "chain broken at " << e.offset);
      BOOST_REQUIRE_MESSAGE(ids.insert(Hex(ev->event_id.data(), 16)).second,
                            "event applied twice at offset " << e.offset);
      by_practice[ev->practice_id].push_back(e.record);
    }
  }
  return by_practice;
}

// A bare producer, to put on the topic what a remit writer would not: a unit cut short.
void ProduceRaw(const std::string& topic, int32_t partition, const std::string& key,
                const std::string& value, const std::string& batch) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", Cluster().bootstrap_servers().c_str(), err,
                    sizeof(err));
  rd_kafka_t* p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  BOOST_REQUIRE(p != nullptr);
  rd_kafka_headers_t* h = rd_kafka_headers_new(1);
  rd_kafka_header_add(h, "ce_remitbatch", -1, batch.data(), static_cast<ssize_t>(batch.size()));
  BOOST_REQUIRE(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic.c_str()),
                                  RD_KAFKA_V_PARTITION(partition),
                                  RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
                                  RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
  BOOST_REQUIRE(rd_kafka_flush(p, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(p);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_unit_delivered_twice_is_taken_once_and_both_appends_succeed) {
  std::string topic = NewTopic();
  TempDir a_dir, b_dir;
  auto a = Open(topic, a_dir.path());
  auto b = Open(topic, b_dir.path());  // a second process on the same topic
  Hash256 prev{};
  auto unit = Unit("acme", "cmd-1", 3, &prev);
  auto first = a->Append(unit);
  BOOST_REQUIRE(first.ok());
  // The same records again (a retry after a lost acknowledgement, from another process): the
  // append succeeds with the offset the unit already has, and nothing is added.
  BOOST_REQUIRE(b->CatchUp(std::chrono::seconds(10)).ok());
  auto again = b->Append(unit);
  BOOST_REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  auto again_a = a->Append(unit);
  BOOST_REQUIRE(again_a.ok());
  BOOST_TEST(*again_a == *first);
  BOOST_REQUIRE(a->CatchUp(std::chrono::seconds(10)).ok());
  BOOST_REQUIRE(b->CatchUp(std::chrono::seconds(10)).ok());
  BOOST_TEST(a->EndOffset() == 3u);
  BOOST_TEST(b->EndOffset() == 3u);
  BOOST_TEST(a->counters().duplicates == 2u);
  BOOST_TEST((Contents(*a) == Contents(*b)));

  // Redelivery into the projections changes nothing either.
  TempDir views_dir;
  auto views = ViewStore::Open(views_dir.path());
  BOOST_REQUIRE(views.ok());
  ProjectionRunner runner(a.get(), views->get());
  BOOST_REQUIRE(runner.CatchUp(a->EndOffset()).ok());
  auto balance = (*views)->Get(projections::BalanceKey("acme", "P1"));
  DecodedBatch entries;
  BOOST_REQUIRE(ProjectionRunner::ReadDecoded(a.get(), 0, 3, &entries).ok());
  bool cut = false;
  BOOST_REQUIRE(runner.ApplyBatch(entries, {}, &cut).ok());
  BOOST_TEST(((*views)->Get(projections::BalanceKey("acme", "P1")) == balance));
  BOOST_TEST(projections::DecodeCents(balance.value_or("")) == 300);
}

BOOST_AUTO_TEST_CASE(a_second_writer_on_the_same_head_is_refused_and_every_mirror_agrees) {
  std::string topic = NewTopic();
  TempDir a_dir, b_dir;
  auto a = Open(topic, a_dir.path());
  auto b = Open(topic, b_dir.path());
  Hash256 head_a{}, head_b{};
  auto mine = Unit("acme", "from-a", 2, &head_a);
  auto theirs = Unit("acme", "from-b", 2, &head_b);  // the same prev: a fork
  auto ra = a->Append(mine);
  BOOST_REQUIRE(ra.ok());
  auto rb = b->Append(theirs);
  BOOST_REQUIRE(!rb.ok());
  BOOST_TEST((rb.status().code() == Status::Code::kBusy), rb.status().ToString());
  BOOST_REQUIRE(a->CatchUp(std::chrono::seconds(10)).ok());
  BOOST_REQUIRE(b->CatchUp(std::chrono::seconds(10)).ok());
  auto ca = Contents(*a);
  BOOST_TEST(ca["acme"].size() == 2u);
  BOOST_TEST(ca["acme"][0] == mine[0].record);
  BOOST_TEST((ca == Contents(*b)));
  BOOST_TEST(b->counters().forks == 1u);
  // On the new head, b's next unit is taken.
  auto next = Unit("acme", "from-b-2", 1, &head_a);
  BOOST_REQUIRE(b->Append(next).ok());
}

BOOST_AUTO_TEST_CASE(a_unit_cut_short_is_never_taken_and_restart_resumes_where_it_stopped) {
  std::string topic = NewTopic(1);
  TempDir dir;
  Hash256 prev{};
  auto cut = Unit("acme", "cut", 2, &prev);
  ProduceRaw(topic, 0, "acme", cut[0].record, "1/2");  // the writer died after one of two
  Hash256 fresh{};
  auto whole = Unit("acme", "whole", 2, &fresh);
  {
    auto log = Open(topic, dir.path());
    BOOST_TEST(log->EndOffset() == 0u);
    BOOST_REQUIRE(log->Append(whole).ok());
    BOOST_TEST(log->EndOffset() == 2u);
    BOOST_TEST(log->counters().incomplete >= 1u);
  }
  // Restart: the stored position skips nothing and repeats nothing.
  auto log = Open(topic, dir.path());
  BOOST_TEST(log->EndOffset() == 2u);
  auto c = Contents(*log);
  BOOST_TEST(c["acme"].size() == 2u);
  BOOST_TEST(c["acme"][0] == whole[0].record);
  auto more = Unit("acme", "more", 1, &fresh);
  BOOST_REQUIRE(log->Append(more).ok());
  BOOST_TEST(log->EndOffset() == 3u);
}

namespace {

// Appends from several threads (one practice each) while `fault` runs; returns the
// acknowledged units {local offset, last hash} and checks each is in the log exactly once.
void LoadUnder(const std::function<void()>& fault, size_t* acked_out) {
  std::string topic = NewTopic(6);
  TempDir dir;
  auto log = Open(topic, dir.path());
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::pair<uint64_t, Hash256>> acked;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      std::string practice = "practice-" + std::to_string(t);
      Hash256 head{};
      for (int i = 0; !stop; ++i) {
        Hash256 next = head;
        auto unit = Unit(practice, "c" + std::to_string(i), 1 + static_cast<size_t>(i % 3), &next);
        auto r = log->Append(unit);
        if (r.ok()) {
          head = next;
          std::lock_guard<std::mutex> l(mu);
          acked.emplace_back(*r + unit.size() - 1, head);
          continue;
        }
        // Not acknowledged: it may still land later. Take the head the log has, as a writer
        // that rebuilds its state from the log does, and go on.
        failures++;
        BOOST_REQUIRE(log->CatchUp(std::chrono::seconds(60)).ok());
        std::vector<LogEntry> mine;
        BOOST_REQUIRE(log->ReadKey(practice, 0, SIZE_MAX, &mine).ok());
        head = Hash256{};
        if (!mine.empty()) head = DecodeRecord(mine.back().record)->hash;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  fault();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  for (auto& t : threads) t.join();
  BOOST_REQUIRE(log->CatchUp(std::chrono::seconds(60)).ok());
  Contents(*log);  // dense, verified, chains whole, no event id twice
  std::vector<LogEntry> one;
  for (const auto& [offset, hash] : acked) {
    BOOST_REQUIRE(log->Read(offset, 1, &one).ok());
    BOOST_REQUIRE((DecodeRecord(one.at(0).record)->hash == hash));
  }
  BOOST_TEST_MESSAGE("acknowledged units: " << acked.size()
                                            << ", failed appends: " << failures.load());
  *acked_out = acked.size();
}

}  // namespace

BOOST_AUTO_TEST_CASE(injected_produce_errors_lose_nothing_and_repeat_nothing) {
  size_t acked = 0;
  LoadUnder(
      [] {
        // Retriable errors: the idempotent producer retries them.
        Cluster().PushProduceErrors(20, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
        Cluster().PushProduceErrors(10, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
        std::this_thread::sleep_for(std::chrono::seconds(1));
      },
      &acked);
  BOOST_TEST(acked > 0u);
}

BOOST_AUTO_TEST_CASE(a_leader_broker_down_and_back_loses_nothing_and_repeats_nothing) {
  size_t acked = 0;
  LoadUnder(
      [] {
        BOOST_REQUIRE(Cluster().SetBrokerDown(1).ok());
        std::this_thread::sleep_for(std::chrono::seconds(2));
        BOOST_REQUIRE(Cluster().SetBrokerUp(1).ok());
        std::this_thread::sleep_for(std::chrono::seconds(1));
      },
      &acked);
  BOOST_TEST(acked > 0u);
}

BOOST_AUTO_TEST_CASE(slow_brokers_slow_appends_down_but_lose_nothing) {
  size_t acked = 0;
  LoadUnder(
      [] {
        BOOST_REQUIRE(Cluster().SetBrokerRtt(-1, 150).ok());
        std::this_thread::sleep_for(std::chrono::seconds(2));
        BOOST_REQUIRE(Cluster().SetBrokerRtt(-1, 0).ok());
      },
      &acked);
  BOOST_TEST(acked > 0u);
}

// The stores beside the log (card tokens, secrets): a value written through one process is
// found through another, and a miss that cannot be checked against the topic is an error, never
// "not there" (a payment would be refused, or a processor charge repeated, on a guess).
BOOST_AUTO_TEST_CASE(a_kv_store_miss_is_never_guessed_while_the_brokers_are_away) {
  std::string topic = NewTopic(1);
  TempDir a_dir, b_dir;
  auto a = KafkaKv::Open(Cluster().bootstrap_servers(), topic, a_dir.path(), "kv-a", true);
  auto b = KafkaKv::Open(Cluster().bootstrap_servers(), topic, b_dir.path(), "kv-b", true);
  BOOST_REQUIRE_MESSAGE(a.ok(), a.status().ToString());
  BOOST_REQUIRE_MESSAGE(b.ok(), b.status().ToString());
  BOOST_REQUIRE((*a)->Put("token/t1", "card one").ok());
  auto found = (*b)->Get("token/t1");  // written a moment ago elsewhere: found, not missed
  BOOST_REQUIRE(found.ok());
  BOOST_TEST(found->value_or("") == "card one");
  auto absent = (*b)->Get("token/none");
  BOOST_REQUIRE(absent.ok());
  BOOST_TEST(!absent->has_value());

  for (int broker = 1; broker <= 3; ++broker) BOOST_REQUIRE(Cluster().SetBrokerDown(broker).ok());
  auto unknown = (*b)->Get("token/t2");
  auto held = (*b)->Get("token/t1");  // what the mirror holds is still served
  for (int broker = 1; broker <= 3; ++broker) BOOST_REQUIRE(Cluster().SetBrokerUp(broker).ok());
  BOOST_TEST(!unknown.ok());
  BOOST_TEST((unknown.status().code() == Status::Code::kTimedOut));
  BOOST_REQUIRE(held.ok());
  BOOST_TEST(held->value_or("") == "card one");

  BOOST_REQUIRE((*a)->Put("token/t2", "card two").ok());
  auto later = (*b)->Get("token/t2");
  BOOST_REQUIRE_MESSAGE(later.ok(), later.status().ToString());
  BOOST_TEST(later->value_or("") == "card two");
}

// A mirror's consumer never jumps past records it has not read: a position the broker calls out
// of range is an error to the mirror (which fetches from its own position again), where
// librdkafka's default would skip to the partition's end and deliver what follows.
BOOST_AUTO_TEST_CASE(a_mirror_consumer_out_of_range_gets_an_error_never_a_jump) {
  std::string topic = NewTopic(1);
  TempDir dir;
  auto kv = KafkaKv::Open(Cluster().bootstrap_servers(), topic, dir.path(), "kv-w", true);
  BOOST_REQUIRE_MESSAGE(kv.ok(), kv.status().ToString());
  for (int i = 0; i < 3; ++i) BOOST_REQUIRE((*kv)->Put("k" + std::to_string(i), "v").ok());
  auto consumer =
      kafka::NewMirrorConsumer(Cluster().bootstrap_servers(), "oor", "oor-" + RandomHex(4));
  BOOST_REQUIRE(consumer.ok());
  BOOST_REQUIRE(kafka::Assign(consumer->get(), topic, {100}).ok());  // beyond the end (3)
  bool reset_error = false;
  int delivered = 0;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       !reset_error && std::chrono::steady_clock::now() < until;) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer->get(), 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) reset_error = true;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) ++delivered;
    rd_kafka_message_destroy(m);
  }
  BOOST_TEST(reset_error);
  BOOST_TEST(delivered == 0);
}

// A mirror is opened only on the topic it was made from. Pointed at a topic that ends before
// what it took (the topic deleted and made again, or another cluster), or at one with another
// partition count (every practice would move partition), it is refused, naming both.
BOOST_AUTO_TEST_CASE(a_mirror_is_refused_on_a_topic_it_was_not_made_from) {
  std::string topic = NewTopic(2);
  TempDir dir;
  {
    auto log = Open(topic, dir.path());
    for (const char* practice : {"acme", "bright", "clear", "dent"}) {
      Hash256 head{};
      BOOST_REQUIRE(log->Append(Unit(practice, "c1", 2, &head)).ok());
    }
    BOOST_REQUIRE(log->EndOffset() == 8u);
  }
  auto refused = [&](const std::string& other, const std::string& says) {
    BOOST_TEST_CONTEXT(other) {
      KafkaLogOptions o;
      o.brokers = Cluster().bootstrap_servers();
      o.topic = other;
      o.dir = dir.path();
      auto log = KafkaEventLog::Open(o);
      BOOST_REQUIRE(!log.ok());
      BOOST_TEST((log.status().code() == Status::Code::kCorruption));
      BOOST_TEST_MESSAGE(log.status().ToString());
      BOOST_TEST(log.status().ToString().find(says) != std::string::npos, log.status().ToString());
      BOOST_TEST(log.status().ToString().find(dir.path()) != std::string::npos);
    }
  };
  refused(NewTopic(2), "but the topic ends at 0");  // made again, empty
  refused(NewTopic(3), " has 3. A topic's partition count");
  refused(NewTopic(1), " has 1. A topic's partition count");
  // On its own topic it opens as before, and nothing was written by the refusals.
  auto log = Open(topic, dir.path());
  BOOST_TEST(log->EndOffset() == 8u);
  auto c = Contents(*log);
  BOOST_TEST(c.size() == 4u);
}

// The key-value mirrors (secrets, idempotency, processor) are held to the same rule.
BOOST_AUTO_TEST_CASE(a_kv_mirror_is_refused_on_a_topic_it_was_not_made_from) {
  std::string topic = NewTopic(1);
  TempDir dir;
  {
    auto kv = KafkaKv::Open(Cluster().bootstrap_servers(), topic, dir.path(), "kv-m", true);
    BOOST_REQUIRE_MESSAGE(kv.ok(), kv.status().ToString());
    for (int i = 0; i < 3; ++i) BOOST_REQUIRE((*kv)->Put("k" + std::to_string(i), "v").ok());
  }
  auto other = KafkaKv::Open(Cluster().bootstrap_servers(), NewTopic(1), dir.path(), "kv-m", true);
  BOOST_REQUIRE(!other.ok());
  BOOST_TEST((other.status().code() == Status::Code::kCorruption));
  BOOST_TEST(other.status().ToString().find("up to offset 3, but the topic ends at 0") !=
                 std::string::npos,
             other.status().ToString());
  auto same = KafkaKv::Open(Cluster().bootstrap_servers(), topic, dir.path(), "kv-m", true);
  BOOST_REQUIRE_MESSAGE(same.ok(), same.status().ToString());
  auto v = (*same)->Get("k2");
  BOOST_REQUIRE(v.ok());
  BOOST_TEST(v->value_or("") == "v");
}
