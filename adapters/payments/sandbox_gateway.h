// SandboxGateway: the embedded test processor of spec/api.md: a tokenizer for card numbers
// (POST /sandbox-gateway/v1/tokens) and a PaymentGateway that behaves by test card number.
//
// It is a separate component from remit's ledger: it keeps its own store (a RocksDB,
// <data>/sandbox-gateway, or on Kafka a mirrored topic). Once it has answered a tokenization it
// keeps no card number and no CVC: a token maps to brand, last 4, expiry, the test card's behaviour
// and, once claimed, its owner (no one else may use it). Charges are kept by idempotency key, so a
// repeated key returns the first answer. Writes are synced. Thread safety: all methods are
// thread-safe.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "adapters/payments/gateway.h"
#include "adapters/storage/kv_store.h"
#include "events/mutex.h"

namespace remit {

class SandboxGateway final : public PaymentGateway {
 public:
  explicit SandboxGateway(std::unique_ptr<KvStore> kv);
  ~SandboxGateway() override;
  // The background check of the processor's store (KvStore::VerifyStorage).
  Status VerifyStorage() const { return kv_->VerifyStorage(); }
  const KvStore* kv() const { return kv_.get(); }

  struct Tokenized {
    std::string token;
    CardInfo card;
  };
  // InvalidArgument (with a reason) for a number that fails the Luhn check, a bad expiry or
  // an expired card, a malformed CVC.
  Result<Tokenized> Tokenize(const std::string& number, int exp_month, int exp_year,
                             const std::string& cvc, int64_t now_us);

  Result<CardInfo> Claim(const std::string& token, const std::string& owner) override;
  Result<ChargeResult> Charge(const std::string& token, const std::string& owner,
                              Cents amount_cents, const std::string& idempotency_key) override;

 private:
  // The token's record, claimed for `owner` (NotFound when unknown or another owner's).
  Result<nlohmann::json> ClaimLocked(const std::string& token, const std::string& owner)
      REMIT_REQUIRES(mu_);

  Mutex mu_;  // serializes claims and charge decisions (read, decide, write)
  std::unique_ptr<KvStore> kv_;
};

bool LuhnValid(const std::string& digits);

}  // namespace remit
