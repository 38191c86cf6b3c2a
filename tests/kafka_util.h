// Kafka helpers shared by the tests: one librdkafka mock cluster per test process, and fresh
// topics on it.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "adapters/kafka/kafka_mock.h"

namespace remit::testing {

inline MockKafkaCluster& Cluster() {
  static std::unique_ptr<MockKafkaCluster> cluster = [] {
    auto c = MockKafkaCluster::Start(3);
    if (!c.ok()) std::abort();
    return std::move(c.value());
  }();
  return *cluster;
}

// A topic of its own for each caller (names carry the pid: a crash child shares the cluster).
inline std::string NewTopic(const std::string& prefix, int partitions) {
  static int n = 0;
  std::string topic = prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(++n);
  if (!Cluster().CreateTopic(topic, partitions).ok()) std::abort();
  return topic;
}

}  // namespace remit::testing
