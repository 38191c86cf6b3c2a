#include "adapters/kafka/kafka_membership.h"

#include <spdlog/spdlog.h>

#include <future>

#include "adapters/kafka/kafka_client.h"

namespace remit {

struct KafkaMembership::Impl {
  kafka::Handle group;     // member of the consumer group on the events topic
  kafka::Handle owners;    // reads the owners topic
  kafka::Handle producer;  // announces
};

namespace {

void Rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
               void* opaque) {
  static_cast<KafkaMembership*>(opaque)->OnRebalanceThunk(rk, static_cast<int>(err), parts);
}

void OnAnnounced(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  auto* done = static_cast<std::promise<rd_kafka_resp_err_t>*>(m->_private);
  if (done != nullptr) done->set_value(m->err);
}

}  // namespace

Result<std::unique_ptr<KafkaMembership>> KafkaMembership::Start(
    const MembershipOptions& options, KafkaEventLog* log, std::function<Status(int32_t)> prepare,
    std::function<void(int32_t)> owned) {
  std::unique_ptr<KafkaMembership> m(new KafkaMembership());
  m->options_ = options;
  m->log_ = log;
  m->prepare_ = std::move(prepare);
  m->owned_cb_ = std::move(owned);
  m->impl_ = std::make_unique<Impl>();
  auto producer =
      kafka::NewProducer(options.brokers, options.client_id + "-owners", 10000, OnAnnounced);
  if (!producer.ok()) return producer.status();
  m->impl_->producer = std::move(producer.value());
  auto count = kafka::PartitionCount(m->impl_->producer.get(), options.owners_topic, 10000);
  if (!count.ok()) return count.status();
  auto owners = kafka::NewConsumer(options.brokers, options.client_id + "-owners",
                                   "remit-owners-" + RandomHex(8));
  if (!owners.ok()) return owners.status();
  m->impl_->owners = std::move(owners.value());
  Status s =
      kafka::Assign(m->impl_->owners.get(), options.owners_topic,
                    std::vector<int64_t>(static_cast<size_t>(*count), RD_KAFKA_OFFSET_BEGINNING));
  if (!s.ok()) return s;
  auto group =
      kafka::NewConsumer(options.brokers, options.client_id, options.group, Rebalance, m.get());
  if (!group.ok()) return group.status();
  m->impl_->group = std::move(group.value());
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, options.events_topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(m->impl_->group.get(), topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::IOError(kafka::Error("Kafka subscribe", err));
  m->owners_thread_ = std::thread([p = m.get()] { p->OwnersLoop(); });
  m->prepare_thread_ = std::thread([p = m.get()] { p->PrepareLoop(); });
  m->group_thread_ = std::thread([p = m.get()] { p->GroupLoop(); });
  return m;
}

KafkaMembership::~KafkaMembership() {
  stop_ = true;
  prepare_cv_.SignalAll();
  if (group_thread_.joinable()) group_thread_.join();
  if (prepare_thread_.joinable()) prepare_thread_.join();
  if (owners_thread_.joinable()) owners_thread_.join();
  impl_.reset();  // the group consumer leaves the group as it closes
}

void KafkaMembership::OnRebalanceThunk(void* handle, int err, void* list) {
  auto* parts = static_cast<rd_kafka_topic_partition_list_t*>(list);
  // The handle librdkafka passes: while the consumer closes, impl_ is already going away.
  auto* rk = static_cast<rd_kafka_t*>(handle);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    rd_kafka_assign(rk, parts);
    // The group only decides ownership; the log's mirror reads the messages.
    rd_kafka_pause_partitions(rk, parts);
    MutexLock l(&mu_);
    for (int i = 0; i < parts->cnt; ++i) {
      int32_t p = parts->elems[i].partition;
      if (assigned_.insert(p).second) to_prepare_.push_back(p);
    }
    spdlog::info("kafka: assigned {} partition(s)", parts->cnt);
    prepare_cv_.SignalAll();
  } else {
    {
      MutexLock l(&mu_);
      for (int i = 0; i < parts->cnt; ++i) {
        assigned_.erase(parts->elems[i].partition);
        ready_.erase(parts->elems[i].partition);
      }
    }
    spdlog::info("kafka: revoked {} partition(s)", parts->cnt);
    rd_kafka_assign(rk, nullptr);
  }
}

