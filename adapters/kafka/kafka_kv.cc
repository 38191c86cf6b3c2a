#include "adapters/kafka/kafka_kv.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <future>
#include <thread>

#include "adapters/kafka/kafka_client.h"
#include "events/types.h"

namespace remit {
namespace {

// The mirror's own key for its position: values' keys never start with a NUL byte.
const std::string kPositionKey("\0position", 9);

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  auto* done = static_cast<std::promise<Result<int64_t>>*>(m->_private);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    done->set_value(Status::IOError(kafka::Error("Kafka delivery", m->err)));
  } else {
    done->set_value(m->offset);
  }
}

}  // namespace

struct KafkaKv::Impl {
  kafka::Handle producer;
  kafka::Handle consumer;
  std::thread poller;
};

Result<std::unique_ptr<KafkaKv>> KafkaKv::Open(const std::string& brokers, const std::string& topic,
                                               const std::string& dir, const std::string& client_id,
                                               bool fresh_misses) {
  std::unique_ptr<KafkaKv> kv(new KafkaKv());
  kv->topic_ = topic;
  kv->fresh_misses_ = fresh_misses;
  kv->impl_ = std::make_unique<Impl>();
  auto local = OpenRocksKv(dir);
  if (!local.ok()) return local.status();
  kv->dir_ = dir;
  kv->local_ = std::move(local.value());
  auto kept = kv->local_->Get(kPositionKey);
  if (!kept.ok()) return kept.status();
  int64_t position = 0;  // the next topic offset the mirror takes
  if (kept->has_value()) {
    const std::string& pos = **kept;
    auto [end, ec] = std::from_chars(pos.data(), pos.data() + pos.size(), position);
    if (ec != std::errc() || end != pos.data() + pos.size() || position < 0) {
      return Status::Corruption("the Kafka mirror " + dir + " holds a position of " + topic +
                                " that does not parse (" + std::to_string(pos.size()) +
                                " bytes); move it aside to mirror the topic again");
    }
  }
  {
    MutexLock l(&kv->mu_);
    kv->position_ = position;
  }
  auto producer = kafka::NewProducer(brokers, client_id, 30000, OnDelivery);
  if (!producer.ok()) return producer.status();
  kv->impl_->producer = std::move(producer.value());
  auto count = kafka::PartitionCount(kv->impl_->producer.get(), topic, 10000);
  if (!count.ok()) return count.status();
  if (*count != 1)
    return Status::InvalidArgument("Kafka topic " + topic + " must have one partition");
  Status fits = kafka::CheckMirrorPosition(
      kv->impl_->producer.get(), topic, 0, position, dir,
      " Point --kafka-brokers and --kafka-topics at the cluster this data directory mirrors, or "
      "stop the process and move " +
          dir + " aside to mirror the topic as it is now.");
  if (!fits.ok()) return fits;
  auto consumer =
      kafka::NewMirrorConsumer(brokers, client_id + "-mirror", "remit-mirror-" + RandomHex(8));
  if (!consumer.ok()) return consumer.status();
  kv->impl_->consumer = std::move(consumer.value());
  Status s = kafka::Assign(kv->impl_->consumer.get(), topic,
                           {position == 0 ? RD_KAFKA_OFFSET_BEGINNING : position});
  if (!s.ok()) return s;
  kv->mirror_ = std::thread([k = kv.get()] { k->MirrorLoop(); });
  kv->impl_->poller = std::thread([k = kv.get()] {
    while (!k->stop_) rd_kafka_poll(k->impl_->producer.get(), 50);
  });
  return kv;
}

KafkaKv::~KafkaKv() {
  stop_ = true;
  if (impl_ && impl_->poller.joinable()) impl_->poller.join();
  if (mirror_.joinable()) mirror_.join();
  impl_.reset();
  local_.reset();
}

