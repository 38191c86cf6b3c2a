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
  // Binds a new token to `owner` (who pays with it: a practice's family, FamilyOwner) and
  // describes it, as a processor attaches a card to its customer; the same owner again gets
  // the description. NotFound when the token is unknown or another owner's: a token read
  // anywhere (an old export, a log) pays for no one else.
  virtual Result<CardInfo> Claim(const std::string& token, const std::string& owner) = 0;
  // Charges `amount_cents` to the token for `owner` (a token nobody claimed yet is claimed;
  // another owner's is declined "invalid_token"). The same idempotency key always gives the
  // first answer and never charges twice. TimedOut: the outcome is unknown; call again with the
  // same key.
  virtual Result<ChargeResult> Charge(const std::string& token, const std::string& owner,
                                      Cents amount_cents, const std::string& idempotency_key) = 0;
};

// The owner of a family's cards at the processor: the practice and the family's guarantor.
inline std::string FamilyOwner(const std::string& practice, const std::string& guarantor) {
  return practice + "/" + guarantor;
}

// Charges with retries of timeouts under the same key (at most kChargeAttemptsMax attempts).
Result<ChargeResult> ChargeWithRetry(PaymentGateway& gateway, const std::string& token,
                                     const std::string& owner, Cents amount_cents,
                                     const std::string& idempotency_key);

}  // namespace remit
