#include "adapters/kafka_mock.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

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
  return m;
}

MockKafkaCluster::~MockKafkaCluster() = default;

}  // namespace remit
