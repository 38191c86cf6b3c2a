// KafkaMembership: which practices this process writes for, and who writes for the others.
//
// The processes form one consumer group on the events topic. The partitions the group gives a
// process are the practices it is the single writer for; it takes none of their messages
// through the group (the log's mirror reads every partition) and pauses them. Before it owns
// a newly assigned partition it catches up (the mirror to the partition's high watermark, the
// stores beside the log), then announces itself on the owners topic (key = partition, value =
// its URL). Every process reads the owners topic, so any process can forward a command to the
// practice's owner. A revoked partition stops being owned at once. Two writers for a moment
// (a revoked owner's last append in flight) cannot fork a practice: the log refuses the second
// unit on a head (adapters/kafka/kafka_event_log.h).
// Thread safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "adapters/kafka/kafka_event_log.h"
#include "events/mutex.h"

namespace remit {

struct MembershipOptions {
  std::string brokers;
  std::string events_topic;
  std::string owners_topic;
  std::string group = "remit";
  std::string client_id = "remit";
  std::function<std::string()> url;  // where peers reach this process
  // Called, from the membership's threads and never under its lock, with every URL announced
  // so far (this process's among them) each time one changes.
  std::function<void(const std::vector<std::string>&)> on_owners;
};

class KafkaMembership {
 public:
  // `prepare(p)` runs before partition p is owned (catch up what the writer needs);
  // `owned(p)` after it is (finish work a previous owner left open).
  static Result<std::unique_ptr<KafkaMembership>> Start(const MembershipOptions& options,
                                                        KafkaEventLog* log,
                                                        std::function<Status(int32_t)> prepare,
                                                        std::function<void(int32_t)> owned);
  ~KafkaMembership();

  bool Owns(std::string_view practice) const;
  // The URL last announced by the practice's owner; empty when none yet.
  std::string OwnerUrl(std::string_view practice) const;
  std::vector<int32_t> Owned() const;
  std::string url() const { return options_.url(); }

  // librdkafka's rebalance callback (through a free function), also called while the group
  // consumer closes; not for callers.
  void OnRebalanceThunk(void* rk, int err, void* partitions);

 private:
  struct Impl;
  KafkaMembership() = default;
  void GroupLoop();
  void PrepareLoop();
  void OwnersLoop();
  Status Announce(int32_t partition);
  // Sets partition's owner; calls on_owners when that changes the URLs known.
  void SetOwner(int32_t partition, std::string url);

  MembershipOptions options_;
  KafkaEventLog* log_ = nullptr;
  std::function<Status(int32_t)> prepare_;
  std::function<void(int32_t)> owned_cb_;
  std::unique_ptr<Impl> impl_;

  mutable Mutex mu_;
  CondVar prepare_cv_;                                // signalled when to_prepare_ grows
  std::set<int32_t> assigned_ REMIT_GUARDED_BY(mu_);  // given by the group
  std::set<int32_t> ready_ REMIT_GUARDED_BY(mu_);     // assigned, caught up and announced
  std::deque<int32_t> to_prepare_ REMIT_GUARDED_BY(mu_);
  std::map<int32_t, std::string> owners_ REMIT_GUARDED_BY(mu_);  // partition -> announced URL
  std::atomic<bool> stop_{false};
  std::thread group_thread_;
  std::thread prepare_thread_;
  std::thread owners_thread_;
};

}  // namespace remit
