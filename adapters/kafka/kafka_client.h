// Small helpers over librdkafka's C API shared by the Kafka adapters: client handles with
// remit's settings, topic metadata, assignment, librdkafka's log routed to spdlog.
// Thread safety: as librdkafka's handles (thread-safe).
#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <vector>

#include "events/status.h"

namespace remit::kafka {

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const;  // closes a consumer first
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

// An idempotent producer (acks=all): retries cannot reorder or, on a real broker, duplicate.
// `dr` is the delivery report callback (may be null).
Result<Handle> NewProducer(const std::string& brokers, const std::string& client_id,
                           int message_timeout_ms,
                           void (*dr)(rd_kafka_t*, const rd_kafka_message_t*, void*));
// A consumer for rd_kafka_assign (manual positions, no commits) or, with `group` set and
// `rebalance` given, a member of a consumer group.
Result<Handle> NewConsumer(const std::string& brokers, const std::string& client_id,
                           const std::string& group,
                           void (*rebalance)(rd_kafka_t*, rd_kafka_resp_err_t,
                                             rd_kafka_topic_partition_list_t*, void*) = nullptr,
                           void* opaque = nullptr);
// A consumer that mirrors partitions from positions it keeps itself (rd_kafka_assign): an
// offset the broker calls out of range is an error message (RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET;
// the partition stops fetching until it is assigned again), never a silent jump to the end
// past records the mirror has not read.
Result<Handle> NewMirrorConsumer(const std::string& brokers, const std::string& client_id,
                                 const std::string& group);
// The topic's partition count; waits up to `timeout_ms` for it to appear. The error names how
// to create it.
Result<int32_t> PartitionCount(rd_kafka_t* rk, const std::string& topic, int timeout_ms);
// The partition's end offset (its high watermark), asked of its leader. Not through
// rd_kafka_query_watermark_offsets: in librdkafka before 2.3 it ignores its timeout and waits
// for as long as the leader is away (librdkafka#2588, fixed by #4460).
Result<int64_t> EndOffset(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                          int timeout_ms);
// The partition's first offset still held (above 0 once retention has deleted messages).
Result<int64_t> StartOffset(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                            int timeout_ms);
// Corruption when a mirror that has taken `partition` up to `taken` (RD_KAFKA_OFFSET_BEGINNING:
// nothing yet) does not fit the topic as it is: the topic ends before `taken` (deleted and made
// again, or another cluster's), or starts after it (the messages between were deleted by
// retention, and mirroring from the first one held would leave them out). The message names
// the mirror's `dir`, the offsets, and ends with `remedy`.
Status CheckMirrorPosition(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                           int64_t taken, const std::string& dir, const std::string& remedy);
// Assigns partitions [0, offsets.size()) of `topic`, each from its offset.
Status Assign(rd_kafka_t* consumer, const std::string& topic, const std::vector<int64_t>& offsets);
// The header's last value, or empty.
std::string Header(const rd_kafka_message_t* m, const char* name);
std::string Error(const char* what, rd_kafka_resp_err_t err);

}  // namespace remit::kafka
