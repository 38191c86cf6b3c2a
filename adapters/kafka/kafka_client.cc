#include "adapters/kafka/kafka_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace remit::kafka {
namespace {

void Log(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  // syslog levels: 0-3 errors, 4 warnings, the rest informational.
  if (level <= 3) {
    spdlog::error("kafka {} {}: {}", rd_kafka_name(rk), facility, message);
  } else if (level == 4) {
    spdlog::warn("kafka {} {}: {}", rd_kafka_name(rk), facility, message);
  } else {
    spdlog::debug("kafka {} {}: {}", rd_kafka_name(rk), facility, message);
  }
}

bool Set(rd_kafka_conf_t* conf, const char* name, const std::string& value, std::string* error) {
  char err[512];
  if (rd_kafka_conf_set(conf, name, value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
    *error = std::string(name) + ": " + err;
    return false;
  }
  return true;
}

Result<Handle> Create(rd_kafka_type_t type, rd_kafka_conf_t* conf,
                      const std::vector<std::pair<const char*, std::string>>& settings) {
  std::string error;
  for (const auto& [name, value] : settings) {
    if (!Set(conf, name, value, &error)) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument("Kafka client setting " + error);
    }
  }
  rd_kafka_conf_set_log_cb(conf, Log);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status::IOError(std::string("Kafka client: ") + err);
  }
  return Handle(rk);
}

}  // namespace

void HandleDeleter::operator()(rd_kafka_t* rk) const {
  if (rk == nullptr) return;
  if (rd_kafka_type(rk) == RD_KAFKA_CONSUMER) rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

Result<Handle> NewProducer(const std::string& brokers, const std::string& client_id,
                           int message_timeout_ms,
                           void (*dr)(rd_kafka_t*, const rd_kafka_message_t*, void*)) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (dr != nullptr) rd_kafka_conf_set_dr_msg_cb(conf, dr);
  return Create(RD_KAFKA_PRODUCER, conf,
                {{"bootstrap.servers", brokers},
                 {"client.id", client_id},
                 {"enable.idempotence", "true"},
                 {"acks", "all"},
                 {"linger.ms", "1"},
                 {"message.timeout.ms", std::to_string(message_timeout_ms)},
                 // A request to a broker that went away is given up (and retried, which the
                 // idempotent producer makes safe) after seconds, not librdkafka's 30-60 s.
                 {"request.timeout.ms", "5000"},
                 {"socket.timeout.ms", "6000"}});
}

namespace {

std::vector<std::pair<const char*, std::string>> ConsumerSettings(const std::string& brokers,
                                                                  const std::string& client_id,
                                                                  const std::string& group) {
  return {{"bootstrap.servers", brokers},
          {"client.id", client_id},
          {"group.id", group},
          {"enable.auto.commit", "false"},
          {"enable.auto.offset.store", "false"},
          // A write is answered once the mirror has read it back: a short fetch wait
          // keeps that quick (the mock waits it out on every fetch; measured in
          // docs/benchmarks.md), at the cost of more idle fetches.
          {"fetch.wait.max.ms", "2"},
          {"fetch.error.backoff.ms", "20"},
          {"socket.timeout.ms", "6000"},
          // A member that stops heartbeating loses its partitions in this long.
          {"session.timeout.ms", "6000"},
          {"heartbeat.interval.ms", "500"}};
}

}  // namespace

Result<Handle> NewConsumer(const std::string& brokers, const std::string& client_id,
                           const std::string& group,
                           void (*rebalance)(rd_kafka_t*, rd_kafka_resp_err_t,
                                             rd_kafka_topic_partition_list_t*, void*),
                           void* opaque) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rebalance != nullptr) rd_kafka_conf_set_rebalance_cb(conf, rebalance);
  if (opaque != nullptr) rd_kafka_conf_set_opaque(conf, opaque);
  auto h = Create(RD_KAFKA_CONSUMER, conf, ConsumerSettings(brokers, client_id, group));
  if (!h.ok()) return h;
  rd_kafka_poll_set_consumer(h->get());
  return h;
}

