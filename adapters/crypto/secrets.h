// Secrets: the encrypted store of password hashes and TOTP secrets, and the password and
// TOTP rules.
//
// SecretsStore keeps its values in a KvStore (a RocksDB of its own, <data>/secrets, or on Kafka
// a mirrored topic), each sealed with libsodium's secretbox (XSalsa20-Poly1305, random nonce)
// under a 32-byte key read from a key file (<data>/secrets.key by default), created with mode
// 0600 on first start; processes that share a Kafka cluster share the key file. Open checks
// the key against a value sealed under it when the store was first opened (Corruption when it
// does not open it). Keys of the
// store name the patient and the enrolment attempt (secret_id) that set them, never the secret.
// Thread safety: all methods are thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/storage/kv_store.h"
#include "events/status.h"

namespace remit {

class SecretsStore {
 public:
  // `read_only`: never creates the key file or the check value (for `remit audit verify`).
  static Result<std::unique_ptr<SecretsStore>> Open(std::unique_ptr<KvStore> kv,
                                                    const std::string& key_file,
                                                    bool read_only = false);
  ~SecretsStore();

  Status Put(const std::string& name, const std::string& secret);
  // NotFound when absent; Corruption when it does not open under the key.
  Result<std::string> Get(const std::string& name) const;
  // A keyed fingerprint of `data` (BLAKE2b under a key derived from the secrets key), in hex:
  // the same in every process that shares the key, and useless to someone who has only the
  // disk (a plain hash of a request body holding a password could be guessed offline).
  std::string Fingerprint(std::string_view data) const;
  // The background check of the store beneath (KvStore::VerifyStorage).
  Status VerifyStorage() const;
  const KvStore* kv() const { return kv_.get(); }

 private:
  SecretsStore(std::unique_ptr<KvStore> kv, std::string key);
  std::unique_ptr<KvStore> kv_;
  std::string key_;  // 32 bytes
};

// Readies libsodium (idempotent, thread-safe): call before anything else of this file.
Status InitCrypto();
// Compares in time that depends on the lengths only, never on where the bytes differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Password rules of the contract: 8 to 64 characters, not the username, not a common password
// (a blocklist that ships with remit). Returns the reason when weak.
std::optional<std::string> PasswordWeakness(const std::string& password,
                                            const std::string& username);
// argon2id (libsodium crypto_pwhash_str, interactive limits).
Result<std::string> HashPassword(const std::string& password);
bool VerifyPassword(const std::string& hash, const std::string& password);

// TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30 s steps) with liboath.
std::string NewTotpSecret();  // 20 random bytes
std::string Base32(const std::string& raw);
// The step the code is valid for at `now_s`, one step of drift either way; nullopt if none.
std::optional<int64_t> MatchTotp(const std::string& secret, const std::string& code, int64_t now_s);
// The code for `now_s` (tests and the demo use it).
std::string TotpCode(const std::string& secret, int64_t now_s);

}  // namespace remit
