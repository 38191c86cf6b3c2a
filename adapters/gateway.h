// PaymentGateway: the card processor as remit sees it. remit only ever holds the processor's
// tokens, never a card number. A real processor replaces the sandbox behind this interface.
// Thread safety: implementations are thread-safe.
#pragma once

#include <string>

#include "events/status.h"
#include "events/types.h"

namespace remit {

struct CardInfo {
  std::string brand, last4;
  int32_t exp_month = 0, exp_year = 0;
};

struct ChargeResult {
  bool succeeded = false;
  std::string processor_ref;   // when succeeded
  std::string decline_reason;  // when declined
};

class PaymentGateway {
 public:
  static constexpr int kChargeAttemptsMax = 5;

  virtual ~PaymentGateway() = default;
  // What the processor knows of a token; NotFound when the token is unknown.
  virtual Result<CardInfo> Describe(const std::string& token) = 0;
  // Charges `amount_cents` to the token. The same idempotency key always gives the first
  // answer and never charges twice. TimedOut: the outcome is unknown; call again with the same
  // key.
  virtual Result<ChargeResult> Charge(const std::string& token, Cents amount_cents,
                                      const std::string& idempotency_key) = 0;
};

// Charges with retries of timeouts under the same key (at most kChargeAttemptsMax attempts).
Result<ChargeResult> ChargeWithRetry(PaymentGateway& gateway, const std::string& token,
                                     Cents amount_cents, const std::string& idempotency_key);

}  // namespace remit
