// Queries: the read side of the contract built from views, live or as of a past moment: the
// family view, settings, transactions. Used by the API and the command line.
// Thread safety: pure functions over thread-safe stores.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/storage/event_log.h"
#include "adapters/storage/view_store.h"

namespace remit {

// Reads views from the live store or from a point-in-time fold.
struct Reader {
  std::function<std::optional<std::string>(std::string_view)> get;
  // scan(prefix, fn, start): keys under prefix from `start` (empty: the prefix), in order.
  std::function<void(std::string_view,
                     const std::function<bool(std::string_view, std::string_view)>&,
                     std::string_view)>
      scan;
};
Reader LiveReader(ViewStore& v);
Reader MemoryReader(const MemoryViewTxn& m);

// A view record, parsed; nullopt when there is none (or it is not a JSON object).
std::optional<nlohmann::json> Record(const Reader& r, std::string_view key);
// The records the contract's answers are built from, each by its own key layout
// (projections/projections.h).
std::optional<nlohmann::json> PracticeRecord(const Reader& r, const std::string& practice);
// Every practice the views know, whoever registered it.
std::vector<std::string> PracticeIds(const Reader& r);
std::optional<nlohmann::json> StaffTokenRecord(const Reader& r,
                                               const std::string& token_sha256_hex);
std::optional<nlohmann::json> SessionRecord(const Reader& r, const std::string& session_id);
std::optional<nlohmann::json> PaymentRecord(const Reader& r, const std::string& practice,
                                            const std::string& payment_id);
// Inbox items, newest first, at most `limit` (only the unread ones when `only_unread`).
std::vector<nlohmann::json> InboxItems(const Reader& r, const std::string& practice,
                                       bool only_unread, size_t limit);
std::optional<nlohmann::json> InboxItem(const Reader& r, const std::string& practice,
                                        const std::string& notification_id);
// A patient's saved cards, as the views hold them.
std::vector<nlohmann::json> SavedCards(const Reader& r, const std::string& practice,
                                       const std::string& patient_id);

nlohmann::json SettingsJson(const nlohmann::json& practice);
// The family view of spec/api.md for `patient_id`; nullopt when the patient is unknown.
std::optional<nlohmann::json> FamilyView(const Reader& r, const std::string& practice,
                                         const std::string& patient_id);
// Folds the practice's events up to `as_of_us` into memory with the projections of the live
// views: what a replay cut at that moment holds.
Status FoldAsOf(EventLog& log, const std::string& practice, int64_t as_of_us, MemoryViewTxn* out);
// A payment view record as a transaction of the contract.
nlohmann::json TransactionJson(const nlohmann::json& payment);
// One page of the transactions list, newest first: {"items", "next_cursor"}. `cursor` is a
// previous page's next_cursor (empty for the first page); false when it is malformed.
bool TransactionsPage(const Reader& r, const std::string& practice, size_t limit,
                      const std::string& cursor, nlohmann::json* page);

}  // namespace remit
