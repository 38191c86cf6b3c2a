#include "adapters/kafka/kafka_event_log.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <future>
#include <set>

#include "adapters/kafka/kafka_client.h"
#include "events/event.h"

namespace remit {
namespace {

constexpr std::string_view kPositionMeta = "pos/";          // + partition -> next offset to read
constexpr std::string_view kHeadMeta = "head/";             // + practice -> hash of its last event
constexpr std::string_view kPartitionsMeta = "partitions";  // the topic's partition count
constexpr std::string_view kIdMeta = "id/";                 // + event id hex -> local offset

std::string EncodeU64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) s[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
  return s;
}

uint64_t DecodeU64(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < s.size(); ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

using kafka::Error;
using kafka::Header;

}  // namespace

struct KafkaEventLog::Impl {
  kafka::Handle producer;
  rd_kafka_topic_t* topic = nullptr;  // the producer's handle, for the partitioner
  kafka::Handle consumer;
  ~Impl() {
    consumer.reset();
    if (topic != nullptr) rd_kafka_topic_destroy(topic);
    producer.reset();
  }
};

namespace {

// Delivery reports: each message's opaque names its unit's first event id.
struct Delivery {
  std::string first_event_id;
  std::function<void(const std::string&, rd_kafka_resp_err_t)> failed;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  auto* d = static_cast<Delivery*>(m->_private);
  if (d == nullptr) return;
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) d->failed(d->first_event_id, m->err);
  delete d;
}

}  // namespace

Result<std::unique_ptr<KafkaEventLog>> KafkaEventLog::Open(const KafkaLogOptions& options) {
  if (options.brokers.empty()) return Status::InvalidArgument("no Kafka brokers given");
  std::unique_ptr<KafkaEventLog> log(new KafkaEventLog());
  log->options_ = options;
  log->impl_ = std::make_unique<Impl>();
  log->writer_id_ = RandomHex(8);
  auto mirror = RocksEventLog::Open(options.dir);
  if (!mirror.ok()) return mirror.status();
  log->mirror_ = std::move(mirror.value());

  auto producer =
      kafka::NewProducer(options.brokers, options.client_id, options.append_timeout_ms, OnDelivery);
  if (!producer.ok()) return producer.status();
  log->impl_->producer = std::move(producer.value());
  log->impl_->topic =
      rd_kafka_topic_new(log->impl_->producer.get(), options.topic.c_str(), nullptr);
  auto partitions = kafka::PartitionCount(log->impl_->producer.get(), options.topic, 10000);
  if (!partitions.ok()) return partitions.status();
  log->partitions_ = *partitions;

  // The mirror's state: positions, chain heads.
  std::vector<int64_t> positions(static_cast<size_t>(log->partitions_), 0);
  std::vector<int64_t> start(static_cast<size_t>(log->partitions_), RD_KAFKA_OFFSET_BEGINNING);
  int stored_partition_max = -1;
  log->mirror_->ScanMeta(kPositionMeta, [&](std::string_view k, std::string_view v) {
    int p = std::atoi(std::string(k.substr(kPositionMeta.size())).c_str());
    stored_partition_max = std::max(stored_partition_max, p);
    if (p >= 0 && p < log->partitions_) {
      start[static_cast<size_t>(p)] = static_cast<int64_t>(DecodeU64(v));
      positions[static_cast<size_t>(p)] = static_cast<int64_t>(DecodeU64(v));
    }
  });
  {
    MutexLock l(&log->mu_);
    log->positions_ = std::move(positions);
  }
  log->mirror_->ScanMeta(kHeadMeta, [&](std::string_view k, std::string_view v) {
    Hash256 h{};
    if (v.size() == h.size()) std::memcpy(h.data(), v.data(), h.size());
    log->heads_[std::string(k.substr(kHeadMeta.size()))] = h;
  });
  Status fits = log->CheckMirrorFitsTopic(start, stored_partition_max);
  if (!fits.ok()) return fits;

  // The consumer: every partition, from the mirror's positions; no group, no commits (the
  // positions live in the mirror, written with the entries).
  auto consumer = kafka::NewConsumer(options.brokers, options.client_id + "-mirror",
                                     "remit-mirror-" + log->writer_id_);
  if (!consumer.ok()) return consumer.status();
  log->impl_->consumer = std::move(consumer.value());
  Status s = kafka::Assign(log->impl_->consumer.get(), options.topic, start);
  if (!s.ok()) return s;

  log->mirror_thread_ = std::thread([l = log.get()] { l->MirrorLoop(); });
  log->poll_thread_ = std::thread([l = log.get()] { l->PollLoop(); });
  return log;
}