void KafkaKv::MirrorLoop() {
  while (!stop_) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(impl_->consumer.get(), 20);
    if (m == nullptr) continue;
    Pairs batch;
    int64_t next = -1;
    bool reassign = false;
    while (m != nullptr) {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->key != nullptr && m->key_len > 0) {
        batch.emplace_back(std::string(static_cast<const char*>(m->key), m->key_len),
                           std::string(static_cast<const char*>(m->payload), m->len));
        next = m->offset + 1;
      } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        next = m->offset + 1;
      } else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
        reassign = true;
      } else {
        spdlog::warn("Kafka store {}: {}", topic_, rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
      m = batch.size() >= kMirrorBatchPairsMax ? nullptr
                                               : rd_kafka_consumer_poll(impl_->consumer.get(), 0);
    }
    if (next >= 0) {
      batch.emplace_back(kPositionKey, std::to_string(next));
      // Not synced: the topic is the durable copy, and the position travels with the values.
      Status s = local_->Write(batch, /*sync=*/false);
      if (!s.ok()) {
        spdlog::error("Kafka store {} stopped: {}", topic_, s.ToString());
        return;
      }
      {
        MutexLock l(&mu_);
        position_ = next;
      }
      position_cv_.SignalAll();
    }
    if (reassign) {
      // The broker called the mirror's position out of range and fetching stopped there. Start
      // again from the position, never past it; a miss meanwhile is "cannot tell" (Get).
      int64_t at = 0;
      {
        MutexLock l(&mu_);
        at = position_;
      }
      spdlog::error("Kafka store {}: offset {} is out of range on the broker; fetching it again",
                    topic_, at);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      Status s =
          kafka::Assign(impl_->consumer.get(), topic_, {at == 0 ? RD_KAFKA_OFFSET_BEGINNING : at});
      if (!s.ok()) spdlog::error("Kafka store {}: {}", topic_, s.ToString());
    }
  }
}

bool KafkaKv::WaitPosition(int64_t offset, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock l(&mu_);
  while (position_ < offset) {
    if (!position_cv_.WaitUntil(&mu_, deadline)) break;
  }
  return position_ >= offset;
}

Status KafkaKv::Put(const std::string& key, const std::string& value) {
  if (key.empty() || key[0] == '\0') return Status::InvalidArgument("bad key");
  std::promise<Result<int64_t>> delivered;
  auto f = delivered.get_future();
  rd_kafka_resp_err_t err = rd_kafka_producev(
      impl_->producer.get(), RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_PARTITION(0),
      RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&delivered), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::IOError(kafka::Error("Kafka produce", err));
  Result<int64_t> offset = f.get();
  if (!offset.ok()) return offset.status();
  if (!WaitPosition(*offset + 1, std::chrono::seconds(30))) {
    return Status::TimedOut("the Kafka store " + topic_ + " did not take the write in time");
  }
  return Status::OK();
}

Result<KvStore::Value> KafkaKv::Get(const std::string& key) const {
  auto local = [&]() -> Result<Value> { return local_->Get(key); };
  Result<Value> v = local();
  if (!v.ok() || v->has_value() || !fresh_misses_) return v;
  // A miss may be a value another process wrote a moment ago: it counts only once the mirror
  // holds everything the topic holds. If the topic cannot be reached, nobody can say.
  Status s = const_cast<KafkaKv*>(this)->CatchUp(std::chrono::seconds(5));
  if (!s.ok())
    return Status::TimedOut("cannot tell whether " + topic_ + " holds " + key + ": " +
                            s.ToString());
  return local();
}

Status KafkaKv::CatchUp(std::chrono::milliseconds timeout) {
  auto high = kafka::EndOffset(impl_->producer.get(), topic_, 0, static_cast<int>(timeout.count()));
  if (!high.ok()) return high.status();
  if (!WaitPosition(*high, timeout))
    return Status::TimedOut("the Kafka store " + topic_ + " is behind");
  return Status::OK();
}

Status KafkaKv::VerifyStorage() const { return local_->VerifyStorage(); }

}  // namespace remit
