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

 private:
  MockKafkaCluster() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string bootstraps_;
};

}  // namespace remit
