// What the idempotency store keeps of an answer: never a secret.
// Thread safety: free functions; ScrubKeptSecrets as safe as the store's Rewrite.
#pragma once

#include <string>

#include "adapters/storage/kv_store.h"
#include "events/status.h"

namespace remit {

// A JSON answer as the idempotency store keeps it: the fields that hand out a secret (a staff
// token, an invite code and its url, a TOTP secret, an identity, challenge, session or pay
// token, a webhook secret) left out and `"secret_withheld": true` added; other bodies as they are.
std::string WithoutSecrets(const std::string& body);

// Records kept before answers were stripped (remit before issue 14) still hold secrets: rewrites
// each such record without them, once per store (a marker key records that it was done), so
// that no copy of the disk holds a usable token. A store that cannot rewrite (a Kafka topic)
// is left as it is; replays of its old records withhold the secrets all the same.
// Returns how many records were rewritten.
Result<size_t> ScrubKeptSecrets(KvStore* idempotency);

}  // namespace remit