void KafkaMembership::GroupLoop() {
  while (!stop_) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(impl_->group.get(), 100);
    if (m != nullptr) rd_kafka_message_destroy(m);  // paused: only errors arrive
  }
}

void KafkaMembership::PrepareLoop() {
  for (;;) {
    int32_t p;
    {
      MutexLock l(&mu_);
      while (!stop_ && to_prepare_.empty()) prepare_cv_.Wait(&mu_);
      if (stop_) return;
      p = to_prepare_.front();
      to_prepare_.pop_front();
      if (!assigned_.contains(p)) continue;
    }
    Status s = prepare_(p);
    if (s.ok()) s = Announce(p);
    if (!s.ok()) {
      spdlog::warn("kafka: partition {} not ready yet: {}", p, s.ToString());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      MutexLock l(&mu_);
      if (assigned_.contains(p)) to_prepare_.push_back(p);
      continue;
    }
    {
      MutexLock l(&mu_);
      if (!assigned_.contains(p)) continue;
      ready_.insert(p);
    }
    owned_cb_(p);
  }
}

Status KafkaMembership::Announce(int32_t partition) {
  std::string key = std::to_string(partition);
  std::string value = options_.url();
  std::promise<rd_kafka_resp_err_t> done;
  auto f = done.get_future();
  rd_kafka_resp_err_t err = rd_kafka_producev(
      impl_->producer.get(), RD_KAFKA_V_TOPIC(options_.owners_topic.c_str()),
      RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key.data(), key.size()),
      RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_OPAQUE(&done), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::IOError(kafka::Error("announce", err));
  while (f.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
    rd_kafka_poll(impl_->producer.get(), 0);
  }
  err = f.get();
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::IOError(kafka::Error("announce", err));
  SetOwner(partition, value);  // ours at once, without waiting to read it back
  return Status::OK();
}

void KafkaMembership::SetOwner(int32_t partition, std::string url) {
  std::vector<std::string> urls;
  {
    MutexLock l(&mu_);
    std::string& owner = owners_[partition];
    if (owner == url) return;
    std::set<std::string> before;
    for (const auto& [p, u] : owners_) {
      if (!u.empty()) before.insert(u);
    }
    owner = std::move(url);
    std::set<std::string> after;
    for (const auto& [p, u] : owners_) {
      if (!u.empty()) after.insert(u);
    }
    if (before == after) return;
    urls.assign(after.begin(), after.end());
  }
  if (options_.on_owners) options_.on_owners(urls);
}

void KafkaMembership::OwnersLoop() {
  while (!stop_) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(impl_->owners.get(), 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->key != nullptr) {
      std::string key(static_cast<const char*>(m->key), m->key_len);
      std::string url(static_cast<const char*>(m->payload), m->len);
      SetOwner(std::atoi(key.c_str()), std::move(url));
    }
    rd_kafka_message_destroy(m);
  }
}

bool KafkaMembership::Owns(std::string_view practice) const {
  int32_t p = log_->PartitionOf(practice);
  MutexLock l(&mu_);
  return ready_.contains(p);
}

std::string KafkaMembership::OwnerUrl(std::string_view practice) const {
  int32_t p = log_->PartitionOf(practice);
  MutexLock l(&mu_);
  auto it = owners_.find(p);
  return it == owners_.end() ? std::string() : it->second;
}

std::vector<int32_t> KafkaMembership::Owned() const {
  MutexLock l(&mu_);
  return std::vector<int32_t>(ready_.begin(), ready_.end());
}

}  // namespace remit
