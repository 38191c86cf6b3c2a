// Events as JSON, for GET /events, the auditors' exports and whatever else carries events out
// of remit: every field of the envelope and the payload, hashes and ids in lower-case hex, times
// in RFC 3339 with microseconds; except the processor's card tokens (PaymentSubmitted and
// CardSaved `processor_token`), never shown anywhere: the card_id names the card.
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include "events/event.h"

namespace remit {

nlohmann::json PayloadJson(const Payload& payload);
// {"offset", "event_id", "type", "occurred_at", "practice_id", "schema_version",
//  "command_key", "actor", "prev_hash", "hash", "payload"}
nlohmann::json EventJson(uint64_t offset, const Event& event);

}  // namespace remit
