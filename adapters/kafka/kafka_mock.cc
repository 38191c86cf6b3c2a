#include "adapters/kafka/kafka_mock.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <vector>

namespace remit {

struct MockKafkaCluster::Impl {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* cluster = nullptr;
  ~Impl() {
    if (cluster != nullptr) rd_kafka_mock_cluster_destroy(cluster);
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

Result<std::unique_ptr<MockKafkaCluster>> MockKafkaCluster::Start(int brokers) {
  std::unique_ptr<MockKafkaCluster> m(new MockKafkaCluster());
  m->impl_ = std::make_unique<Impl>();
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only hosts the cluster; keep it quiet.
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  m->impl_->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (m->impl_->rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status::IOError(std::string("librdkafka: ") + err);
  }
  m->impl_->cluster = rd_kafka_mock_cluster_new(m->impl_->rk, brokers);
  if (m->impl_->cluster == nullptr) return Status::IOError("librdkafka: no mock cluster");
  m->bootstraps_ = rd_kafka_mock_cluster_bootstraps(m->impl_->cluster);
  m->brokers_ = brokers;
  return m;
}

namespace {
// Kafka protocol API key of Produce (librdkafka's RD_KAFKAP_Produce is not in its public headers).
constexpr int16_t kProduceApiKey = 0;

Status Check(rd_kafka_resp_err_t e, const char* what) {
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::OK();
  return Status::IOError(std::string(what) + ": " + rd_kafka_err2str(e));
}
}  // namespace

Status MockKafkaCluster::CreateTopic(const std::string& topic, int partitions) {
  return Check(rd_kafka_mock_topic_create(impl_->cluster, topic.c_str(), partitions,
                                          brokers_ < 3 ? brokers_ : 3),
               "create topic");
}

Status MockKafkaCluster::SetBrokerDown(int broker_id) {
  return Check(rd_kafka_mock_broker_set_down(impl_->cluster, broker_id), "broker down");
}

Status MockKafkaCluster::SetBrokerUp(int broker_id) {
  return Check(rd_kafka_mock_broker_set_up(impl_->cluster, broker_id), "broker up");
}

Status MockKafkaCluster::SetBrokerRtt(int broker_id, int rtt_ms) {
  return Check(rd_kafka_mock_broker_set_rtt(impl_->cluster, broker_id, rtt_ms), "broker rtt");
}

void MockKafkaCluster::PushProduceErrors(int count, int error) {
  std::vector<rd_kafka_resp_err_t> errors(static_cast<size_t>(count),
                                          static_cast<rd_kafka_resp_err_t>(error));
  rd_kafka_mock_push_request_errors_array(impl_->cluster, kProduceApiKey, errors.size(),
                                          errors.data());
}

Status MockKafkaCluster::SetPartitionLeader(const std::string& topic, int partition,
                                            int broker_id) {
  return Check(
      rd_kafka_mock_partition_set_leader(impl_->cluster, topic.c_str(), partition, broker_id),
      "partition leader");
}

MockKafkaCluster::~MockKafkaCluster() = default;

}  // namespace remit
