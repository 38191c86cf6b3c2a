// Business rejections: what the engine answers when a command may not happen. Values with
// stable codes (the contract's `code`), carried to the caller, never exceptions or Statuses.
// Thread safety: values.
#pragma once

#include <string>
#include <string_view>

namespace remit::engine {

enum class Reject {
  kPracticeExists,
  kPracticeNotFound,
  kInvalidGuarantor,
  kPatientNotFound,
  kChargeConflict,
  kTokenNotFound,
  kValidationFailed,
  // Portal sign-in.
  kInvalidInvite,
  kUsernameTaken,
  kIdentityNotVerified,
  kLockedOut,
  kInvalidCredentials,
  kInvalidCode,
  kSessionNotFound,
  // Payments.
  kPaymentsDisabled,
  kAmountExceedsBalance,
  kInvalidAmount,
  kCardNotFound,
  kPaymentNotFound,
  kNotPostable,
  kNotificationNotFound,
};
std::string_view RejectCode(Reject r);

struct Rejection {
  Reject reason;
  std::string detail;
};

}  // namespace remit::engine
