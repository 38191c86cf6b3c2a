// KafkaKv: a KvStore on a single-partition Kafka topic that every process mirrors into a local
// embedded store (storage's KvStore: values and the topic position in one atomic write), so that
// each process reads what any process wrote. Put produces the pair (idempotent producer, acks=all)
// and returns once the local mirror holds it; the last write of a key wins, in topic order. Thread
// safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <string>
#include <thread>

#include "adapters/storage/kv_store.h"
#include "events/mutex.h"

namespace remit {

class KafkaKv final : public KvStore {
 public:
  // `fresh_misses`: a Get that misses first catches up with the topic (a value another process
  // has just written, such as a card token, is then found); the miss costs a broker round trip.
  static Result<std::unique_ptr<KafkaKv>> Open(const std::string& brokers, const std::string& topic,
                                               const std::string& dir, const std::string& client_id,
                                               bool fresh_misses);
  ~KafkaKv() override;

  Status Put(const std::string& key, const std::string& value) override;
  // With fresh misses, a miss that cannot be confirmed against the topic is an error.
  Result<Value> Get(const std::string& key) const override;
  Status VerifyStorage() const override;
  // Waits until the mirror holds everything the topic held when called.
  Status CatchUp(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  KafkaKv() = default;
  void MirrorLoop();
  bool WaitPosition(int64_t offset, std::chrono::milliseconds timeout);

  std::string topic_;
  std::string dir_;
  bool fresh_misses_ = false;
  std::unique_ptr<Impl> impl_;
  // The local mirror: the topic's values and, under kPositionKey, the next offset to take.
  std::unique_ptr<KvStore> local_;
  static constexpr size_t kMirrorBatchPairsMax = 4096;
  mutable Mutex mu_;
  CondVar position_cv_;                         // signalled when position_ moves
  int64_t position_ REMIT_GUARDED_BY(mu_) = 0;  // the next topic offset not yet taken
  std::atomic<bool> stop_{false};
  std::thread mirror_;
};

}  // namespace remit