Result<Handle> NewMirrorConsumer(const std::string& brokers, const std::string& client_id,
                                 const std::string& group) {
  auto settings = ConsumerSettings(brokers, client_id, group);
  // librdkafka's default ("largest") would jump to the end past records never read.
  settings.emplace_back("auto.offset.reset", "error");
  auto h = Create(RD_KAFKA_CONSUMER, rd_kafka_conf_new(), settings);
  if (!h.ok()) return h;
  rd_kafka_poll_set_consumer(h->get());
  return h;
}

namespace {

// A ListOffsets request for `which` (RD_KAFKA_OFFSET_BEGINNING or _END).
Result<int64_t> ListOffset(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                           int64_t which, int timeout_ms) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = which;
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, list, timeout_ms);
  int64_t offset = list->elems[0].offset;
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = list->elems[0].err;
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::IOError(Error("Kafka list offsets", err));
  if (offset < 0) return Status::IOError("Kafka offsets of " + topic + " not known");
  return offset;
}

}  // namespace

Result<int64_t> EndOffset(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                          int timeout_ms) {
  return ListOffset(rk, topic, partition, RD_KAFKA_OFFSET_END, timeout_ms);
}

Result<int64_t> StartOffset(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                            int timeout_ms) {
  return ListOffset(rk, topic, partition, RD_KAFKA_OFFSET_BEGINNING, timeout_ms);
}

Status CheckMirrorPosition(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                           int64_t taken, const std::string& dir, const std::string& remedy) {
  taken = std::max<int64_t>(0, taken);
  std::string where = topic + " partition " + std::to_string(partition);
  auto low = StartOffset(rk, topic, partition, 10000);
  if (!low.ok()) return low.status();
  if (*low > taken) {
    return Status::Corruption(
        where + " starts at offset " + std::to_string(*low) + ", and the mirror " + dir +
        " has taken it only up to " + std::to_string(taken) +
        ": the messages between were "
        "deleted (retention.ms or retention.bytes), and a remit topic must keep every message "
        "(docs/kafka.md). Restore them from a backup of the topic, or start this process from a "
        "backup of a data directory that took them.");
  }
  if (taken == 0) return Status::OK();
  auto high = EndOffset(rk, topic, partition, 10000);
  if (!high.ok()) return high.status();
  if (taken > *high) {
    return Status::Corruption("the Kafka mirror " + dir + " has taken " + where + " up to offset " +
                              std::to_string(taken) + ", but the topic ends at " +
                              std::to_string(*high) +
                              ": it was deleted and made again, lost "
                              "messages, or these brokers are another cluster's." +
                              remedy);
  }
  return Status::OK();
}

Result<int32_t> PartitionCount(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR_NO_ERROR;
  int32_t count = 0;
  while (count == 0 && std::chrono::steady_clock::now() < deadline) {
    const rd_kafka_metadata_t* md = nullptr;
    last = rd_kafka_metadata(rk, 0, t, &md, 2000);
    if (last == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
        md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      count = md->topics[0].partition_cnt;
    } else if (last == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1) {
      last = md->topics[0].err;
    }
    if (md != nullptr) rd_kafka_metadata_destroy(md);
    if (count == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  rd_kafka_topic_destroy(t);
  if (count == 0) {
    return Status::IOError("Kafka topic " + topic + " is not available (" + rd_kafka_err2str(last) +
                           "); create it first, see docs/kafka.md");
  }
  return count;
}

Status Assign(rd_kafka_t* consumer, const std::string& topic, const std::vector<int64_t>& offsets) {
  rd_kafka_topic_partition_list_t* parts =
      rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (size_t p = 0; p < offsets.size(); ++p) {
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), static_cast<int32_t>(p))->offset =
        offsets[p];
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(consumer, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  return err == RD_KAFKA_RESP_ERR_NO_ERROR ? Status::OK()
                                           : Status::IOError(Error("Kafka assign", err));
}

std::string Header(const rd_kafka_message_t* m, const char* name) {
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  const void* v = nullptr;
  size_t n = 0;
  if (rd_kafka_header_get_last(hdrs, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  return std::string(static_cast<const char*>(v), n);
}

std::string Error(const char* what, rd_kafka_resp_err_t err) {
  return std::string(what) + ": " + rd_kafka_err2str(err);
}

}  // namespace remit::kafka
