// The projections: pure folds from events to view updates.
//
// Each projection owns the keys under its prefix ("<name>/") and is applied to every event in
// log order. It must be deterministic: rebuilding it from offset 0 gives the same bytes as the
// live view. The runner (adapters/app/projection_runner) stores each projection's checkpoint in the
// same write as its data.
//
// Keys (ids are [A-Za-z0-9_-], so '/' separates safely):
//   practices/p/<practice>                  JSON practice and settings
//   practices/t/<sha256 hex of token>       JSON {practice_id, token_id, role, label, revoked}
//   practices/i/<practice>/<token_id>       sha256 hex of that token
//   accounts/p/<practice>/<patient>         JSON patient
//   accounts/d/<practice>/<guarantor>/<dependent>  ""
//   accounts/b/<practice>/<patient>         balance, cents (EncodeCents)
//   accounts/v/<practice>/<invite>          JSON invite
//   payments/p/<practice>/<payment>         JSON payment (the transaction row)
//   payments/t/<practice>/<inverted time>/<payment>   payment id (transactions, newest first)
//   payments/q/<practice>/<patient>/<payment>         succeeded, not yet posted
//   payments/n/<practice>/<inverted time>/<notification>  JSON inbox item
//   payments/m/<practice>/<notification>    key of that inbox item
//   payments/c/<practice>/<patient>/<card>  JSON card on file
//   payments/s/<session id>                 JSON portal session
// A practice's own events are found through the event log's index by key, not a projection.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "events/event.h"
#include "projections/view.h"

namespace remit::projections {

class Projection {
 public:
  virtual ~Projection() = default;
  virtual std::string_view name() const = 0;
  virtual void Apply(ViewTxn& txn, uint64_t offset, const Event& event) = 0;
  // Called a few events before Apply(event): hints the keys Apply will read (ViewTxn::Prefetch).
  virtual void Prefetch(ViewTxn& /*txn*/, const Event& /*event*/) {}
};

// Every projection of remit, in a fixed order.
std::vector<std::unique_ptr<Projection>> AllProjections();

// Key builders shared with readers (adapters/app/queries).
std::string PracticeKey(std::string_view practice);
std::string TokenKey(std::string_view token_sha_hex);
std::string TokenIdKey(std::string_view practice, std::string_view token_id);
std::string PatientKey(std::string_view practice, std::string_view patient);
std::string DependentPrefix(std::string_view practice, std::string_view guarantor);
std::string BalanceKey(std::string_view practice, std::string_view patient);
std::string PaymentKey(std::string_view practice, std::string_view payment);
std::string TransactionPrefix(std::string_view practice);
std::string TransactionKey(std::string_view practice, int64_t submitted_at_us,
                           std::string_view payment);
std::string PendingPrefix(std::string_view practice, std::string_view patient);
std::string InboxPrefix(std::string_view practice);
std::string InboxItemKey(std::string_view practice, int64_t created_at_us,
                         std::string_view notification);
std::string InboxIdKey(std::string_view practice, std::string_view notification);
std::string CardPrefix(std::string_view practice, std::string_view patient);
std::string SessionKey(std::string_view session_id);

}  // namespace remit::projections
