// MockKafkaCluster: librdkafka's built-in mock cluster (in this process), for trying Kafka
// mode without a broker (`remit kafka-dev`) and for tests. Not a durable store.
// Thread safety: Start and destruction from one thread; the cluster runs its own threads.
#pragma once

#include <memory>
#include <string>

#include "events/status.h"

namespace remit {

class MockKafkaCluster {
 public:
  static constexpr int kBrokersDefault = 3;
  static Result<std::unique_ptr<MockKafkaCluster>> Start(int brokers = kBrokersDefault);
  ~MockKafkaCluster();
  // "host:port,host:port,...": what clients take as bootstrap.servers.
  const std::string& bootstrap_servers() const { return bootstraps_; }

  // Creates a topic (the mock has no CreateTopics API); replication is min(3, brokers).
  Status CreateTopic(const std::string& topic, int partitions);
  // Faults, for tests. Broker ids run from 1 to the broker count.
  Status SetBrokerDown(int broker_id);
  Status SetBrokerUp(int broker_id);
  Status SetBrokerRtt(int broker_id, int rtt_ms);  // -1: every broker
  // The next `count` Produce requests (to any broker) fail with `error` (an rd_kafka_resp_err_t).
  void PushProduceErrors(int count, int error);
  Status SetPartitionLeader(const std::string& topic, int partition, int broker_id);
  int brokers() const { return brokers_; }

 private:
  MockKafkaCluster() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string bootstraps_;
  int brokers_ = 0;
};

}  // namespace remit