Status KafkaEventLog::CheckMirrorFitsTopic(const std::vector<int64_t>& start,
                                           int stored_partition_max) {
  const std::string remedy =
      " Point --kafka-brokers and --kafka-topics at the cluster this data directory mirrors, or, "
      "to mirror the topic as it is now, stop the process and move " +
      options_.dir + ", " + RocksEventLog::HighWaterPath(options_.dir) +
      " and the views aside (docs/operations.md).";
  auto recorded = mirror_->GetMeta(kPartitionsMeta);
  int64_t made_with =
      recorded && recorded->size() == 8 ? static_cast<int64_t>(DecodeU64(*recorded)) : -1;
  if ((made_with >= 0 && made_with != partitions_) || stored_partition_max >= partitions_) {
    return Status::Corruption(
        "the Kafka mirror " + options_.dir + " was made from a topic of " +
        (made_with >= 0 ? std::to_string(made_with)
                        : "more than " + std::to_string(stored_partition_max)) +
        " partitions; " + options_.topic + " has " + std::to_string(partitions_) +
        ". A topic's partition count "
        "decides which partition holds each practice, so it must never change under remit." +
        remedy);
  }
  partitions_recorded_ = made_with == partitions_;
  for (int32_t p = 0; p < partitions_; ++p) {
    Status s = kafka::CheckMirrorPosition(impl_->producer.get(), options_.topic, p,
                                          start[static_cast<size_t>(p)], options_.dir, remedy);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

KafkaEventLog::~KafkaEventLog() {
  stop_ = true;
  if (poll_thread_.joinable()) poll_thread_.join();
  if (mirror_thread_.joinable()) mirror_thread_.join();
  if (impl_ && impl_->producer != nullptr) rd_kafka_flush(impl_->producer.get(), 2000);
  {
    MutexLock l(&mu_);
    for (auto& [id, w] : waiters_) w.done(Status::IOError("event log is closing"));
    waiters_.clear();
  }
  impl_.reset();
  mirror_.reset();
}

int32_t KafkaEventLog::PartitionOf(std::string_view key) const {
  return rd_kafka_msg_partitioner_murmur2(impl_->topic, key.data(), key.size(), partitions_,
                                          nullptr, nullptr);
}

void KafkaEventLog::AppendAsync(std::vector<LogRecord> records, AppendCallback done) {
  if (records.empty()) {
    done(mirror_->EndOffset());
    return;
  }
  if (stop_) {
    done(Status::IOError("event log is closing"));
    return;
  }
  // Headers per the CloudEvents Kafka binding (binary mode): the record is the data.
  std::vector<Event> events(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].key != records[0].key) {
      done(Status::InvalidArgument("one append takes one practice's records"));
      return;
    }
    Status s = DecodeRecordInto(records[i].record, &events[i]);
    if (!s.ok()) {
      done(s);
      return;
    }
  }
  const std::string& key = records[0].key;
  int32_t partition = PartitionOf(key);
  std::string first_id = Hex(events[0].event_id.data(), events[0].event_id.size());
  {
    MutexLock l(&mu_);
    if (waiters_.count(first_id) != 0) {
      done(Status::Busy("an append of the same command is in flight"));
      return;
    }
    waiters_[first_id] = Waiter{std::move(done),
                                std::chrono::steady_clock::now() +
                                    std::chrono::milliseconds(options_.append_timeout_ms + 5000),
                                partition};
  }
  auto failed = [this](const std::string& id, rd_kafka_resp_err_t e) {
    Resolve(id, Status::IOError(Error("Kafka delivery", e)));
  };
  std::string source = "/remit/practices/" + key;
  std::string batch_count = std::to_string(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const Event& e = events[i];
    std::string id = Hex(e.event_id.data(), e.event_id.size());
    std::string type = "remit." + std::string(TypeName(e.payload));
    std::string time = FormatTime(e.occurred_at_us, true);
    std::string batch = std::to_string(i + 1) + "/" + batch_count;
    rd_kafka_headers_t* h = rd_kafka_headers_new(8);
    rd_kafka_header_add(h, "ce_specversion", -1, "1.0", 3);
    rd_kafka_header_add(h, "ce_id", -1, id.data(), static_cast<ssize_t>(id.size()));
    rd_kafka_header_add(h, "ce_source", -1, source.data(), static_cast<ssize_t>(source.size()));
    rd_kafka_header_add(h, "ce_type", -1, type.data(), static_cast<ssize_t>(type.size()));
    rd_kafka_header_add(h, "ce_time", -1, time.data(), static_cast<ssize_t>(time.size()));
    rd_kafka_header_add(h, "content-type", -1, "application/vnd.remit.event+flatbuffers", -1);
    rd_kafka_header_add(h, "ce_remitbatch", -1, batch.data(), static_cast<ssize_t>(batch.size()));
    rd_kafka_header_add(h, "ce_remitwriter", -1, writer_id_.data(),
                        static_cast<ssize_t>(writer_id_.size()));
    auto* d = new Delivery{first_id, failed};
    rd_kafka_resp_err_t perr;
    for (;;) {
      perr = rd_kafka_producev(
          impl_->producer.get(), RD_KAFKA_V_TOPIC(options_.topic.c_str()),
          RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(records[i].record.data()), records[i].record.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(d),
          RD_KAFKA_V_END);
      if (perr != RD_KAFKA_RESP_ERR__QUEUE_FULL || stop_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (perr != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_destroy(h);
      delete d;
      // The messages produced so far are an incomplete unit: every mirror drops it.
      Resolve(first_id, Status::IOError(Error("Kafka produce", perr)));
      return;
    }
  }
}

void KafkaEventLog::Resolve(const std::string& first_event_id, Result<uint64_t> outcome) {
  AppendCallback done;
  {
    MutexLock l(&mu_);
    auto it = waiters_.find(first_event_id);
    if (it == waiters_.end()) return;
    done = std::move(it->second.done);
    waiters_.erase(it);
  }
  done(std::move(outcome));
}

void KafkaEventLog::ExpireWaiters() {
  std::vector<AppendCallback> expired;
  {
    auto now = std::chrono::steady_clock::now();
    MutexLock l(&mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.deadline <= now) {
        expired.push_back(std::move(it->second.done));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& d : expired) d(Status::TimedOut("the append was not seen in the Kafka log in time"));
}

void KafkaEventLog::PollLoop() {
  while (!stop_) rd_kafka_poll(impl_->producer.get(), 50);
}

void KafkaEventLog::MirrorLoop() {
  std::vector<Message> batch;
  auto last_expiry = std::chrono::steady_clock::now();
  while (!stop_) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(impl_->consumer.get(), 20);
    while (m != nullptr) {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        Message msg;
        msg.partition = m->partition;
        msg.offset = m->offset;
        if (m->key != nullptr) msg.key.assign(static_cast<const char*>(m->key), m->key_len);
        if (m->payload != nullptr) msg.value.assign(static_cast<const char*>(m->payload), m->len);
        std::string unit = Header(m, "ce_remitbatch");
        if (std::sscanf(unit.c_str(), "%d/%d", &msg.index, &msg.count) != 2 || msg.index < 1 ||
            msg.count < msg.index) {
          msg.index = msg.count = 1;
        }
        msg.mine = Header(m, "ce_remitwriter") == writer_id_;
        batch.push_back(std::move(msg));
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("Kafka mirror: {}", rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
      if (batch.size() >= kMirrorBatchMax) break;
      m = rd_kafka_consumer_poll(impl_->consumer.get(), 0);
    }
    if (!batch.empty()) {
      Status s = Take(std::move(batch));
      batch.clear();
      if (!s.ok()) {
        // The mirror could not be written: stop taking (a restart resumes from the positions
        // stored with the last good write).
        spdlog::error("Kafka mirror stopped: {}", s.ToString());
        MutexLock l(&mu_);
        for (auto& [id, w] : waiters_) w.deadline = std::chrono::steady_clock::now();
        break;
      }
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_expiry > std::chrono::milliseconds(200)) {
      ExpireWaiters();
      last_expiry = now;
    }
  }
  while (!stop_) {
    ExpireWaiters();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Status KafkaEventLog::Take(std::vector<Message> messages) {
  struct Outcome {
    std::string first_id;
    bool mine = false;
    Result<uint64_t> result = Status::NotFound("");
  };
  std::vector<LogRecord> accepted;
  std::vector<RocksEventLog::MetaPut> meta;
  std::vector<Outcome> outcomes;
  std::unordered_map<std::string, uint64_t> taken_ids;  // this write's event ids -> offsets
  std::set<std::string> changed_heads;
  const uint64_t base = mirror_->EndOffset();  // this thread is the mirror's only appender
  std::vector<int64_t> taken_from = Positions(), next = taken_from;  // only we move them
  Counters counted;

  auto local_offset_of = [&](const std::string& id) -> std::optional<uint64_t> {
    auto it = taken_ids.find(id);
    if (it != taken_ids.end()) return it->second;
    auto v = mirror_->GetMeta(std::string(kIdMeta) + id);
    if (v) return DecodeU64(*v);
    return std::nullopt;
  };

  auto take_unit = [&](std::vector<Message>& unit) {
    std::vector<Event> events(unit.size());
    Outcome out;
    for (size_t i = 0; i < unit.size(); ++i) {
      Status s = DecodeRecordInto(unit[i].value, &events[i]);
      if (!s.ok() || events[i].practice_id != unit[i].key) {
        counted.malformed++;
        spdlog::error("Kafka mirror: partition {} offset {} is not a remit record of its key: {}",
                      unit[i].partition, unit[i].offset, s.ok() ? "practice differs" : s.message());
        return;
      }
      if (i > 0 && events[i].prev_hash != events[i - 1].hash) {
        counted.malformed++;
        return;
      }
    }
    out.first_id = Hex(events[0].event_id.data(), events[0].event_id.size());
    // An append is answered by its own copy of the unit, not by an earlier one.
    if (unit[0].mine) {
      MutexLock l(&mu_);
      out.mine = waiters_.count(out.first_id) != 0;
    }
    const std::string& practice = unit[0].key;
    if (auto held = local_offset_of(out.first_id)) {
      counted.duplicates++;
      out.result = *held;
    } else {
      auto head = heads_.find(practice);
      Hash256 expect = head == heads_.end() ? Hash256{} : head->second;
      if (events[0].prev_hash != expect) {
        counted.forks++;
        out.result = Status::Busy("conflict: another writer appended to practice " + practice +
                                  " first; retry");
      } else {
        uint64_t first = base + accepted.size();
        for (size_t i = 0; i < unit.size(); ++i) {
          std::string id = Hex(events[i].event_id.data(), events[i].event_id.size());
          taken_ids[id] = first + i;
          meta.push_back({std::string(kIdMeta) + id, EncodeU64(first + i)});
          accepted.push_back(LogRecord{practice, std::move(unit[i].value)});
        }
        heads_[practice] = events.back().hash;
        changed_heads.insert(practice);
        counted.units++;
        out.result = first;
      }
    }
    if (out.mine) outcomes.push_back(std::move(out));
  };

  for (auto& m : messages) {
    size_t p = static_cast<size_t>(m.partition);
    if (m.partition < 0 || m.partition >= partitions_) continue;
    next[p] = std::max(next[p], m.offset + 1);
    auto key = std::make_pair(m.partition, m.key);
    auto& unit = partial_[key];
    if (m.index == 1 || unit.empty() || m.index != static_cast<int>(unit.size()) + 1 ||
        m.count != unit.front().count) {
      // A unit starts, or one broke off: a partial unit is never taken.
      if (!unit.empty()) counted.incomplete++;
      unit.clear();
      if (m.index != 1) {
        counted.incomplete++;
        partial_.erase(key);
        continue;
      }
    }
    unit.push_back(std::move(m));
    if (static_cast<int>(unit.size()) == unit.front().count) {
      take_unit(unit);
      partial_.erase(key);
    }
  }

  // Where a restart resumes: before the first message of a unit still open, else after the
  // last message seen.
  std::vector<int64_t> resume(next);
  for (const auto& [key, unit] : partial_) {
    if (!unit.empty()) {
      size_t p = static_cast<size_t>(key.first);
      resume[p] = std::min(resume[p], unit.front().offset);
    }
  }
  for (int32_t p = 0; p < partitions_; ++p) {
    if (next[static_cast<size_t>(p)] != taken_from[static_cast<size_t>(p)]) {
      meta.push_back({std::string(kPositionMeta) + std::to_string(p),
                      EncodeU64(static_cast<uint64_t>(resume[static_cast<size_t>(p)]))});
    }
  }
  bool records_partitions = !partitions_recorded_;
  if (records_partitions) {
    meta.push_back({std::string(kPartitionsMeta), EncodeU64(static_cast<uint64_t>(partitions_))});
  }
  for (const auto& practice : changed_heads) {
    const Hash256& h = heads_[practice];
    meta.push_back({std::string(kHeadMeta) + practice,
                    std::string(reinterpret_cast<const char*>(h.data()), h.size())});
  }
  if (!accepted.empty() || !meta.empty()) {
    std::promise<Result<uint64_t>> written;
    auto f = written.get_future();
    mirror_->AppendWithMeta(std::move(accepted), std::move(meta),
                            [&written](Result<uint64_t> r) { written.set_value(std::move(r)); });
    Result<uint64_t> r = f.get();
    if (!r.ok()) return r.status();
  }
  {
    MutexLock l(&mu_);
    if (records_partitions) partitions_recorded_ = true;
    positions_ = next;
    counters_.units += counted.units;
    counters_.duplicates += counted.duplicates;
    counters_.forks += counted.forks;
    counters_.incomplete += counted.incomplete;
    counters_.malformed += counted.malformed;
  }
  position_cv_.SignalAll();
  for (auto& o : outcomes) Resolve(o.first_id, std::move(o.result));
  return Status::OK();
}

Status KafkaEventLog::Read(uint64_t from, size_t max_entries, std::vector<LogEntry>* out) {
  return mirror_->Read(from, max_entries, out);
}

Status KafkaEventLog::Scan(uint64_t from, size_t max_entries, const ScanFn& fn) {
  return mirror_->Scan(from, max_entries, fn);
}

Status KafkaEventLog::ReadKey(std::string_view key, uint64_t from, size_t max_entries,
                              std::vector<LogEntry>* out) {
  return mirror_->ReadKey(key, from, max_entries, out);
}

uint64_t KafkaEventLog::EndOffset() const { return mirror_->EndOffset(); }

bool KafkaEventLog::WaitFor(uint64_t offset, std::chrono::milliseconds timeout) {
  return mirror_->WaitFor(offset, timeout);
}

int64_t KafkaEventLog::Position(int32_t partition) const {
  MutexLock l(&mu_);
  return partition >= 0 && partition < partitions_ ? positions_[static_cast<size_t>(partition)] : 0;
}

std::vector<int64_t> KafkaEventLog::Positions() const {
  MutexLock l(&mu_);
  return positions_;
}

bool KafkaEventLog::WaitPosition(int32_t partition, int64_t offset,
                                 std::chrono::milliseconds timeout) {
  if (partition < 0 || partition >= partitions_) return false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock l(&mu_);
  while (positions_[static_cast<size_t>(partition)] < offset) {
    if (!position_cv_.WaitUntil(&mu_, deadline)) break;
  }
  return positions_[static_cast<size_t>(partition)] >= offset;
}

Result<int64_t> KafkaEventLog::HighWatermark(int32_t partition, std::chrono::milliseconds timeout) {
  return kafka::EndOffset(impl_->producer.get(), options_.topic, partition,
                          static_cast<int>(timeout.count()));
}

Status KafkaEventLog::CatchUp(std::chrono::milliseconds timeout, int32_t only_partition) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int32_t p = 0; p < partitions_; ++p) {
    if (only_partition >= 0 && p != only_partition) continue;
    auto left = [&] {
      return std::max(std::chrono::milliseconds(1),
                      std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now()));
    };
    auto high = HighWatermark(p, left());
    if (!high.ok()) return high.status();
    if (!WaitPosition(p, *high, left())) {
      return Status::TimedOut("the Kafka mirror did not reach partition " + std::to_string(p) +
                              " offset " + std::to_string(*high));
    }
  }
  return Status::OK();
}

KafkaEventLog::Counters KafkaEventLog::counters() const {
  MutexLock l(&mu_);
  return counters_;
}

}  // namespace remit
